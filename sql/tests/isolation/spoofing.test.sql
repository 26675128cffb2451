-- Isolation against identity spoofing: an agent session tries to become another agent
-- (SET ROLE, set_config('role'), custom settings an application might trust), to turn
-- row-level security or triggers off, to change the schema, the policies or the roles,
-- and to shadow our objects with its own temporary ones. The current agent comes from
-- session_user, which none of this changes.
-- Not here: SET SESSION AUTHORIZATION. In a pgTAP run the authenticated user is the
-- superuser, so the server would allow it; python/tests/test_isolation.py tries it in
-- real agent sessions.
BEGIN;
SELECT plan(30);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();
INSERT INTO ids SELECT lower(name), agent_id FROM memory.agents WHERE name IN ('Alpha', 'Beta');

SELECT tests.act_as('Alpha');
SELECT memory.remember('alpha-secret-zq7 the launch code is 0000');
SELECT memory.learn_fact('alpha-secret-zq7', 'a fact of Alpha');
SELECT memory.set_working_memory('task', '{"note": "alpha-secret-zq7"}');
RESET SESSION AUTHORIZATION;

-- Counts what the session sees of other agents in the tables agents can read.
CREATE FUNCTION pg_temp.foreign_rows()
RETURNS bigint
LANGUAGE sql
AS $$
    SELECT (SELECT count(*) FROM memory.episodes WHERE agent_id IS DISTINCT FROM (SELECT id FROM pg_temp.ids WHERE k = 'beta'))
         + (SELECT count(*) FROM memory.facts WHERE agent_id IS DISTINCT FROM (SELECT id FROM pg_temp.ids WHERE k = 'beta'))
         + (SELECT count(*) FROM memory.working_memory WHERE agent_id IS DISTINCT FROM (SELECT id FROM pg_temp.ids WHERE k = 'beta'))
         + (SELECT count(*) FROM memory.agents WHERE agent_id IS DISTINCT FROM (SELECT id FROM pg_temp.ids WHERE k = 'beta'))
$$;

SELECT tests.act_as('Beta');

-- ---------------------------------------------------------------- role switching
SELECT throws_ok('SET ROLE test_alpha', '42501', 'permission denied to set role "test_alpha"',
    'SET ROLE to Alpha''s login role is refused');
SELECT throws_ok($$SELECT set_config('role', 'test_alpha', false)$$, '42501', 'permission denied to set role "test_alpha"',
    'set_config(''role'', Alpha''s role) is refused');
SELECT throws_ok('SET ROLE memory_owner', '42501', 'permission denied to set role "memory_owner"',
    'SET ROLE memory_owner (owner of every table, bypasses RLS) is refused');
SELECT throws_ok('SET ROLE memory_admin', '42501', 'permission denied to set role "memory_admin"',
    'SET ROLE memory_admin (sees every agent) is refused');
SELECT throws_ok('SET ROLE memory_worker', '42501', 'permission denied to set role "memory_worker"',
    'SET ROLE memory_worker is refused');
SELECT throws_ok('SET ROLE postgres', '42501', 'permission denied to set role "postgres"',
    'SET ROLE postgres is refused');

-- memory_agent itself is granted to Beta: becoming it changes nothing.
SET LOCAL ROLE memory_agent;
SELECT is(current_user::text, 'memory_agent', 'Beta may SET ROLE memory_agent (its group role)');
SELECT is(memory.current_agent(), pg_temp.id('beta'), 'as memory_agent the session is still Beta');
SELECT is(pg_temp.foreign_rows(), 0::bigint, 'as memory_agent Beta still sees no row of another agent');
RESET ROLE;

-- ---------------------------------------------------------------- settings an application might trust
SELECT set_config(g, (SELECT id::text FROM ids WHERE k = 'alpha'), true)
FROM unnest(ARRAY[
    'app.current_agent', 'app.agent_id', 'memory.current_agent', 'memory.agent_id', 'memory.agent',
    'request.jwt.claim.sub', 'request.jwt.claims', 'jwt.claims.agent_id'
]) AS g;
SELECT set_config('application_name', 'test_alpha', true);
SELECT is(memory.current_agent(), pg_temp.id('beta'),
    'custom settings naming Alpha (app.*, memory.*, request.jwt.*) and application_name do not change the current agent');
SELECT is(pg_temp.foreign_rows(), 0::bigint, 'with those settings Beta still sees no row of another agent');
SELECT is(memory._require_agent(), pg_temp.id('beta'), 'the API''s own check still resolves to Beta');

-- ---------------------------------------------------------------- switching protections off
SELECT set_config('row_security', 'off', true);
SELECT throws_ok('SELECT count(*) FROM memory.episodes', '42501',
    'query would be affected by row-level security policy for table "episodes"',
    'with row_security off a query on a protected table fails instead of returning every row');
SELECT set_config('row_security', 'on', true);
SELECT throws_ok('SET session_replication_role = replica', '42501',
    'permission denied to set parameter "session_replication_role"',
    'session_replication_role (which would skip the append-only triggers) cannot be set');
SELECT throws_ok('ALTER TABLE memory.episodes DISABLE ROW LEVEL SECURITY', '42501', 'must be owner of table episodes',
    'Beta cannot disable row-level security');
SELECT throws_ok('ALTER TABLE memory.facts DISABLE TRIGGER facts_guard', '42501', 'must be owner of table facts',
    'Beta cannot disable the append-only trigger of facts');
SELECT throws_ok('DROP POLICY "agents read their own episodes" ON memory.episodes', '42501',
    'must be owner of relation episodes', 'Beta cannot drop a policy');
SELECT throws_ok('CREATE POLICY beta_reads_all ON memory.episodes FOR SELECT TO memory_agent USING (true)', '42501',
    'must be owner of table episodes', 'Beta cannot add a policy');

-- ---------------------------------------------------------------- schema, roles, grants
SELECT throws_ok('CREATE TABLE memory.beta_table (x int)', '42501', 'permission denied for schema memory',
    'Beta cannot create objects in schema memory');
SELECT throws_ok(
    $$CREATE OR REPLACE FUNCTION memory.current_agent() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'$$,
    '42501', 'permission denied for schema memory',
    'Beta cannot replace memory.current_agent()'
);
SELECT throws_ok('CREATE ROLE test_beta_helper LOGIN', '42501', 'permission denied to create role',
    'Beta cannot create roles');
SELECT throws_ok($$ALTER ROLE test_alpha PASSWORD 'taken-over'$$, '42501', 'permission denied',
    'Beta cannot set the password of Alpha''s login role');
SELECT throws_ok('GRANT memory_admin TO test_beta', '42501', 'must have admin option on role "memory_admin"',
    'Beta cannot grant itself memory_admin');
SELECT throws_ok('GRANT memory_agent TO test_alpha', '42501', 'must have admin option on role "memory_agent"',
    'Beta cannot hand out memory_agent');
SELECT throws_ok('UPDATE memory.agents SET db_role = ''test_beta'' WHERE name = ''Alpha''', '42501',
    'permission denied for table agents', 'Beta cannot rebind Alpha''s agent row to its own login role');

-- ---------------------------------------------------------------- shadowing with temporary objects
CREATE TEMP TABLE agents (agent_id uuid, name text, db_role name);
INSERT INTO pg_temp.agents VALUES (pg_temp.id('alpha'), 'Alpha', 'test_beta');
CREATE TEMP TABLE episodes (episode_id uuid, agent_id uuid, content text);
SET LOCAL search_path = pg_temp, memory, tap, public;
SELECT is(memory.current_agent(), pg_temp.id('beta'),
    'a temporary "agents" table first on the search_path does not change the current agent');
SELECT lives_ok($$SELECT memory.remember('beta writes through the shadow')$$,
    'remember works with temporary look-alike tables first on the search_path');
SELECT is(
    (SELECT count(*) FROM memory.episodes WHERE content = 'beta writes through the shadow'),
    1::bigint,
    'the episode went to memory.episodes, not to the temporary look-alike'
);
RESET search_path;

-- ---------------------------------------------------------------- an unbound member of memory_agent
RESET SESSION AUTHORIZATION;
CREATE ROLE test_unbound LOGIN IN ROLE memory_agent;
SET LOCAL SESSION AUTHORIZATION test_unbound;
SELECT is(
    (SELECT count(*) FROM memory.episodes) + (SELECT count(*) FROM memory.agents) + (SELECT count(*) FROM memory.facts),
    0::bigint,
    'a login role granted memory_agent but bound to no agent sees no row at all'
);
SELECT throws_ok($$SELECT memory.remember('who am I')$$, '42501', 'this session is not an agent',
    'a login role granted memory_agent but bound to no agent cannot remember');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
