-- Per-relation statistics are not an agent's (migration 035): the scans, tuples and
-- blocks counted per table or index (an agent's own HNSW index counts that agent's
-- searches alone) cannot be read by an agent, by the views or by the functions; the
-- project's roles still can, and an agent's searches and writes still work.
BEGIN;
SELECT plan(8);

SELECT tests.make_agent('Alpha');
SELECT is(
    (SELECT count(*) FROM pg_catalog.pg_proc AS p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
     WHERE p.pronamespace = 'pg_catalog'::regnamespace
       AND p.proname IN ('pg_stat_get_numscans', 'pg_stat_get_tuples_returned', 'pg_stat_get_blocks_hit',
                         'pg_stat_get_xact_numscans', 'pg_stat_get_live_tuples', 'pg_stat_get_function_calls')
       AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    0::bigint,
    'no per-relation or per-function statistics function is executable by PUBLIC'
);
SELECT ok(
    has_function_privilege('memory_operator', 'pg_stat_get_numscans(oid)', 'EXECUTE')
    AND has_function_privilege('memory_exporter', 'pg_stat_get_numscans(oid)', 'EXECUTE')
    AND has_function_privilege('memory_owner', 'pg_stat_get_numscans(oid)', 'EXECUTE'),
    'operators, monitoring and the owner of the functions may read them'
);

SELECT tests.act_as('Alpha');
SELECT throws_ok('SELECT idx_scan FROM pg_stat_user_indexes', '42501', NULL,
                 'an agent cannot read the scans of each index');
SELECT throws_ok('SELECT n_tup_ins FROM pg_stat_user_tables', '42501', NULL, 'nor the writes of each table');
SELECT throws_ok('SELECT heap_blks_hit FROM pg_statio_user_tables', '42501', NULL, 'nor their blocks');
SELECT throws_ok($$SELECT pg_stat_get_numscans('memory.chunks'::regclass)$$, '42501', NULL, 'nor call the functions');
SELECT lives_ok($$SELECT memory.remember('las estadísticas no son mías')$$, 'remember works');
SELECT lives_ok($$SELECT * FROM memory.search_episodic_memory('estadísticas', mode => 'text')$$, 'search works');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
