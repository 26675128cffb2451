-- Extensions from migrations, revoke-by-default privileges, SECURITY DEFINER hygiene.
BEGIN;
SELECT plan(9);

SELECT is(
    (SELECT extversion FROM pg_extension WHERE extname = 'vector'), '0.8.0',
    'pgvector 0.8.0 is installed'
);
SELECT has_extension('pg_cron', 'pg_cron is installed in the memory database');
SELECT has_extension('plpython3u', 'plpython3u is installed');
SELECT ok(
    current_setting('shared_preload_libraries') LIKE '%pg_cron%',
    'pg_cron is preloaded'
);

SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE has_function_privilege('public', p.oid, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'PUBLIC cannot execute any function of schema memory'
);

SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE p.prosecdef
          AND (
              p.proowner <> 'memory_owner'::regrole
              OR NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%')
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'every SECURITY DEFINER function is owned by memory_owner and pins its search_path'
);

SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE p.prosecdef
          AND NOT EXISTS (
              SELECT 1
              FROM aclexplode(p.proacl) AS a
              WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'every SECURITY DEFINER function has an explicit grant to some role'
);

SELECT ok(
    NOT has_schema_privilege('memory_agent', 'cron', 'USAGE'),
    'agents cannot use the cron schema'
);
SELECT ok(
    has_table_privilege('memory_operator', 'cron.job', 'SELECT'),
    'the operator can read cron.job'
);

SELECT * FROM finish();
ROLLBACK;
