-- 001: roles, the memory schema, extensions and revoke-by-default privileges.
-- Run by scripts/migrate.sh as a superuser, once, in one transaction.

-- Group roles (no login) and the two login roles the stack itself uses. Passwords of
-- login roles are set at set-up from .secrets/ (scripts/db.sh), never here.
DO $roles$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT *
        FROM (VALUES
            ('memory_owner', 'NOLOGIN'),
            ('memory_agent', 'NOLOGIN'),
            ('memory_worker', 'NOLOGIN'),
            ('memory_reader', 'NOLOGIN'),
            ('memory_admin', 'NOLOGIN'),
            ('memory_operator', 'LOGIN CREATEROLE'),
            ('memory_daemon', 'LOGIN')
        ) AS v (rolname, attrs)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.rolname) THEN
            EXECUTE format('CREATE ROLE %I %s', r.rolname, r.attrs);
        END IF;
    END LOOP;
END
$roles$;

COMMENT ON ROLE memory_owner IS 'owns every object of schema memory; no login';
COMMENT ON ROLE memory_agent IS 'granted to each agent''s login role by memory.create_agent';
COMMENT ON ROLE memory_worker IS 'the embed daemon: queue and cache functions only';
COMMENT ON ROLE memory_reader IS 'read-only operator views for monitoring';
COMMENT ON ROLE memory_admin IS 'operators: agent administration and maintenance functions';
COMMENT ON ROLE memory_operator IS 'the operator login (make psql); member of memory_admin';
COMMENT ON ROLE memory_daemon IS 'the embed daemon login; member of memory_worker';

GRANT memory_admin TO memory_operator;
GRANT memory_reader TO memory_admin;
GRANT memory_worker TO memory_daemon;
-- memory_owner grants memory_agent to the roles bound by memory.create_agent.
GRANT memory_agent TO memory_owner WITH ADMIN OPTION;
-- memory.schema_version() reads the runner's table.
GRANT USAGE ON SCHEMA memory_meta TO memory_owner;
GRANT SELECT ON memory_meta.schema_migrations TO memory_owner;

-- Nobody but the roles above may connect to the memory database.
DO $db$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format(
        'GRANT CONNECT, TEMPORARY ON DATABASE %I TO memory_agent, memory_worker, memory_reader, memory_admin',
        current_database()
    );
END
$db$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- pg_cron lives only in the database named by cron.database_name; in any other
-- database (a scratch copy, the upgrade test) the scheduling parts are skipped.
DO $cron$
BEGIN
    IF pg_catalog.current_setting('cron.database_name', true) = pg_catalog.current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        -- Agents must not schedule jobs or read the job table.
        REVOKE USAGE ON SCHEMA cron FROM PUBLIC;
        REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA cron FROM PUBLIC;
        REVOKE SELECT ON ALL TABLES IN SCHEMA cron FROM PUBLIC;
        GRANT USAGE ON SCHEMA cron TO memory_admin;
        GRANT SELECT ON ALL TABLES IN SCHEMA cron TO memory_admin;
    END IF;
END
$cron$;

CREATE SCHEMA IF NOT EXISTS memory AUTHORIZATION memory_owner;
COMMENT ON SCHEMA memory IS 'long-term memory for AI agents: tables, API functions, views';
REVOKE ALL ON SCHEMA memory FROM PUBLIC;
GRANT USAGE ON SCHEMA memory TO memory_agent, memory_worker, memory_reader, memory_admin;

-- Revoke by default: every function and table of ours is granted explicitly
-- (sql/functions/999-grants.sql).
ALTER DEFAULT PRIVILEGES FOR ROLE memory_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE memory_owner REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE memory_owner REVOKE ALL ON SEQUENCES FROM PUBLIC;
