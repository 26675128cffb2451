-- 021: the write hot path (issue 16 with issue 15). Functions in
-- sql/functions/170-quotas.sql (the counter) and 172-embedding-job-owners.sql (the
-- owners' cascade).
--   * memory.agent_usage.pending_jobs: each agent's pending embedding jobs, counted per
--     shard by statement triggers on memory.embedding_jobs, so that the queued-jobs
--     quota reads at most 32 counter rows instead of counting up to 20,001 index
--     entries on every write statement. Shards 16..31 are the embed daemons' (a claim
--     or a completion counts there), so that a daemon never waits on a writer's
--     counter row. The counters are filled from the queue, under a lock, in the same
--     transaction that creates the triggers (170-quotas.sql).
--   * memory.embedding_jobs loses its foreign keys to memory.episodes and memory.facts:
--     the per-row check of a new job (an SPI query that share-locks the new owner row
--     and writes a WAL record) was the largest part of remember()'s overhead. A
--     statement trigger on each owner table deletes the jobs of deleted (or truncated)
--     owners instead, and memory.sweep_orphans() removes any job whose owner is
--     gone (docs/decisions.md, "Embedding jobs without foreign keys to their owners").
SET LOCAL ROLE memory_owner;

ALTER TABLE memory.agent_usage ADD COLUMN IF NOT EXISTS pending_jobs bigint NOT NULL DEFAULT 0;
ALTER TABLE memory.agent_usage DROP CONSTRAINT IF EXISTS agent_usage_shard_range;
ALTER TABLE memory.agent_usage
ADD CONSTRAINT agent_usage_shard_range CHECK (shard BETWEEN 0 AND 31);
COMMENT ON COLUMN memory.agent_usage.pending_jobs IS
'the agent''s pending embedding jobs counted in this shard (a shard may be negative; the quota sums them)';
COMMENT ON TABLE memory.agent_usage IS
'each agent''s counters for its quotas, in up to 32 shards (a write counts in its backend''s shard 0..15, an embed daemon in 16..31; the quotas sum them): bytes of episode and fact text stored, episodes written in the shard''s current minute, pending embedding jobs (shards may be negative)';

-- The counters' foreign key to memory.agents: PostgreSQL checks it again on every update
-- of a row that the same transaction inserted, and a transaction of many writes updates
-- its counter row once per statement (x4.6 in time for 4,000 single-row inserts in one
-- transaction). A statement trigger on memory.agents deletes a dropped agent's counters
-- instead (170-quotas.sql).
ALTER TABLE memory.agent_usage DROP CONSTRAINT IF EXISTS agent_usage_agent_id_fkey;

ALTER TABLE memory.embedding_jobs DROP CONSTRAINT IF EXISTS embedding_jobs_episode_id_fkey;
ALTER TABLE memory.embedding_jobs DROP CONSTRAINT IF EXISTS embedding_jobs_fact_id_fkey;

-- scheduling is the migration runner's (a superuser), as in 017
RESET ROLE;
SELECT memory.schedule_job('memory-sweep-orphans', '17 * * * *', 'SELECT memory.sweep_orphans()');
