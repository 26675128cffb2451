-- 022: consolidation of near-duplicate episodes (issue 20, item 3). Functions:
-- sql/functions/185-consolidation.sql. Decisions: docs/decisions.md ("Consolidation").
--   * memory.consolidations: one row per merge, readable by the agent it belongs to: the
--     merged episode's id, the id that was kept, the two similarities that matched, the
--     merged episode's whole row (jsonb, without its generated columns) so that
--     memory.undo_consolidation can put it back exactly, and what the merge added to the
--     kept episode (tags, metadata keys, importance). An undone merge keeps its row
--     (undone_at set, the copy cleared), which also stops the job from merging that pair
--     again. kept_id references the kept episode ON DELETE CASCADE: forgetting the kept
--     episode forgets its merged copies with it.
--   * memory.consolidation_progress: per agent, how far the memory-consolidation job has
--     read the agent's chunks (a chunk_id cursor), for operators.
--   * pg_trgm: the text side of the match (trigram similarity, language-neutral).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
-- every 15 minutes, a bounded number of batches over all agents (memory.run_consolidation)
SELECT memory.schedule_job('memory-consolidation', '*/15 * * * *', 'SELECT memory.run_consolidation()');
SET LOCAL ROLE memory_owner;

CREATE TABLE IF NOT EXISTS memory.consolidations (
    consolidation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    merged_id uuid NOT NULL,
    kept_id uuid NOT NULL REFERENCES memory.episodes (episode_id) ON DELETE CASCADE,
    cosine real NOT NULL CONSTRAINT consolidations_cosine_range CHECK (cosine BETWEEN -1 AND 1.001),
    text_similarity real NOT NULL CONSTRAINT consolidations_text_range CHECK (text_similarity BETWEEN 0 AND 1),
    merged_episode jsonb CONSTRAINT consolidations_copy_object CHECK (jsonb_typeof(merged_episode) = 'object'),
    added_tags text [] NOT NULL DEFAULT '{}',
    added_metadata jsonb NOT NULL DEFAULT '{}',
    kept_importance_before real NOT NULL,
    kept_importance_after real NOT NULL,
    consolidated_at timestamptz NOT NULL DEFAULT now(),
    consolidated_by text NOT NULL DEFAULT session_user,
    undone_at timestamptz,
    undone_by text,
    CONSTRAINT consolidations_distinct CHECK (merged_id <> kept_id),
    CONSTRAINT consolidations_copy_until_undone CHECK ((undone_at IS NULL) = (merged_episode IS NOT NULL))
);
COMMENT ON TABLE memory.consolidations IS
'near-duplicate merges: merged id, kept id, similarities, the merged episode''s row (for undo), what the kept one gained; undone rows stay with undone_at';
CREATE UNIQUE INDEX IF NOT EXISTS consolidations_merged_live_idx ON memory.consolidations (merged_id)
WHERE undone_at IS NULL;
CREATE INDEX IF NOT EXISTS consolidations_kept_idx ON memory.consolidations (kept_id);
CREATE INDEX IF NOT EXISTS consolidations_agent_idx ON memory.consolidations (agent_id, consolidated_at DESC);

CREATE TABLE IF NOT EXISTS memory.consolidation_progress (
    agent_id uuid PRIMARY KEY REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    model_id smallint NOT NULL,
    last_chunk_id bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    merged bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.consolidation_progress IS
'per agent: the last chunk the memory-consolidation job compared (chunk_id cursor of the serving model), batches and merges so far';

-- the job reads an agent's chunks in chunk_id order from its cursor
CREATE INDEX IF NOT EXISTS chunks_agent_model_chunk_idx ON memory.chunks (agent_id, model_id, chunk_id)
WHERE episode_id IS NOT NULL;

ALTER TABLE memory.consolidations ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.consolidation_progress ENABLE ROW LEVEL SECURITY;
DO $policies$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'agents read their own consolidations') THEN
        CREATE POLICY "agents read their own consolidations" ON memory.consolidations
        AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "operators read every consolidation" ON memory.consolidations
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
        CREATE POLICY "operators read the consolidation progress" ON memory.consolidation_progress
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
    END IF;
END
$policies$;
