-- 016: retention and decay (issue 20, item 2). Functions: sql/functions/180-lifetime.sql.
--   * memory.retention_policies: one row per agent that has a policy: a maximum age, a
--     maximum number of episodes, an importance floor (on the effective importance, see
--     memory.effective_importance), tags never removed, and the half-life of decay.
--     Set by the agent (its own) or an operator through memory.set_retention_policy.
--   * memory.retention_log: what the memory-retention job removed, when and by which
--     rule: the episode's id, when it happened, its tags and importances, the sha256 of
--     its text (never the text: it is erased). The agent reads its own rows.
SET LOCAL ROLE memory_owner;

CREATE TABLE IF NOT EXISTS memory.retention_policies (
    agent_id uuid PRIMARY KEY DEFAULT memory.current_agent() REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    max_age interval CONSTRAINT retention_policies_max_age_positive CHECK (max_age > interval '0'),
    max_episodes integer CONSTRAINT retention_policies_max_episodes_positive CHECK (max_episodes > 0),
    importance_floor real CONSTRAINT retention_policies_floor_range CHECK (importance_floor BETWEEN 0 AND 1),
    protected_tags text [] NOT NULL DEFAULT '{}'
        CONSTRAINT retention_policies_tags_valid CHECK (memory._valid_tags(protected_tags)),
    decay_half_life interval
        CONSTRAINT retention_policies_half_life_positive CHECK (decay_half_life > interval '0'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE memory.retention_policies IS
'an agent''s retention policy: max age, max episodes, importance floor (effective importance), protected tags, decay half-life';

CREATE TABLE IF NOT EXISTS memory.retention_log (
    log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    episode_id uuid NOT NULL,
    rule text NOT NULL CONSTRAINT retention_log_rule_known CHECK (rule IN ('max_age', 'importance_floor', 'max_episodes')),
    occurred_at timestamptz NOT NULL,
    tags text [] NOT NULL,
    importance real NOT NULL,
    effective_importance real NOT NULL,
    access_count integer NOT NULL,
    content_sha256 bytea NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.retention_log IS
'episodes removed by retention: which, when, by which rule (max_age, importance_floor, max_episodes); no text';
CREATE INDEX IF NOT EXISTS retention_log_agent_idx ON memory.retention_log (agent_id, removed_at DESC);

ALTER TABLE memory.retention_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.retention_log ENABLE ROW LEVEL SECURITY;
DO $policies$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'agents read their own retention policy') THEN
        CREATE POLICY "agents read their own retention policy" ON memory.retention_policies
        AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "operators read every retention policy" ON memory.retention_policies
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
        CREATE POLICY "agents read what retention removed of theirs" ON memory.retention_log
        AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "operators read the retention log" ON memory.retention_log
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
    END IF;
END
$policies$;
