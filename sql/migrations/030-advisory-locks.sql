-- 030: advisory locks are the project's own (issue 15). The project's functions take
-- advisory locks on keys derived from an agent's id (the deletion lock that the embed
-- daemon tries before it writes an agent's vectors, the identity lock of checkpoints and
-- restores). With EXECUTE on the pg_advisory_* functions, which every role has by
-- default, an agent holding another agent's key in its own session could stall that
-- agent's embedding or checkpoints for as long as it kept the session (it needs the
-- other agent's id). In this database the functions are executable only by the roles
-- that run the project's code: memory_owner (every SECURITY DEFINER function and
-- trigger), memory_worker (the embed daemon) and memory_admin (operators). Superusers
-- (pg_cron, Patroni) are not affected. An agent's own call fails with 42501.
DO $acl$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory%'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO memory_owner, memory_worker, memory_admin', f);
    END LOOP;
END
$acl$;
