-- 015: erasure (issue 20, item 1). Functions live in sql/functions/180-lifetime.sql.
--   * memory.agent_drops: one row per agent being dropped (or dropped): the progress of
--     memory.drop_agent (current table, rows removed per table, batches), so a drop
--     that was interrupted continues where its last committed batch ended. When done it
--     is the erasure's tombstone: id, name, who, when and counts, no content.
--   * memory.query_embedding_askers: which agents caused or reused each cached query
--     embedding (the cache itself records nobody), so a dropped agent's cached queries
--     that no other agent asked for are removed with it. Unlogged like the cache.
--   * an index on embedding_jobs (agent_id): dropping and counting an agent's jobs
--     without reading the whole queue.
SET LOCAL ROLE memory_owner;

CREATE TABLE IF NOT EXISTS memory.agent_drops (
    agent_id uuid PRIMARY KEY,
    agent_name text NOT NULL,
    db_role name NOT NULL,
    requested_by text NOT NULL DEFAULT session_user,
    requested_at timestamptz NOT NULL DEFAULT now(),
    -- the table being emptied (NULL before the first batch and when done)
    current_table text,
    -- rows removed per table, e.g. {"memory.episodes": 100000, ...}
    removed jsonb NOT NULL DEFAULT '{}' CONSTRAINT agent_drops_removed_object CHECK (jsonb_typeof(removed) = 'object'),
    batches integer NOT NULL DEFAULT 0,
    passes integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
COMMENT ON TABLE memory.agent_drops IS
'memory.drop_agent: progress of each agent''s erasure (resumable), then its tombstone (id, name, who, when, rows removed per table; no content)';

CREATE UNLOGGED TABLE IF NOT EXISTS memory.query_embedding_askers (
    model_id smallint NOT NULL,
    query_sha256 bytea NOT NULL,
    agent_id uuid NOT NULL,
    first_asked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, query_sha256, agent_id),
    FOREIGN KEY (model_id, query_sha256) REFERENCES memory.query_embedding_cache (model_id, query_sha256)
    ON DELETE CASCADE
);
COMMENT ON TABLE memory.query_embedding_askers IS
'the agents that stored or reused (a counted hit) each cached query embedding; drop_agent removes cache rows only the dropped agent asked for';
CREATE INDEX IF NOT EXISTS query_embedding_askers_agent_idx ON memory.query_embedding_askers (agent_id);

CREATE INDEX IF NOT EXISTS embedding_jobs_agent_idx ON memory.embedding_jobs (agent_id);

-- Operators only: agents neither see nor write these.
ALTER TABLE memory.agent_drops ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.query_embedding_askers ENABLE ROW LEVEL SECURITY;
DO $policies$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'operators read agent drops') THEN
        CREATE POLICY "operators read agent drops" ON memory.agent_drops
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'operators read the query askers') THEN
        CREATE POLICY "operators read the query askers" ON memory.query_embedding_askers
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
    END IF;
END
$policies$;
