-- 008: indexes of the search path.
-- chunks by agent: for an agent that holds a small share of all chunks the planner
-- ranks its chunks exactly (a few thousand distances) instead of walking the HNSW
-- graph past other agents' neighbours; both paths give the same top-k.
-- episodes' full text by agent (btree_gin): a question's common words match many
-- episodes of every agent; the bitmap then holds only the asking agent's.
CREATE EXTENSION IF NOT EXISTS btree_gin;
SET LOCAL ROLE memory_owner;
CREATE INDEX IF NOT EXISTS chunks_agent_model_idx ON memory.chunks (agent_id, model_id);
CREATE INDEX IF NOT EXISTS episodes_agent_fts_idx ON memory.episodes USING gin (agent_id, fts);
CREATE INDEX IF NOT EXISTS facts_agent_fts_idx ON memory.facts USING gin (agent_id, fts);
