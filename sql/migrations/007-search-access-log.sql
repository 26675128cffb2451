-- 007: access statistics for search without writing to episodes on the read path.
-- A search appends one row per returned episode to an unlogged log (cheap, no lock on
-- the episode); a pg_cron job folds the log into episodes.access_count and
-- last_accessed_at every minute. Losing the log in a crash only loses statistics.
SET LOCAL ROLE memory_owner;

CREATE UNLOGGED TABLE memory.episode_access_log (
    agent_id uuid NOT NULL DEFAULT memory.current_agent(),
    episode_id uuid NOT NULL,
    accessed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.episode_access_log IS
'episodes returned by searches, folded into episodes.access_count by the memory-fold-access-stats job';
CREATE INDEX episode_access_log_accessed_idx ON memory.episode_access_log (accessed_at);

ALTER TABLE memory.episode_access_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY "agents log access to their own episodes" ON memory.episode_access_log
AS PERMISSIVE FOR INSERT TO memory_agent
WITH CHECK (agent_id = (SELECT memory.current_agent()));
CREATE POLICY "operators manage the access log" ON memory.episode_access_log
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);

RESET ROLE;
SELECT memory.schedule_job('memory-fold-access-stats', '* * * * *', 'SELECT memory.fold_access_stats()');
