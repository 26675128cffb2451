-- Agents: binding login roles to agents, the current agent.
SET ROLE memory_owner;

-- PL/pgSQL, not SQL: a session keeps the plan of its one statement. A search calls it
-- about ten times (row-level security of each statement, the private functions), and
-- as an SQL function (never inlined: SECURITY DEFINER) it was planned on every call.
CREATE OR REPLACE FUNCTION memory.current_agent()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT a.agent_id FROM memory.agents AS a WHERE a.db_role = session_user);
END
$$;

COMMENT ON FUNCTION memory.current_agent() IS
'The agent of this session, from the login role (session_user) bound by create_agent; NULL when the session is not an agent. SET ROLE and set_config cannot change it.';

-- Private: the current agent, or an error the caller can act on.
CREATE OR REPLACE FUNCTION memory._require_agent()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory.current_agent();
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'this session is not an agent'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('login role %s is not bound to any agent', session_user),
                  HINT = 'connect as an agent''s login role; an operator binds one with memory.create_agent(name, db_role)';
    END IF;
    RETURN me;
END
$$;

COMMENT ON FUNCTION memory._require_agent() IS
'Private: returns memory.current_agent() or raises insufficient_privilege (42501).';

-- Private: the part of create_agent that needs memory_owner's rights (the agents row,
-- the grant of memory_agent, which memory_owner holds WITH ADMIN OPTION).
CREATE OR REPLACE FUNCTION memory._bind_agent(name text, db_role name)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id uuid;
    r record;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid agent name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %L', name),
                  HINT = 'a letter followed by up to 62 letters, digits, _ or -';
    END IF;
    SELECT rolname, rolsuper, rolcanlogin INTO r FROM pg_catalog.pg_roles WHERE rolname = db_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % does not exist', db_role
            USING ERRCODE = 'undefined_object',
                  HINT = 'create the login role first: CREATE ROLE ... LOGIN PASSWORD ...';
    END IF;
    IF r.rolsuper OR db_role LIKE 'memory\_%' OR db_role = 'postgres' THEN
        RAISE EXCEPTION 'role % cannot be an agent', db_role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bind a dedicated login role that is neither a superuser nor one of the memory_* roles';
    END IF;
    IF EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.name = _bind_agent.name) THEN
        RAISE EXCEPTION 'agent % already exists', name
            USING ERRCODE = 'unique_violation', HINT = 'choose another name';
    END IF;
    IF EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.db_role = _bind_agent.db_role) THEN
        RAISE EXCEPTION 'role % is already bound to an agent', db_role
            USING ERRCODE = 'unique_violation', HINT = 'each agent needs its own login role';
    END IF;
    INSERT INTO memory.agents (name, db_role) VALUES (_bind_agent.name, _bind_agent.db_role)
    RETURNING agent_id INTO new_id;
    EXECUTE format('GRANT memory_agent TO %I', db_role);
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory._bind_agent(text, name) IS
'Private (create_agent): binds an existing login role to a new agent and grants it memory_agent. Returns the agent id. Raises 22023 (bad name, superuser or memory_* role), 42704 (no such role), 23505 (name or role taken).';

-- SECURITY INVOKER: the role limits need ALTER ROLE, that is the operator's CREATEROLE.
CREATE OR REPLACE FUNCTION memory.create_agent(name text, db_role name)
RETURNS uuid
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id uuid := memory._bind_agent(name, db_role);
BEGIN
    PERFORM memory.apply_agent_limits(name);
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory.create_agent(text, name) IS
'Admin (a role with CREATEROLE, e.g. memory_operator): binds an existing login role to a new agent, grants it memory_agent and sets the role limits of memory.quota_settings on the role (CONNECTION LIMIT, statement_timeout, idle_in_transaction_session_timeout; memory.set_agent_limits changes them). Returns the agent id. Raises 22023 (bad name, superuser or memory_* role), 42704 (no such role), 23505 (name or role taken), 42501 (no CREATEROLE).';
