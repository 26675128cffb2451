-- 035: an agent reads no per-relation statistics (issue 16; docs/security.md). The
-- statistics views (pg_stat_user_tables, pg_stat_user_indexes, pg_statio_*) and the
-- pg_stat_get_* functions behind them show every role the scans, tuples and blocks of
-- every table and index. Most of the project's relations are shared by all agents, so
-- their counters tell when some agent wrote or searched, not who; but an index of one
-- agent's own (sql/functions/047-agent-vector-indexes.sql, `make agent-indexes`) counts
-- that agent's searches alone. In this database the per-relation and per-function
-- counters are executable only by memory_owner, memory_worker, memory_admin and
-- memory_reader (monitoring); superusers are not affected. Database-wide counters
-- (pg_stat_database) stay readable: they add every agent together. An agent's read of
-- pg_stat_user_indexes fails with 42501.
DO $acl$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proname LIKE 'pg\_stat\_get\_%' AND p.proname NOT LIKE 'pg\_stat\_get\_db\_%'
          AND p.proname NOT LIKE 'pg\_stat\_get\_subscription%'
          AND p.pronargs = 1 AND p.proargtypes[0] = 'oid'::regtype
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO memory_owner, memory_worker, memory_admin, memory_reader', f);
    END LOOP;
END
$acl$;
