-- 005: pg_cron jobs of core memory and instances (issue 3).
-- The commands call functions of sql/functions/060-core-memory.sql and
-- 070-instances.sql, applied after the migrations; a job only runs them later.
--   memory-auto-checkpoint: every 10 minutes, an 'auto' checkpoint for every agent
--     whose identity hash changed since its latest checkpoint.
--   memory-instance-liveness: every minute, instances without a heartbeat for
--     memory.instance_liveness_threshold() (2 minutes) are marked offline.
-- Scheduling a job for memory_operator needs a superuser: it comes first.
SELECT memory.schedule_job('memory-auto-checkpoint', '*/10 * * * *', 'SELECT memory.auto_checkpoint()');
SELECT memory.schedule_job('memory-instance-liveness', '* * * * *', 'SELECT memory.mark_stale_instances_offline()');

SET LOCAL ROLE memory_owner;
