-- 011: the Redis cache of working memory and blocks, and operations (issue 6).
-- Functions live in sql/functions/150-cache.sql, 160-operations.sql and 090-health.sql.
--   * memory.cache_reconcile_requests: asks the embed daemon's cache warmer to compare
--     Postgres and Redis and repair what differs (pg_cron memory-cache-reconcile,
--     memory.request_cache_reconcile()).
--   * memory.cache_repairs: what each reconciliation checked and repaired (health()).
--   * memory.cache_warmers: one row per daemon's cache warmer: Redis reachable, sync lag.
--   * memory.operations_settings: one row; embedding_paused stops claims of the queue.
--   * memory.cron_status: the pg_cron jobs of memory_operator with their last run, copied
--     by the job memory-cron-status (memory.health() runs as memory_owner, which cannot
--     read another user's rows of cron.job).
-- None of these tables holds memory content or an agent id: operators only (RLS with an
-- operators' policy; the daemon writes through SECURITY DEFINER functions).
-- Scheduling a job for memory_operator needs a superuser: it comes first.
SELECT memory.schedule_job('memory-cache-reconcile', '*/5 * * * *', 'SELECT memory.request_cache_reconcile(''cron'')');
SELECT memory.schedule_job('memory-cron-status', '* * * * *', 'SELECT memory.record_cron_status()');

SET LOCAL ROLE memory_owner;

CREATE TABLE memory.cache_reconcile_requests (
    request_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reason text NOT NULL DEFAULT 'manual'
        CONSTRAINT cache_reconcile_requests_reason_format CHECK (reason ~ '^[a-z][a-z0-9_-]{0,39}$'),
    requested_at timestamptz NOT NULL DEFAULT now(),
    requested_by text NOT NULL DEFAULT session_user,
    claimed_at timestamptz,
    claimed_by text,
    finished_at timestamptz
);
COMMENT ON TABLE memory.cache_reconcile_requests IS
'requests for a reconciliation of the Redis cache with Postgres; claimed and finished by an embed daemon';
CREATE INDEX cache_reconcile_requests_open_idx ON memory.cache_reconcile_requests (requested_at)
WHERE finished_at IS NULL;

CREATE TABLE memory.cache_repairs (
    repair_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint REFERENCES memory.cache_reconcile_requests (request_id) ON DELETE SET NULL,
    worker_name text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    ok boolean NOT NULL,
    checked bigint NOT NULL DEFAULT 0 CONSTRAINT cache_repairs_checked_positive CHECK (checked >= 0),
    missing bigint NOT NULL DEFAULT 0 CONSTRAINT cache_repairs_missing_positive CHECK (missing >= 0),
    stale bigint NOT NULL DEFAULT 0 CONSTRAINT cache_repairs_stale_positive CHECK (stale >= 0),
    extra bigint NOT NULL DEFAULT 0 CONSTRAINT cache_repairs_extra_positive CHECK (extra >= 0),
    expired bigint NOT NULL DEFAULT 0 CONSTRAINT cache_repairs_expired_positive CHECK (expired >= 0),
    error text CONSTRAINT cache_repairs_error_length CHECK (char_length(error) <= 2000)
);
COMMENT ON TABLE memory.cache_repairs IS
'one row per reconciliation of the Redis cache: keys checked and repaired (missing, stale, extra, expired but present)';
CREATE INDEX cache_repairs_finished_idx ON memory.cache_repairs (finished_at DESC);

CREATE TABLE memory.cache_warmers (
    worker_name text PRIMARY KEY,
    redis_connected boolean NOT NULL,
    events_applied bigint NOT NULL DEFAULT 0,
    redis_errors bigint NOT NULL DEFAULT 0,
    sync_lag_seconds double precision,
    last_error text CONSTRAINT cache_warmers_error_length CHECK (char_length(last_error) <= 2000),
    last_heartbeat timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.cache_warmers IS
'the cache warmer of each embed daemon: whether Redis answers, events applied, Redis errors, last sync lag';

CREATE TABLE memory.operations_settings (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT operations_settings_one_row CHECK (singleton),
    embedding_paused boolean NOT NULL DEFAULT false,
    paused_at timestamptz,
    paused_by text,
    pause_reason text CONSTRAINT operations_settings_reason_length CHECK (char_length(pause_reason) <= 500)
);
COMMENT ON TABLE memory.operations_settings IS
'operators'' switches (one row): embedding_paused stops memory.claim_embedding_batch from handing out jobs';
INSERT INTO memory.operations_settings DEFAULT VALUES;

CREATE TABLE memory.cron_status (
    jobname text PRIMARY KEY,
    schedule text NOT NULL,
    active boolean NOT NULL,
    last_status text,
    last_start timestamptz,
    last_end timestamptz,
    last_message text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.cron_status IS
'the memory-* pg_cron jobs and their last run, copied every minute by memory-cron-status for memory.health()';

ALTER TABLE memory.cache_reconcile_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.cache_repairs ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.cache_warmers ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.operations_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.cron_status ENABLE ROW LEVEL SECURITY;
CREATE POLICY "operators manage cache reconcile requests" ON memory.cache_reconcile_requests
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage cache repairs" ON memory.cache_repairs
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage cache warmers" ON memory.cache_warmers
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage operations settings" ON memory.operations_settings
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage cron status" ON memory.cron_status
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
