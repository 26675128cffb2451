-- Version functions the daemon and tools check before they touch anything.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.api_version()
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1 $$;

COMMENT ON FUNCTION memory.api_version() IS
'Version of the worker-facing SQL API. The embed daemon refuses to run against a version it does not know.';

CREATE OR REPLACE FUNCTION memory.schema_version()
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT max(name) FROM memory_meta.schema_migrations $$;

COMMENT ON FUNCTION memory.schema_version() IS
'Name of the newest applied migration (e.g. 002-memory-model.sql).';
