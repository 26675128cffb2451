-- Test fixtures, loaded by scripts/test-sql.sh into schema tests for the run only.
CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO PUBLIC;
