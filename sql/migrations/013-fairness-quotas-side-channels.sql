-- 013: fair to every agent, and nothing of one agent reaches another (issue 15).
--   * Quotas: operator defaults (memory.quota_settings, one row) and per-agent overrides
--     (memory.agent_quotas): stored bytes, episodes per minute, queued embedding jobs,
--     and the limits create_agent sets on each agent's login role (connections,
--     statement_timeout, idle_in_transaction_session_timeout). memory.agent_usage keeps
--     each agent's counters, maintained by triggers (sql/functions/170-quotas.sql).
--   * Fair claiming: an index to take each agent's next jobs in its own order.
--   * The cache warmer's notifications carry no identifiers: what changed is written to
--     memory.cache_changes, which only the daemon reads (through a function).
--   * episode_access_log: a row only for an episode of the agent's own (its size is
--     capped by a trigger, sql/functions/170-quotas.sql).
SET LOCAL ROLE memory_owner;

CREATE TABLE memory.quota_settings (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT quota_settings_one_row CHECK (singleton),
    -- text of the agent's episodes and facts, in bytes (octet_length)
    max_stored_bytes bigint NOT NULL DEFAULT 1073741824
        CONSTRAINT quota_settings_stored_bytes_positive CHECK (max_stored_bytes > 0),
    max_episodes_per_minute integer NOT NULL DEFAULT 6000
        CONSTRAINT quota_settings_episodes_positive CHECK (max_episodes_per_minute > 0),
    -- embedding jobs of the agent waiting in the queue (pending)
    max_queued_jobs integer NOT NULL DEFAULT 20000
        CONSTRAINT quota_settings_queued_positive CHECK (max_queued_jobs > 0),
    connection_limit integer NOT NULL DEFAULT 32
        CONSTRAINT quota_settings_connection_limit_range CHECK (connection_limit BETWEEN 1 AND 10000),
    statement_timeout interval NOT NULL DEFAULT '60 seconds'
        CONSTRAINT quota_settings_statement_timeout_range
        CHECK (statement_timeout BETWEEN '100 milliseconds' AND '1 day'),
    idle_in_transaction_timeout interval NOT NULL DEFAULT '5 minutes'
        CONSTRAINT quota_settings_idle_timeout_range
        CHECK (idle_in_transaction_timeout BETWEEN '100 milliseconds' AND '1 day')
);
COMMENT ON TABLE memory.quota_settings IS
'operators'' default quotas and role limits of every agent (one row); memory.agent_quotas overrides them per agent';
INSERT INTO memory.quota_settings DEFAULT VALUES;

CREATE TABLE memory.agent_quotas (
    agent_id uuid PRIMARY KEY REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    max_stored_bytes bigint CONSTRAINT agent_quotas_stored_bytes_positive CHECK (max_stored_bytes > 0),
    max_episodes_per_minute integer CONSTRAINT agent_quotas_episodes_positive CHECK (max_episodes_per_minute > 0),
    max_queued_jobs integer CONSTRAINT agent_quotas_queued_positive CHECK (max_queued_jobs > 0),
    connection_limit integer CONSTRAINT agent_quotas_connection_limit_range CHECK (connection_limit BETWEEN 1 AND 10000),
    statement_timeout interval CONSTRAINT agent_quotas_statement_timeout_range
    CHECK (statement_timeout BETWEEN '100 milliseconds' AND '1 day'),
    idle_in_transaction_timeout interval CONSTRAINT agent_quotas_idle_timeout_range
    CHECK (idle_in_transaction_timeout BETWEEN '100 milliseconds' AND '1 day')
);
COMMENT ON TABLE memory.agent_quotas IS
'per-agent overrides of memory.quota_settings (NULL: the default applies); set with memory.set_agent_limits';

CREATE TABLE memory.agent_usage (
    agent_id uuid PRIMARY KEY REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    stored_bytes bigint NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT now(),
    window_episodes integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE memory.agent_usage IS
'each agent''s counters for its quotas: bytes of episode and fact text stored, episodes written in the current minute';

INSERT INTO memory.agent_usage (agent_id, stored_bytes)
SELECT
    a.agent_id,
    coalesce((SELECT sum(octet_length(e.content)) FROM memory.episodes AS e WHERE e.agent_id = a.agent_id), 0)
    + coalesce((
        SELECT sum(octet_length(f.concept) + octet_length(f.statement)) FROM memory.facts AS f
        WHERE f.agent_id = a.agent_id
    ), 0) AS stored_bytes
FROM memory.agents AS a;

ALTER TABLE memory.quota_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.agent_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.agent_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY "operators manage the quota settings" ON memory.quota_settings
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage the agents' quotas" ON memory.agent_quotas
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage the agents' usage" ON memory.agent_usage
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);

-- When each agent was last served by a claim: within a turn, the agents served least
-- recently go first, so the turns rotate across claims. Written by the claim only (the
-- daemon), never by an agent's write: an agent's open transaction cannot stall a claim.
CREATE TABLE memory.claim_turns (
    agent_id uuid PRIMARY KEY REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    last_claimed_at timestamptz NOT NULL
);
COMMENT ON TABLE memory.claim_turns IS
'when the embedding queue last handed out a job of each agent (fair claiming rotates on it)';
ALTER TABLE memory.claim_turns ENABLE ROW LEVEL SECURITY;
CREATE POLICY "operators manage the claim turns" ON memory.claim_turns
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);

-- Each agent's pending jobs in its own order (fair claiming; the queued-jobs quota).
CREATE INDEX embedding_jobs_agent_pending_idx ON memory.embedding_jobs (agent_id, priority DESC, enqueued_at, job_id)
WHERE state = 'pending';

-- What the cache warmer must refresh; the notification says only that something changed.
CREATE TABLE memory.cache_changes (
    change_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL,
    -- NULL: the agent's blocks changed
    working_id uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.cache_changes IS
'working-memory items and block sets the Redis cache must refresh; taken (deleted) by the daemon''s cache warmer';
CREATE INDEX cache_changes_changed_at_idx ON memory.cache_changes (changed_at);
ALTER TABLE memory.cache_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "operators manage the cache changes" ON memory.cache_changes
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);

-- An agent logs access only to an episode of its own.
DROP POLICY "agents log access to their own episodes" ON memory.episode_access_log;
CREATE POLICY "agents log access to their own episodes" ON memory.episode_access_log
AS PERMISSIVE FOR INSERT TO memory_agent
WITH CHECK (
    agent_id = (SELECT memory.current_agent())
    AND EXISTS (
        SELECT 1 FROM memory.episodes AS e
        WHERE e.episode_id = episode_access_log.episode_id AND e.agent_id = (SELECT memory.current_agent())
    )
);
