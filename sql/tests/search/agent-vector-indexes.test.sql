-- An agent's own HNSW index (sql/functions/047-agent-vector-indexes.sql): the plan names
-- the agents above the bound of exact ranking that lack one, with the exact statement;
-- once it exists (built here without CONCURRENTLY, inside the test's transaction) the
-- plan leaves it, the search's graph statement uses it and finds what exact ranking
-- finds, and the plan drops it when the agent falls far under the bound; bad bounds and
-- callers are refused. scripts/agent-indexes.sh is run by python/tests/test_agent_indexes.py.
BEGIN;
SELECT plan(15);

SELECT tests.make_agent('Vast');
SELECT tests.make_agent('Tiny');
SELECT tests.act_as('Vast');
SELECT memory.remember(format('vast memory number %s about the harbour', i), 0.5, NULL, NULL,
                       '2025-01-01 00:00+00'::timestamptz + i * interval '1 minute')
FROM generate_series(1, 30) AS i;
SELECT tests.act_as('Tiny');
SELECT memory.remember('tiny memory about the harbour');
RESET SESSION AUTHORIZATION;
-- vectors as the daemon would store them: the Vast agent's nth episode on the first n
-- axes, so that every cosine to the query (the first five axes) differs
SELECT tests.put_episode_vector(x.episode_id, tests.unit_vector(ARRAY(SELECT generate_series(1, x.n))))
FROM (SELECT e.episode_id, row_number() OVER (ORDER BY e.occurred_at)::integer AS n
      FROM memory.episodes AS e INNER JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Vast') AS x;
SELECT tests.put_episode_vector(e.episode_id, tests.unit_vector(ARRAY[2, 40]))
FROM memory.episodes AS e INNER JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Tiny';

SELECT has_function('memory', 'agent_vector_index_plan', ARRAY['integer'], 'memory.agent_vector_index_plan(integer) exists');

CREATE TEMP TABLE p ON COMMIT DROP AS SELECT * FROM memory.agent_vector_index_plan(20) WHERE agent IN ('Vast', 'Tiny');
SELECT is(
    (SELECT array_agg(action || ' ' || agent || ' ' || chunks) FROM p),
    ARRAY['create Vast 30'], 'over 20 chunks the Vast agent (30) needs an index of its own; the Tiny one (1) does not'
);
SELECT is(
    (SELECT statement FROM p),
    format('CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON memory.chunks USING hnsw '
           '((embedding::public.halfvec(384)) public.halfvec_cosine_ops) WHERE agent_id = %L AND model_id = %s',
           'chunks_agent_' || replace((SELECT agent_id FROM memory.agents WHERE name = 'Vast')::text, '-', '')
           || '_model_' || (SELECT model_id FROM memory.embedding_models WHERE is_serving) || '_idx',
           (SELECT agent_id FROM memory.agents WHERE name = 'Vast'), (SELECT model_id FROM memory.embedding_models WHERE is_serving)),
    'the statement builds a partial HNSW index over the agent''s chunks of the model, as the model''s own index is built'
);
SELECT is(
    (SELECT count(*) FROM memory.agent_vector_index_plan() WHERE agent IN ('Vast', 'Tiny')), 0::bigint,
    'with the default bound (memory.exact_search_max_chunks, 10,000) neither agent needs one'
);
SET LOCAL memory.exact_search_max_chunks = 20;
SELECT is(
    (SELECT array_agg(agent) FROM memory.agent_vector_index_plan() WHERE agent IN ('Vast', 'Tiny')), ARRAY['Vast'],
    'the default bound follows memory.exact_search_max_chunks'
);

-- memory.health() counts the agents waiting (every agent of the database over 20 chunks)
SET LOCAL memory.own_index_check_cache = '';
CREATE TEMP TABLE waiting ON COMMIT DROP AS
SELECT (memory.health() -> 'operations' ->> 'agents_needing_own_vector_index')::integer AS n;

-- built as planned (without CONCURRENTLY: a test runs in one transaction)
DO $$ BEGIN EXECUTE replace((SELECT statement FROM pg_temp.p), 'CONCURRENTLY ', ''); END $$;
SELECT is((memory.health() -> 'operations' ->> 'agents_needing_own_vector_index')::integer, (SELECT n FROM pg_temp.waiting),
          'the session keeps the count of agents waiting for 10 minutes (the exporter reads health() six times a scrape)');
SET LOCAL memory.own_index_check_cache = '';
SELECT is((memory.health() -> 'operations' ->> 'agents_needing_own_vector_index')::integer, (SELECT n - 1 FROM pg_temp.waiting),
          'counted again, the Vast agent no longer waits');
SELECT is(
    (SELECT count(*) FROM memory.agent_vector_index_plan(20) WHERE agent IN ('Vast', 'Tiny')), 0::bigint,
    'once the index exists the plan has nothing to do'
);

-- the search's graph statement (the Vast agent is over the bound of exact ranking now)
-- uses the agent's own index, and its top three match exact ranking
CREATE TEMP TABLE hits (pos bigint, episode_id uuid) ON COMMIT DROP;
GRANT ALL ON hits TO PUBLIC;
CREATE TEMP TABLE scans AS
SELECT pg_stat_get_xact_numscans(format('memory.%I', memory._agent_vector_index_name(a.agent_id, m.model_id))::regclass) AS n
FROM memory.agents AS a, memory.embedding_models AS m WHERE a.name = 'Vast' AND m.is_serving;
SELECT tests.cache_query_vector('the harbour at dawn', tests.unit_vector(ARRAY[1, 2, 3, 4, 5]));
SELECT tests.act_as('Vast');
SET LOCAL memory.exact_search_max_chunks = 20;
-- a test database holds few chunks: a sort of them would cost less than any graph walk,
-- so the planner is left a choice between the two graphs only (the model's and the
-- agent's): it can take the agent's only if its predicate is proved from the agent's id
SET LOCAL enable_seqscan = off;
SET LOCAL enable_sort = off;
INSERT INTO pg_temp.hits
SELECT row_number() OVER (), s.episode_id
FROM memory.search_episodic_memory('the harbour at dawn', k => 3, mode => 'vector',
                                   recency_weight => 0, importance_weight => 0) AS s;
RESET enable_seqscan;
RESET enable_sort;
RESET SESSION AUTHORIZATION;
SELECT cmp_ok(
    (SELECT pg_stat_get_xact_numscans(format('memory.%I', memory._agent_vector_index_name(a.agent_id, m.model_id))::regclass)
     FROM memory.agents AS a, memory.embedding_models AS m WHERE a.name = 'Vast' AND m.is_serving),
    '>', (SELECT n FROM pg_temp.scans),
    'the search walked the Vast agent''s own index'
);
SELECT is(
    (SELECT array_agg(h.episode_id ORDER BY h.pos) FROM pg_temp.hits AS h),
    (SELECT array_agg(x.episode_id ORDER BY x.d, x.episode_id) FROM (
        SELECT c.episode_id, c.embedding <=> tests.unit_vector(ARRAY[1, 2, 3, 4, 5]) AS d
        FROM memory.chunks AS c JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Vast'
        ORDER BY 2, 1 LIMIT 3) AS x),
    'through its own index the Vast agent''s vector search returns the exact top three'
);
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Vast'
       AND c.episode_id = ANY (ARRAY(SELECT episode_id FROM pg_temp.hits))), 3::bigint,
    'and only its own episodes'
);

-- far under the bound (half of it or less) the plan drops the index
SELECT is(
    (SELECT array_agg(action || ' ' || agent) FROM memory.agent_vector_index_plan(60) WHERE agent IN ('Vast', 'Tiny')),
    ARRAY['drop Vast'], 'at a bound of 60 (30 chunks, half of it) the plan drops the Vast agent''s index'
);
SELECT is(
    (SELECT count(*) FROM memory.agent_vector_index_plan(59) WHERE agent IN ('Vast', 'Tiny')), 0::bigint,
    'just above half the bound it keeps it (no rebuilding back and forth)'
);

SELECT throws_ok($$SELECT * FROM memory.agent_vector_index_plan(0)$$, '22023', 'min_chunks must be between 1 and 100000000',
                 'a bound of 0 is refused');
SELECT tests.act_as('Tiny');
SELECT throws_ok($$SELECT * FROM memory.agent_vector_index_plan()$$, '42501', NULL, 'an agent cannot read the plan (it counts every agent''s chunks)');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
