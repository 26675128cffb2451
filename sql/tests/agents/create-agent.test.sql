-- memory.create_agent and memory.current_agent: binding, errors, spoofing.
BEGIN;
SELECT plan(15);

SELECT lives_ok($$ SELECT tests.make_agent('Alpha') $$, 'an operator binds a login role to a new agent');
SELECT ok(pg_has_role('test_alpha', 'memory_agent', 'MEMBER'), 'the bound role is granted memory_agent');
SELECT is(memory.current_agent(), NULL, 'a superuser session is not an agent');

CREATE ROLE test_nobody LOGIN;
SELECT throws_ok($$ SELECT memory.create_agent('Alpha', 'test_nobody') $$, '23505', 'agent Alpha already exists',
    'a taken agent name is refused');
SELECT throws_ok($$ SELECT memory.create_agent('Beta', 'test_alpha') $$, '23505', 'role test_alpha is already bound to an agent',
    'a role bound twice is refused');
SELECT throws_ok($$ SELECT memory.create_agent('Gamma', 'no_such_role') $$, '42704', 'role no_such_role does not exist',
    'an unknown role is refused');
SELECT throws_ok($$ SELECT memory.create_agent('Delta', 'postgres') $$, '22023', 'role postgres cannot be an agent',
    'a superuser cannot be an agent');
SELECT throws_ok($$ SELECT memory.create_agent('Delta', 'memory_daemon') $$, '22023', 'role memory_daemon cannot be an agent',
    'a memory_* role cannot be an agent');
SELECT throws_ok($$ SELECT memory.create_agent('9lives', 'test_nobody') $$, '22023', 'invalid agent name',
    'a malformed agent name is refused');
SELECT throws_ok($$ SELECT memory.create_agent(NULL, 'test_nobody') $$, '22023', 'invalid agent name',
    'a NULL agent name is refused');

SELECT tests.make_agent('Beta');
SELECT tests.act_as('Alpha');
SELECT is(memory.current_agent(), (SELECT agent_id FROM memory.agents WHERE name = 'Alpha'),
    'an agent session resolves to its own agent');
SELECT is((SELECT count(*) FROM memory.agents), 1::bigint, 'an agent sees only its own agent row');
-- set_config / SET cannot change who the agent is.
SELECT throws_ok($$ SELECT set_config('role', 'test_beta', true) $$, '42501', NULL,
    'an agent cannot SET ROLE to another agent''s role');
SELECT set_config('app.current_agent', (SELECT agent_id::text FROM memory.agents ORDER BY agent_id LIMIT 1), true);
SELECT is((SELECT name FROM memory.agents WHERE agent_id = memory.current_agent()), 'Alpha',
    'set_config does not change the current agent');
SELECT throws_ok($$ SELECT memory.create_agent('Eve', 'test_nobody') $$, '42501', NULL,
    'an agent cannot call create_agent');

SELECT * FROM finish();
ROLLBACK;
