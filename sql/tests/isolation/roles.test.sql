-- Isolation between the roles of the stack. The worker (memory_worker, login
-- memory_daemon) and the reader (memory_reader) cannot read agents' memory tables or
-- call agents' functions; agents cannot administer agents, read or schedule pg_cron
-- jobs, run the maintenance jobs, or call the worker's functions. Functions and tables
-- are taken from the catalog, so new ones are covered when they appear.
-- "Agent functions": the public (no leading _) functions agents may execute that act
-- for the current agent (their body calls memory._require_agent or current_agent),
-- plus the names of the SQL API contract. "Worker functions": the public functions
-- memory_worker may execute, except the version checks every role has.
BEGIN;
SELECT plan(32);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();
INSERT INTO ids SELECT lower(name), agent_id FROM memory.agents WHERE name IN ('Alpha', 'Beta');

CREATE FUNCTION pg_temp.agent_functions()
RETURNS SETOF regprocedure
LANGUAGE sql
STABLE
AS $$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = 'memory'::regnamespace
      AND p.proname NOT LIKE '\_%'
      AND p.proname <> 'current_agent'
      AND (
          (has_function_privilege('memory_agent', p.oid, 'EXECUTE')
           AND (p.prosrc LIKE '%memory._require_agent()%' OR p.prosrc LIKE '%memory.current_agent()%'))
          OR p.proname IN (
              'remember', 'update_episode', 'forget_episode', 'search_episodic_memory', 'learn_fact',
              'invalidate_fact', 'link_facts', 'search_semantic_memory', 'set_working_memory',
              'get_working_memory', 'clear_working_memory', 'set_block', 'get_blocks', 'block_history',
              'identity_hash', 'create_checkpoint', 'restore_checkpoint', 'heartbeat', 'register_instance',
              'instance_heartbeat', 'propose_decision', 'vote', 'build_context'
          )
      )
    ORDER BY 1
$$;

CREATE FUNCTION pg_temp.worker_functions()
RETURNS SETOF regprocedure
LANGUAGE sql
STABLE
AS $$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = 'memory'::regnamespace
      AND p.proname NOT LIKE '\_%'
      AND p.proname NOT IN ('api_version', 'schema_version')
      AND has_function_privilege('memory_worker', p.oid, 'EXECUTE')
    ORDER BY 1
$$;

-- A call of the function with a NULL of each argument type: the privilege check comes
-- first, so nothing runs when EXECUTE is not granted.
CREATE FUNCTION pg_temp.null_call(f regprocedure)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT format('SELECT %s(%s)', p.oid::regproc,
                  (SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY o)
                   FROM unnest(p.proargtypes::oid []) WITH ORDINALITY AS a (t, o)))
    FROM pg_catalog.pg_proc AS p WHERE p.oid = f
$$;

-- Those of the functions that the session may call: 'function: outcome' of each call
-- with NULL arguments (tests.sqlstate_of) that is not 42501 permission denied.
CREATE FUNCTION pg_temp.not_refused(fns regprocedure [])
RETURNS text []
LANGUAGE sql
AS $$
    SELECT ARRAY(
        SELECT f::text || ': ' || r FROM unnest(fns) AS f,
            LATERAL tests.sqlstate_of(pg_temp.null_call(f)) AS r
        WHERE r NOT LIKE '42501: permission denied for function %'
        ORDER BY 1
    )
$$;

-- ---------------------------------------------------------------- catalog
SELECT cmp_ok(
    (SELECT count(*) FROM pg_temp.agent_functions()), '>=', 20::bigint,
    'the catalog yields the agent functions to check (remember, learn_fact, set_block, vote, ...)'
);
SELECT is(
    ARRAY(
        SELECT c.relname || ' ' || priv
        FROM pg_class AS c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS priv
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND has_table_privilege('memory_worker', c.oid, priv)
        ORDER BY 1
    ),
    '{}'::text[],
    'memory_worker has no privilege on any table or view of schema memory (it works through functions)'
);
SELECT is(
    ARRAY(
        SELECT c.relname || ' ' || r.rolname || ' ' || priv
        FROM pg_class AS c,
            unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS priv,
            (VALUES ('memory_worker'), ('memory_reader')) AS r (rolname)
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
          AND (c.relname = 'agents' OR EXISTS (
              SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = 'agent_id' AND NOT a.attisdropped))
          AND (has_table_privilege(r.rolname, c.oid, priv)
               OR (priv <> 'TRUNCATE' AND priv <> 'DELETE' AND priv <> 'TRIGGER'
                   AND has_any_column_privilege(r.rolname, c.oid, priv)))
        ORDER BY 1
    ),
    '{}'::text[],
    'neither memory_worker nor memory_reader has any privilege (table or column) on a table holding agents'' memory'
);
SELECT is(
    ARRAY(
        SELECT f::text || ' ' || r.rolname
        FROM pg_temp.agent_functions() AS f, (VALUES ('memory_worker'), ('memory_reader')) AS r (rolname)
        WHERE has_function_privilege(r.rolname, f, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'neither memory_worker nor memory_reader may execute any agent function'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text || ' ' || r.rolname
        FROM pg_proc AS p, (VALUES ('memory_agent'), ('memory_worker'), ('memory_reader'), ('test_alpha')) AS r (rolname)
        WHERE p.pronamespace = 'cron'::regnamespace AND has_function_privilege(r.rolname, p.oid, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'no function of schema cron is executable by agents, the worker or the reader'
);
SELECT is(
    ARRAY(
        SELECT r.rolname FROM (VALUES ('memory_agent'), ('memory_worker'), ('memory_reader'), ('test_alpha')) AS r (rolname)
        WHERE has_schema_privilege(r.rolname, 'cron', 'USAGE') OR has_table_privilege(r.rolname, 'cron.job', 'SELECT')
        ORDER BY 1
    ),
    '{}'::text[],
    'agents, the worker and the reader cannot use schema cron or read cron.job'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text FROM pg_proc AS p
        WHERE p.pronamespace = 'memory'::regnamespace
          AND p.proname IN (
              'create_agent', 'schedule_job', 'auto_checkpoint', 'mark_stale_instances_offline', 'fold_access_stats',
              'expire_working_memory', '_take_checkpoint', '_lock_identity', 'set_active_model', 'reembed',
              'requeue_dead', 'reap_expired_leases', 'prune_query_cache', 'register_embedding_model'
          )
          AND has_function_privilege('test_alpha', p.oid, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'agents may execute none of the administration and maintenance functions (they act on every agent)'
);
SELECT is(
    ARRAY(
        SELECT f::text FROM pg_temp.worker_functions() AS f
        WHERE has_function_privilege('memory_agent', f, 'EXECUTE') OR has_function_privilege('test_alpha', f, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'agents may execute none of the worker''s functions'
);

-- ---------------------------------------------------------------- the daemon's login
SET LOCAL SESSION AUTHORIZATION memory_daemon;
SELECT throws_ok('SELECT count(*) FROM memory.episodes', '42501', 'permission denied for table episodes',
    'memory_daemon cannot read memory.episodes');
SELECT throws_ok('SELECT count(*) FROM memory.agents', '42501', 'permission denied for table agents',
    'memory_daemon cannot read memory.agents');
SELECT throws_ok($$SELECT memory.remember('from the daemon')$$, '42501', 'permission denied for function remember',
    'memory_daemon cannot call remember');
SELECT is(
    pg_temp.not_refused(ARRAY(SELECT pg_temp.agent_functions())),
    '{}'::text[],
    'memory_daemon is refused by every agent function (42501 permission denied: no EXECUTE, not merely "not an agent")'
);
SELECT throws_ok($$SELECT memory.create_agent('Daemonic', 'test_beta')$$, '42501', 'permission denied for function create_agent',
    'memory_daemon cannot call create_agent');
SELECT throws_ok('SELECT count(*) FROM cron.job', '42501', 'permission denied for schema cron',
    'memory_daemon cannot read cron.job');

-- ---------------------------------------------------------------- the reader
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION memory_reader;
SELECT throws_ok('SELECT count(*) FROM memory.episodes', '42501', 'permission denied for table episodes',
    'memory_reader cannot read memory.episodes');
SELECT throws_ok($$SELECT memory.learn_fact('c', 's')$$, '42501', 'permission denied for function learn_fact',
    'memory_reader cannot call learn_fact');
SELECT is(
    pg_temp.not_refused(ARRAY(SELECT pg_temp.agent_functions())),
    '{}'::text[],
    'memory_reader is refused by every agent function (42501 permission denied for function)'
);

-- ---------------------------------------------------------------- agents
RESET SESSION AUTHORIZATION;
SELECT tests.act_as('Alpha');
SELECT throws_ok($$SELECT memory.create_agent('Eve', 'test_beta')$$, '42501', 'permission denied for function create_agent',
    'an agent cannot call create_agent');
SELECT throws_ok($$SELECT memory.schedule_job('memory-evil', '* * * * *', 'SELECT 1')$$, '42501',
    'permission denied for function schedule_job', 'an agent cannot call schedule_job');
SELECT throws_ok('SELECT count(*) FROM cron.job', '42501', 'permission denied for schema cron',
    'an agent cannot read cron.job');
SELECT throws_ok('SELECT count(*) FROM cron.job_run_details', '42501', 'permission denied for schema cron',
    'an agent cannot read cron.job_run_details (commands and their output)');
SELECT throws_ok($$SELECT cron.schedule('evil', '* * * * *', 'DELETE FROM memory.episodes')$$, '42501',
    'permission denied for schema cron', 'an agent cannot call cron.schedule');
SELECT throws_ok(
    $$SELECT cron.schedule_in_database('evil', '* * * * *', 'SELECT 1', current_database(), 'memory_operator', true)$$,
    '42501', 'permission denied for schema cron', 'an agent cannot call cron.schedule_in_database'
);
SELECT throws_ok('SELECT cron.unschedule(1)', '42501', 'permission denied for schema cron',
    'an agent cannot call cron.unschedule');
SELECT throws_ok(
    format($$SELECT memory._take_checkpoint(%L, 'manual', '{}', NULL)$$, pg_temp.id('beta')),
    '42501', 'permission denied for function _take_checkpoint',
    'an agent cannot write a checkpoint for another agent through memory._take_checkpoint'
);
SELECT is(
    pg_temp.not_refused(ARRAY(SELECT pg_temp.worker_functions())),
    '{}'::text[],
    'an agent is refused by every worker function (42501 permission denied for function)'
);
SELECT has_function('memory', f, format('the worker function memory.%s exists', f))
FROM unnest(ARRAY['claim_embedding_batch', 'complete_embedding_batch', 'fail_embedding_batch']) AS f;
SELECT throws_ok(
    pg_temp.null_call(to_regproc('memory.' || f)::oid::regprocedure),
    '42501', format('permission denied for function %s', f),
    format('an agent cannot call the worker''s %s', f)
)
FROM unnest(ARRAY['claim_embedding_batch', 'complete_embedding_batch', 'fail_embedding_batch']) AS f;

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
