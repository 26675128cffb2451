-- 026: memory_exporter, the login of prometheus-postgres-exporter (scripts/exporter.sh,
-- `make up`): a member of memory_reader (monitoring: health, health_metrics, the health
-- report; no memory content), like any monitoring login. Its password is set at set-up
-- from .secrets/ (scripts/db.sh), never here.
DO $role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'memory_exporter') THEN
        CREATE ROLE memory_exporter LOGIN;
    END IF;
END
$role$;

COMMENT ON ROLE memory_exporter IS 'the database gauges exporter login; member of memory_reader';
GRANT memory_reader TO memory_exporter;
