-- Test fixtures, loaded by scripts/test-sql.sh into schema tests for the run only.
CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO PUBLIC;

-- Creates a login role (no password: tests switch to it with SET SESSION AUTHORIZATION)
-- and binds it to a new agent. Call inside the test's transaction; ROLLBACK undoes both.
CREATE OR REPLACE FUNCTION tests.make_agent(agent_name text)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    role_name name := 'test_' || lower(agent_name);
BEGIN
    EXECUTE format('CREATE ROLE %I LOGIN', role_name);
    RETURN memory.create_agent(agent_name, role_name);
END
$$;

-- Act as an agent (session_user changes, so memory.current_agent() follows) until the
-- next tests.act_as / tests.act_as_superuser or the end of the transaction.
CREATE OR REPLACE FUNCTION tests.act_as(agent_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', 'test_' || lower(agent_name));
END
$$;
