-- Every privilege of the project, in one place, re-applied on each deploy.
-- Functions are revoked from PUBLIC by default (migration 001) and granted here.
RESET ROLE;

-- Functions created by a superuser (the plpython3u ones) are not covered by the
-- default privileges of memory_owner: revoke them from PUBLIC here, every time.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA memory FROM PUBLIC;

GRANT EXECUTE ON FUNCTION memory.api_version() TO memory_agent, memory_worker, memory_reader, memory_admin;
GRANT EXECUTE ON FUNCTION memory.schema_version() TO memory_agent, memory_worker, memory_reader, memory_admin;
