-- 020: the quota counters are sharded per agent (issue 16 against issue 15).
-- memory.agent_usage had one row per agent, updated by every write of that agent: the
-- row lock, held from the write's trigger to its commit, put every concurrent write of
-- one agent in a single line (the same cliff as a NOTIFY at commit, per agent). Each
-- agent now has up to 16 counter rows, one per shard; a write updates the shard of its
-- backend (pg_backend_pid() % 16), so concurrent sessions of one agent rarely meet on a
-- row, and the quotas read the sum of the agent's shards.
SET LOCAL ROLE memory_owner;

ALTER TABLE memory.agent_usage
ADD COLUMN shard smallint NOT NULL DEFAULT 0 CONSTRAINT agent_usage_shard_range CHECK (shard BETWEEN 0 AND 15);
ALTER TABLE memory.agent_usage DROP CONSTRAINT agent_usage_pkey;
ALTER TABLE memory.agent_usage ADD CONSTRAINT agent_usage_pkey PRIMARY KEY (agent_id, shard);
COMMENT ON TABLE memory.agent_usage IS
'each agent''s counters for its quotas, in up to 16 shards (a write counts in its backend''s shard; the quotas sum them): bytes of episode and fact text stored (a shard may be negative), episodes written in the shard''s current minute';
