-- 003: memory.schedule_job, the one way migrations create pg_cron jobs.
-- Jobs are named memory-*, run in this database as memory_operator (so the operator
-- sees them in cron.job), and are created or updated by name, so re-running is safe.
-- In a database without pg_cron (a scratch copy), scheduling is skipped with a notice.
CREATE FUNCTION memory.schedule_job(job_name text, schedule text, command text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF job_name !~ '^memory-[a-z0-9-]+$' THEN
        RAISE EXCEPTION 'job name % must match memory-[a-z0-9-]+', job_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE NOTICE 'pg_cron is not installed in database %; job % not scheduled', current_database(), job_name;
        RETURN NULL;
    END IF;
    SELECT j.jobid INTO id FROM cron.job AS j WHERE j.jobname = job_name AND j.username = 'memory_operator';
    IF id IS NULL THEN
        id := cron.schedule_in_database(job_name, schedule, command, current_database(), 'memory_operator', true);
    ELSE
        PERFORM cron.alter_job(id, schedule, command, current_database(), 'memory_operator', true);
    END IF;
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory.schedule_job(text, text, text) IS
'Migrations only: creates or updates the pg_cron job job_name (memory-*) to run command on schedule in this database as memory_operator. Returns the job id, NULL where pg_cron is absent. Raises 22023 for a bad name.';
