-- Seed (optional, `make seed`; never run by migrations): the login roles agent_nexus
-- and agent_aria, bound to the agents NEXUS and ARIA. Their passwords are set by
-- scripts/seed.sh from .secrets/. Idempotent: what exists is left alone.
DO $seed$
DECLARE
    r record;
    bound name;
BEGIN
    FOR r IN
        SELECT * FROM (VALUES ('NEXUS', 'agent_nexus'), ('ARIA', 'agent_aria')) AS v (agent_name, role_name)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r.role_name);
        END IF;
        SELECT a.db_role INTO bound FROM memory.agents AS a WHERE a.name = r.agent_name;
        IF NOT FOUND THEN
            PERFORM memory.create_agent(r.agent_name, r.role_name);
        ELSIF bound <> r.role_name THEN
            RAISE EXCEPTION 'agent % is bound to role %, not %', r.agent_name, bound, r.role_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'the seed expects its own roles; leave this database unseeded or rebind the agent';
        END IF;
    END LOOP;
END
$seed$;
