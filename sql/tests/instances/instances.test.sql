-- memory.register_instance, instance_heartbeat and mark_stale_instances_offline:
-- registration and re-registration, liveness, bad input leaving the registry
-- unchanged, and isolation between agents.
BEGIN;
SELECT plan(29);

SELECT tests.make_agents('Alpha', 'Beta');
CREATE ROLE test_operator LOGIN;
GRANT memory_admin TO test_operator;
SELECT tests.make_id_table();

SELECT tests.act_as('Alpha');
INSERT INTO ids SELECT 'terminal', memory.register_instance('nexus-terminal-1');
INSERT INTO ids SELECT 'worker', memory.register_instance('worker.2', 'worker', 'eu-west', '{"gpu": false}');
SELECT results_eq(
    $$ SELECT name, instance_type, location, capabilities, status, last_heartbeat FROM memory.instances ORDER BY name $$,
    $$ VALUES ('nexus-terminal-1', 'primary', NULL::text, '{}'::jsonb, 'active', now()),
              ('worker.2', 'worker', 'eu-west', '{"gpu": false}'::jsonb, 'active', now()) $$,
    'register_instance stores name, type (default primary), location, capabilities, status active, a heartbeat'
);
SELECT is(
    memory.register_instance('worker.2', 'specialized', NULL, '{"gpu": true}'),
    pg_temp.id('worker'),
    're-registering a name keeps the instance id'
);
SELECT results_eq(
    $$ SELECT instance_type, location, capabilities FROM memory.instances WHERE name = 'worker.2' $$,
    $$ VALUES ('specialized', NULL::text, '{"gpu": true}'::jsonb) $$,
    're-registering updates type, location and capabilities'
);

-- Liveness: a stale instance is marked offline by the job's function; a heartbeat revives it.
RESET SESSION AUTHORIZATION;
UPDATE memory.instances SET last_heartbeat = now() - interval '3 minutes' WHERE instance_id = pg_temp.id('worker');
UPDATE memory.instances SET last_heartbeat = now() - interval '90 seconds' WHERE instance_id = pg_temp.id('terminal');
SET LOCAL SESSION AUTHORIZATION test_operator;
SELECT cmp_ok(memory.mark_stale_instances_offline(), '>=', 1, 'mark_stale_instances_offline reports what it marked');
SELECT results_eq(
    $$ SELECT name, status FROM memory.instances WHERE instance_id IN (SELECT id FROM ids) ORDER BY name $$,
    $$ VALUES ('nexus-terminal-1', 'active'), ('worker.2', 'offline') $$,
    'an instance silent for more than 2 minutes is offline; one silent for 90 seconds is not'
);
SELECT tests.act_as('Alpha');
SELECT lives_ok(
    format('SELECT memory.instance_heartbeat(%L)', pg_temp.id('worker')),
    'instance_heartbeat accepts the agent''s instance'
);
SELECT results_eq(
    $$ SELECT status, last_heartbeat FROM memory.instances WHERE name = 'worker.2' $$,
    $$ VALUES ('active', now()) $$,
    'a heartbeat revives an offline instance and refreshes its heartbeat'
);
SELECT ok(
    memory._instance_is_live('active', now() - interval '119 seconds')
    AND NOT memory._instance_is_live('active', now() - interval '121 seconds')
    AND NOT memory._instance_is_live('standby', now()),
    'live means active with a heartbeat at most 2 minutes old'
);
SELECT is(
    memory.register_instance('nexus-terminal-1'), pg_temp.id('terminal'),
    're-registering an instance revives it as well'
);

-- ---------------------------------------------------------------- bad input
CREATE TEMP TABLE instances_before AS SELECT * FROM memory.instances ORDER BY name;
SELECT throws_ok(
    $$ SELECT memory.register_instance(NULL) $$, '22004', 'name must not be null',
    'a NULL name is refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', NULL) $$, '22004', 'instance_type must not be null',
    'a NULL instance_type is refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', 'worker', NULL, NULL) $$, '22004',
    'capabilities must not be null',
    'NULL capabilities are refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('not a name!') $$, '22023', 'invalid name',
    'a malformed name is refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', 'leader') $$, '22023', 'unknown instance_type',
    'an unknown instance_type is refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', 'PRIMARY') $$, '22023', 'unknown instance_type',
    'instance_type is case-sensitive'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', 'worker', repeat('l', 201)) $$, '22001', 'location is too long',
    'a location over 200 characters is refused'
);
SELECT throws_ok(
    $$ SELECT memory.register_instance('x', 'worker', NULL, '["gpu"]') $$, '22023', 'capabilities must be a JSON object',
    'capabilities that are not an object are refused'
);
SELECT throws_ok(
    $$ SELECT memory.instance_heartbeat(NULL) $$, '22004', 'instance_id must not be null',
    'instance_heartbeat(NULL) is refused'
);
SELECT throws_ok(
    $$ SELECT memory.instance_heartbeat(gen_random_uuid()) $$, 'P0002', 'instance not found',
    'an unknown instance id is no_data_found'
);
SELECT results_eq(
    $$ SELECT * FROM memory.instances ORDER BY name $$, $$ SELECT * FROM instances_before $$,
    'the refused calls left the registry unchanged'
);
SELECT throws_ok(
    $$ SELECT memory.mark_stale_instances_offline() $$, '42501', NULL,
    'an agent cannot run the liveness maintenance'
);

-- ---------------------------------------------------------------- other agents
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.instances), 0::bigint, 'another agent sees none of Alpha''s instances');
SELECT throws_ok(
    format('SELECT memory.instance_heartbeat(%L)', pg_temp.id('terminal')),
    'P0002', 'instance not found',
    'Beta cannot beat Alpha''s instance'
);
SELECT is(
    tests.error_of(format('SELECT memory.instance_heartbeat(%L::uuid)', pg_temp.id('terminal'))),
    tests.error_of(format('SELECT memory.instance_heartbeat(%L::uuid)', gen_random_uuid())),
    'the error for another agent''s instance is identical to the one for a missing instance'
);
SELECT isnt(
    memory.register_instance('nexus-terminal-1'), pg_temp.id('terminal'),
    'the same instance name under another agent is another instance'
);
SELECT is((SELECT count(*) FROM memory.instances), 1::bigint, 'Beta sees only its own instance');
UPDATE memory.instances SET status = 'offline' WHERE instance_id = pg_temp.id('terminal');
SELECT tests.act_as('Alpha');
SELECT results_eq(
    $$ SELECT * FROM memory.instances ORDER BY name $$, $$ SELECT * FROM instances_before $$,
    'Beta''s attempts left Alpha''s instances unchanged'
);

RESET SESSION AUTHORIZATION;
SELECT throws_ok(
    $$ SELECT memory.register_instance('x') $$, '42501', 'this session is not an agent',
    'register_instance needs an agent session'
);
SELECT throws_ok(
    $$ SELECT memory.instance_heartbeat(gen_random_uuid()) $$, '42501', 'this session is not an agent',
    'instance_heartbeat needs an agent session'
);

SELECT * FROM finish();
ROLLBACK;
