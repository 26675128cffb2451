-- memory.heartbeat: upsert of memory.agent_state, NULL keeps the current value, bad
-- input leaves the state unchanged, agents see only their own state.
BEGIN;
SELECT plan(16);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');

SELECT tests.act_as('Alpha');
SELECT lives_ok($$ SELECT memory.heartbeat() $$, 'a first heartbeat without arguments creates the state');
SELECT results_eq(
    $$ SELECT current_focus, emotional_vector, working_context, last_heartbeat FROM memory.agent_state $$,
    $$ VALUES (NULL::text, NULL::jsonb, NULL::jsonb, now()) $$,
    'the state holds only the heartbeat'
);
SELECT lives_ok(
    $$ SELECT memory.heartbeat('issue 3', '{"curiosity": 0.8}', '{"files": ["060-core-memory.sql"]}') $$,
    'a heartbeat sets focus, emotional vector and working context'
);
SELECT lives_ok(
    $$ SELECT memory.heartbeat(emotional_vector => '{"curiosity": 0.9, "calm": 0.5}') $$,
    'a heartbeat may set one field by name'
);
SELECT results_eq(
    $$ SELECT current_focus, emotional_vector, working_context FROM memory.agent_state $$,
    $$ VALUES ('issue 3', '{"curiosity": 0.9, "calm": 0.5}'::jsonb, '{"files": ["060-core-memory.sql"]}'::jsonb) $$,
    'NULL arguments keep the current values'
);
SELECT is((SELECT count(*) FROM memory.agent_state), 1::bigint, 'one state row per agent');

RESET SESSION AUTHORIZATION;
UPDATE memory.agent_state SET last_heartbeat = now() - interval '1 hour'
WHERE agent_id = (SELECT agent_id FROM memory.agents WHERE name = 'Alpha');
SELECT tests.act_as('Alpha');
SELECT memory.heartbeat();
SELECT is((SELECT last_heartbeat FROM memory.agent_state), now(), 'a heartbeat refreshes last_heartbeat');

CREATE TEMP TABLE state_before AS SELECT * FROM memory.agent_state;
SELECT throws_ok(
    $$ SELECT memory.heartbeat(repeat('f', 10001)) $$, '22001', 'focus is too long',
    'a focus over 10000 characters is refused'
);
SELECT throws_ok(
    $$ SELECT memory.heartbeat(NULL, '[0.1, 0.2]') $$, '22023', 'emotional_vector must be a JSON object',
    'an emotional vector that is not an object is refused'
);
SELECT throws_ok(
    $$ SELECT memory.heartbeat(NULL, NULL, jsonb_build_object('big', repeat(md5(random()::text), 70000))) $$,
    '54000', 'working_context is too large',
    'a working context over 1 MB is refused'
);
SELECT results_eq(
    $$ SELECT * FROM memory.agent_state $$, $$ SELECT * FROM state_before $$,
    'the refused heartbeats left the state unchanged'
);

SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.agent_state), 0::bigint, 'another agent sees none of Alpha''s state');
SELECT lives_ok($$ SELECT memory.heartbeat('Beta''s focus') $$, 'another agent keeps its own state');
SELECT is((SELECT current_focus FROM memory.agent_state), 'Beta''s focus', 'Beta sees only its own state');
SELECT tests.act_as('Alpha');
SELECT is((SELECT current_focus FROM memory.agent_state), 'issue 3', 'Alpha''s focus is untouched by Beta');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT memory.heartbeat() $$, '42501', 'this session is not an agent', 'heartbeat needs an agent session');

SELECT * FROM finish();
ROLLBACK;
