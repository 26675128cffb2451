-- The Redis cache's SQL side and the operations functions (issue 6): what the cache
-- warmer reads, who may call it, reconciliation bookkeeping, health(), pause/resume.
BEGIN;
SELECT plan(25);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('live', memory.set_working_memory('task', '{"n": 1}', '1 hour', 'high', 'k1'));
INSERT INTO ids VALUES ('old', memory.set_working_memory('task', '{"n": 2}', '1 hour'));
SELECT memory.set_block('persona', 'alpha persona');
INSERT INTO ids VALUES ('alpha', memory.current_agent());
RESET SESSION AUTHORIZATION;
-- expired in Postgres, not yet deleted by the expiry job
UPDATE memory.working_memory SET updated_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
WHERE working_id = pg_temp.id('old');

-- ---------------------------------------------------------------- triggers
SELECT has_trigger('memory', 'working_memory', 'working_memory_cache_notify', 'working memory writes notify the cache');
SELECT has_trigger('memory', 'blocks', 'blocks_cache_notify', 'block writes notify the cache');

-- ---------------------------------------------------------------- agents are kept out
SELECT tests.act_as('Beta');
SELECT throws_ok(
    format('SELECT * FROM memory.cache_working_memory(ARRAY[%L]::uuid[])', pg_temp.id('live')),
    '42501', NULL, 'an agent cannot read cached rows by id'
);
SELECT throws_ok('SELECT * FROM memory.cache_working_memory_page(NULL, 10)', '42501', NULL,
    'an agent cannot page through the cache');
SELECT throws_ok(
    format('SELECT * FROM memory.cache_blocks(ARRAY[%L]::uuid[])', pg_temp.id('alpha')),
    '42501', NULL, 'an agent cannot read another agent''s cached blocks'
);
SELECT throws_ok('SELECT memory.request_cache_reconcile()', '42501', NULL, 'an agent cannot request a reconciliation');
SELECT throws_ok('SELECT memory.pause_embedding()', '42501', NULL, 'an agent cannot pause the embedding queue');
SELECT throws_ok('SELECT memory.health_metrics()', '42501', NULL, 'an agent cannot read the health gauges');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- the worker's reads
SET LOCAL ROLE memory_worker;
SELECT is(
    (SELECT (live, context_type, (payload::jsonb) -> 'content')::text FROM memory.cache_working_memory(
        ARRAY[pg_temp.id('live')])),
    (TRUE, 'task', '{"n": 1}'::jsonb)::text,
    'the worker reads a live row with the JSON to cache'
);
SELECT ok(
    (SELECT ttl_ms BETWEEN 3590000 AND 3600000 FROM memory.cache_working_memory(ARRAY[pg_temp.id('live')])),
    'with the milliseconds it has left'
);
SELECT is(
    (SELECT (live, payload IS NULL)::text FROM memory.cache_working_memory(ARRAY[pg_temp.id('old')])),
    (FALSE, TRUE)::text,
    'an expired row is not live and has nothing to cache'
);
SELECT is(
    (SELECT count(*) FROM memory.cache_working_memory(ARRAY[gen_random_uuid()])),
    0::bigint,
    'a deleted (unknown) id returns no row: the warmer deletes its key'
);
SELECT ok(
    pg_temp.id('old') NOT IN (SELECT working_id FROM memory.cache_working_memory_page(NULL, 10000)),
    'pages of the reconciliation hold no expired row'
);
SELECT is(
    (SELECT (payload::jsonb) ->> 'value' FROM memory.cache_blocks(ARRAY[pg_temp.id('alpha')])),
    'alpha persona',
    'the worker reads an agent''s blocks'
);
SELECT throws_ok('SELECT * FROM memory.cache_working_memory_page(NULL, 0)', '22023', 'page_size must be between 1 and 10000',
    'a bad page size is refused');
SELECT throws_ok('SELECT count(*) FROM memory.working_memory', '42501', NULL, 'the worker has no table access');
RESET ROLE;

-- ---------------------------------------------------------------- reconciliation bookkeeping
SELECT throws_ok('SELECT memory.request_cache_reconcile(''Bad Reason'')', '22023', 'invalid reason',
    'a reason is a short lower-case word');
CREATE TEMP TABLE req AS SELECT memory.request_cache_reconcile('tap') AS id;
GRANT SELECT ON req TO PUBLIC;
SET LOCAL ROLE memory_worker;
CREATE TEMP TABLE claimed AS SELECT memory.claim_cache_reconcile('tap-cache') AS id;
SELECT ok((SELECT id FROM claimed) >= (SELECT id FROM req), 'the worker claims the open requests');
SELECT memory.finish_cache_reconcile('tap-cache', (SELECT id FROM claimed), now(), 10, 1, 0, 0, 0);
SELECT memory.finish_cache_reconcile('tap-cache', NULL, now(), 10, 0, 2, 0, 0);
SELECT memory.cache_warmer_heartbeat('tap-cache', FALSE, 5, 3, 0.25, 'connection refused');
RESET ROLE;
SELECT isnt(
    (SELECT finished_at FROM memory.cache_reconcile_requests WHERE request_id = (SELECT id FROM req)),
    NULL,
    'a finished reconciliation closes the request'
);
SELECT is(
    (memory.health() -> 'cache' -> 'last_repair' ->> 'repaired')::int, 2,
    'health() shows the last repair'
);
SELECT ok(
    (memory.health() -> 'cache' ->> 'reconciliations_repairing_in_a_row')::int >= 2
    AND memory.health() -> 'cache' ->> 'status' = 'degraded',
    'two reconciliations in a row that repaired make the cache degraded'
);

-- ---------------------------------------------------------------- health and operations
SELECT ok(
    memory.health() ?& ARRAY['status', 'checked_at', 'embedding', 'cache', 'operations']
    AND memory.health() -> 'embedding' ?& ARRAY['queue', 'models', 'dead_jobs', 'workers', 'oldest_pending_age_seconds']
    AND memory.health() -> 'operations' ?& ARRAY['counts', 'cron_jobs', 'identity', 'embedding_paused'],
    'health() has every layer and the embedding keys it had'
);
SELECT memory.pause_embedding('tap test');
SELECT tests.act_as('Alpha');
SELECT memory.remember('something to embed while paused');
RESET SESSION AUTHORIZATION;
SET LOCAL ROLE memory_worker;
SELECT is(
    (SELECT count(*) FROM memory.claim_embedding_batch('tap-paused', 100)), 0::bigint,
    'a paused queue hands out no job'
);
RESET ROLE;
SELECT is(memory.resume_embedding(), TRUE, 'resume reports the queue was paused');
SET LOCAL SESSION AUTHORIZATION memory_reader;
SELECT is(
    (SELECT array_agg(layer ORDER BY layer) FROM memory.health_report),
    ARRAY['cache', 'embedding', 'operations'],
    'memory_reader reads the health report, one row per layer'
);
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
