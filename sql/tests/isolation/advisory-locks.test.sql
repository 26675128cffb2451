-- Advisory locks are the project's own (migration 030): an agent cannot take one (so it
-- cannot hold another agent's deletion or identity key), while the project's functions
-- that take them still work when an agent calls them.
BEGIN;
SELECT plan(9);

SELECT tests.make_agent('Alpha');
SELECT is(
    (SELECT count(*) FROM pg_catalog.pg_proc AS p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
     WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory%'
       AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'),
    0::bigint,
    'no pg_advisory_* function is executable by PUBLIC'
);
SELECT ok(
    (SELECT bool_and(has_function_privilege('memory_owner', p.oid, 'EXECUTE')
                     AND has_function_privilege('memory_daemon', p.oid, 'EXECUTE')
                     AND has_function_privilege('memory_operator', p.oid, 'EXECUTE'))
     FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory%'),
    'the owner of the functions, the embed daemon and operators may take advisory locks'
);

SELECT tests.act_as('Alpha');
SELECT throws_ok('SELECT pg_advisory_lock(1095192148, 1)', '42501', NULL,
                 'an agent cannot hold a key of the deletion lock''s class');
SELECT throws_ok('SELECT pg_try_advisory_xact_lock(42::bigint)', '42501', NULL, 'nor try a transaction lock');
SELECT throws_ok('SELECT pg_advisory_lock_shared(1, 2)', '42501', NULL, 'nor a shared one');
-- what takes those locks on the agent's behalf still works
SELECT lives_ok($$SELECT memory.set_block('persona', 'quien soy')$$, 'set_block works');
SELECT isnt(memory.create_checkpoint(), NULL, 'create_checkpoint (the identity lock) works');
SELECT lives_ok(
    $$SELECT memory.forget_episode(memory.remember('efímero'))$$,
    'remember and forget_episode (the deletion lock) work'
);
SELECT is(memory.forget_session('nada'), 0, 'forget_session works');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
