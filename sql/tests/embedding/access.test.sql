-- Who may do what in the embedding pipeline; row-level security of chunks and of
-- search_episodic_memory(vector); query embeddings; pg_cron jobs; health().
BEGIN;
SELECT plan(36);

-- ---------------------------------------------------------------- privileges
SELECT ok(
    NOT has_function_privilege('memory_agent', 'memory.claim_embedding_batch(text, integer, interval, integer, text[])', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.complete_embedding_batch(text, uuid[], integer[], vector[])', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.fail_embedding_batch(text, uuid[], text)', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.release_embedding_batch(text, uuid[])', 'EXECUTE'),
    'agents cannot claim, complete, fail or release embedding jobs'
);
SELECT ok(
    NOT has_function_privilege('memory_agent', 'memory.requeue_dead(bigint[])', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.set_active_model(text)', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.reembed(boolean)', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.reap_expired_leases()', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.register_embedding_model(text, text, integer, integer, integer, integer)', 'EXECUTE'),
    'agents cannot run the operators'' functions'
);
SELECT ok(
    has_function_privilege('memory_worker', 'memory.claim_embedding_batch(text, integer, interval, integer, text[])', 'EXECUTE')
    AND has_function_privilege('memory_worker', 'memory.complete_embedding_batch(text, uuid[], integer[], vector[])', 'EXECUTE')
    AND has_function_privilege('memory_worker', 'memory.fail_embedding_batch(text, uuid[], text)', 'EXECUTE')
    AND has_function_privilege('memory_worker', 'memory.release_worker_leases(text)', 'EXECUTE')
    AND has_function_privilege('memory_worker', 'memory.embedding_worker_heartbeat(text, text, text[], text, integer, text, text, jsonb)', 'EXECUTE'),
    'the daemon''s role runs the queue functions'
);
SELECT ok(
    NOT has_function_privilege('memory_worker', 'memory.requeue_dead(bigint[])', 'EXECUTE')
    AND NOT has_function_privilege('memory_worker', 'memory.set_active_model(text)', 'EXECUTE')
    AND NOT has_function_privilege('memory_worker', 'memory.search_episodic_memory(vector, integer, double precision)', 'EXECUTE')
    AND NOT has_function_privilege('memory_worker', 'memory.embed_query(text, text)', 'EXECUTE'),
    'the daemon''s role runs nothing but the queue and cache functions'
);
SELECT ok(
    NOT has_table_privilege('memory_worker', 'memory.embedding_jobs', 'SELECT')
    AND NOT has_table_privilege('memory_worker', 'memory.chunks', 'INSERT')
    AND NOT has_table_privilege('memory_worker', 'memory.episodes', 'SELECT'),
    'the daemon''s role has no table privileges'
);
SELECT ok(
    has_function_privilege('memory_admin', 'memory.requeue_dead(bigint[])', 'EXECUTE')
    AND has_function_privilege('memory_admin', 'memory.set_active_model(text)', 'EXECUTE')
    AND has_function_privilege('memory_admin', 'memory.reembed(boolean)', 'EXECUTE')
    AND has_function_privilege('memory_admin', 'memory.health()', 'EXECUTE'),
    'operators run requeue_dead, set_active_model, reembed and health'
);
SELECT ok(
    NOT has_table_privilege('memory_agent', 'memory.embedding_jobs', 'INSERT')
    AND NOT has_table_privilege('memory_agent', 'memory.chunks', 'INSERT')
    AND NOT has_table_privilege('memory_agent', 'memory.chunks', 'UPDATE')
    AND NOT has_table_privilege('memory_agent', 'memory.query_embedding_cache', 'SELECT')
    AND NOT has_table_privilege('memory_agent', 'memory.embedding_settings', 'SELECT'),
    'agents only read their chunks and jobs; the cache and settings are closed to them'
);
SELECT is(
    (SELECT prosecdef FROM pg_proc WHERE oid = 'memory.search_episodic_memory(vector, integer, double precision)'::regprocedure),
    false,
    'search_episodic_memory(vector, ...) is SECURITY INVOKER'
);
SELECT is(
    ARRAY(SELECT c.relname::text FROM pg_class AS c
          WHERE c.relnamespace = 'memory'::regnamespace
            AND c.relname IN ('embedding_models', 'chunks', 'pooled_embeddings', 'embedding_jobs',
                              'query_embedding_cache', 'embedding_workers', 'embedding_settings')
            AND c.relrowsecurity
            AND EXISTS (SELECT 1 FROM pg_policy AS p WHERE p.polrelid = c.oid)
          ORDER BY 1),
    ARRAY['chunks', 'embedding_jobs', 'embedding_models', 'embedding_settings', 'embedding_workers',
          'pooled_embeddings', 'query_embedding_cache'],
    'every table of the pipeline has row-level security and a policy'
);

-- ---------------------------------------------------------------- pg_cron
SELECT is(
    (SELECT schedule FROM cron.job WHERE jobname = 'memory-reap-leases'), '* * * * *',
    'pg_cron returns expired leases every minute'
);
SELECT is(
    (SELECT command FROM cron.job WHERE jobname = 'memory-reap-leases'), 'SELECT memory.reap_expired_leases()',
    'the reaper job calls memory.reap_expired_leases()'
);
SELECT is(
    (SELECT command FROM cron.job WHERE jobname = 'memory-prune-query-cache'), 'SELECT memory.prune_query_cache()',
    'pg_cron prunes the query embedding cache'
);

-- ---------------------------------------------------------------- RLS and search
SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content, tags) VALUES ('alpha north', '{a}'), ('alpha east', '{a}');
SELECT tests.act_as('Beta');
INSERT INTO memory.episodes (content, tags) VALUES ('beta north', '{b}');
RESET SESSION AUTHORIZATION;

SELECT memory.register_embedding_model('tap-3d', 'tap-source', 3, 64, 16, 4);
SELECT memory.set_active_model('tap-3d');
SELECT cmp_ok(memory.reembed(), '>=', 3, 'reembed() queues every episode for the new model');
-- a fake daemon: 'north' -> [1,0,0], 'east' -> [0,1,0], anything else -> [0,0,1]
DO $$
DECLARE
    lid uuid [];
    idx integer [];
    vec vector [];
BEGIN
    LOOP
        SELECT array_agg(c.lease_id), array_agg(c.chunk_index),
               array_agg(CASE WHEN c.chunk_text LIKE '%north%' THEN '[1,0,0]'::vector
                              WHEN c.chunk_text LIKE '%east%' THEN '[0,1,0]'::vector
                              ELSE '[0,0,1]'::vector END)
        INTO lid, idx, vec
        FROM memory.claim_embedding_batch('tap-worker', 1000, '1 minute', 100000000, '{tap-3d}') AS c;
        EXIT WHEN lid IS NULL;
        PERFORM memory.complete_embedding_batch('tap-worker', lid, idx, vec);
    END LOOP;
END
$$;
SELECT is((SELECT name FROM memory.embedding_models WHERE is_serving), 'tap-3d', 'the test model now serves search');

SELECT tests.act_as('Alpha');
SELECT is(
    ARRAY(SELECT content FROM memory.search_episodic_memory('[1,0,0]'::vector, 10, 0.5)),
    ARRAY['alpha north'],
    'an agent finds its own nearest episode, never another agent''s'
);
SELECT is(
    ARRAY(SELECT content FROM memory.search_episodic_memory('[1,1,0]'::vector, 10, 0.5) ORDER BY content),
    ARRAY['alpha east', 'alpha north'],
    'every own episode above the threshold'
);
SELECT is(
    ARRAY(SELECT content FROM memory.search_episodic_memory('[1,0.2,0]'::vector, 10, -1)),
    ARRAY['alpha north', 'alpha east'],
    'results come best first'
);
SELECT is((SELECT count(*) FROM memory.search_episodic_memory('[1,0.2,0]'::vector, 1, -1)), 1::bigint,
    'limit_results caps the results');
SELECT is((SELECT count(*) FROM memory.search_episodic_memory('[0,0,1]'::vector, 10, 0.7)), 0::bigint,
    'nothing under the similarity threshold');
SELECT ok(
    (SELECT similarity_score BETWEEN 0.999 AND 1.001 AND tags = '{a}' AND "timestamp" IS NOT NULL
     FROM memory.search_episodic_memory('[1,0,0]'::vector, 1, 0.5)),
    'results carry the similarity, timestamp and tags'
);
SELECT is((SELECT count(*) FROM memory.chunks), 2::bigint, 'an agent reads its own chunks only');
SELECT is((SELECT count(*) FROM memory.pooled_embeddings), 2::bigint, 'an agent reads its own pooled vectors only');
SELECT is(
    memory.episode_embedding((SELECT episode_id FROM memory.episodes WHERE content = 'alpha north')),
    '[1,0,0]'::vector,
    'episode_embedding() gives an episode''s pooled vector'
);
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('[1,0]'::vector) $$, '22023', NULL,
    'a query vector of another dimension is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('[1,0,0]'::vector, 0) $$, '22023', NULL,
    'a limit below 1 is refused');
SELECT throws_ok($$ SELECT count(*) FROM memory.query_embedding_cache $$, '42501', NULL,
    'an agent cannot read the query embedding cache');
SELECT throws_ok($$ SELECT * FROM memory.claim_embedding_batch('sneaky') $$, '42501', NULL,
    'an agent cannot claim embedding jobs');
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(SELECT content FROM memory.search_episodic_memory('[1,0,0]'::vector, 10, 0.5)),
    ARRAY['beta north'],
    'the other agent finds only its own'
);
SELECT is(
    memory.episode_embedding((SELECT episode_id FROM memory.episodes WHERE content = 'beta north')),
    '[1,0,0]'::vector,
    'its own pooled vector'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- query embeddings
INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)
SELECT model_id, sha256('what is up north?'::bytea), '[0.6,0.8,0]' FROM memory.embedding_models WHERE name = 'tap-3d';
SELECT tests.act_as('Alpha');
SELECT is(memory.embed_query('what is up north?'), '[0.6,0.8,0]'::vector,
    'embed_query() answers from the cache by text hash and model');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT hits FROM memory.query_embedding_cache WHERE query_sha256 = sha256('what is up north?'::bytea)), 1::bigint,
    'a cache hit is counted'
);
SELECT tests.daemon_unreachable();
SELECT tests.act_as('Alpha');
SELECT throws_ok($$ SELECT memory.embed_query('an uncached question') $$, '38000',
    'the embed daemon did not embed the query', 'without a live daemon embed_query() fails with 38000');
SELECT throws_ok($$ SELECT memory.embed_query('   ') $$, '22023', 'query must not be empty',
    'an empty query is refused');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- health
SELECT lives_ok(
    $$ SELECT memory.embedding_worker_heartbeat('tap-daemon', 'running', '{tap-3d}', '/nonexistent/tap.sock', 42) $$,
    'a daemon reports its heartbeat'
);
SELECT ok(
    memory.health() ?& ARRAY['status', 'checked_at', 'embedding']
    AND memory.health() -> 'embedding' ?& ARRAY['status', 'models', 'queue', 'oldest_pending_age_seconds',
                                                'dead_jobs', 'workers', 'serving_coverage'],
    'health() has one key per layer; the embedding layer has coverage, queue, oldest pending, dead jobs and workers'
);
SELECT is(
    (SELECT w ->> 'pid' FROM jsonb_array_elements(memory.health() -> 'embedding' -> 'workers') AS w
     WHERE w ->> 'name' = 'tap-daemon'),
    '42',
    'health() lists each daemon with its last heartbeat'
);

SELECT * FROM finish();
ROLLBACK;
