-- 023: the quota counters cost O(1) per statement inside a long transaction (issue 16;
-- functions in sql/functions/170-quotas.sql, docs/decisions.md, "Quota counters
-- inside long transactions").
-- Since migration 021 every write statement updated its agent's counter row in
-- memory.agent_usage, twice (the owner's quota trigger, the queue's pending-jobs
-- trigger). Within one transaction the row's old versions cannot be pruned, so each
-- update walked a HOT chain as long as the statements before it: 10,000 single-row
-- INSERTs in one transaction took x3.95 the time of a table without triggers.
-- Now a transaction updates a counter row directly for its first two counts only;
-- later counts go to memory.agent_usage_tx, one new row per count holding the
-- transaction's running totals for (agent, shard) (insert only: no chain), and a
-- deferred constraint trigger adds the last totals to the counter row once, at commit,
-- and deletes the transaction's rows. Unlogged: its rows only ever belong to
-- transactions in progress, which a crash aborts anyway.
SET LOCAL ROLE memory_owner;

CREATE UNLOGGED TABLE IF NOT EXISTS memory.agent_usage_tx (
    tx xid8 NOT NULL,
    agent_id uuid NOT NULL,
    shard smallint NOT NULL,
    seq integer NOT NULL,
    stored_bytes bigint NOT NULL,
    window_episodes bigint NOT NULL,
    pending_jobs bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_usage_tx_latest ON memory.agent_usage_tx (tx, agent_id, shard, seq);
COMMENT ON TABLE memory.agent_usage_tx IS
'the quota counts of transactions in progress beyond their first two (memory._add_usage): one row per count with the transaction''s running totals for an agent and counter shard; folded into memory.agent_usage at commit by a deferred trigger, which deletes them';

ALTER TABLE memory.agent_usage_tx ENABLE ROW LEVEL SECURITY;
DO $policy$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'memory.agent_usage_tx'::regclass
    ) THEN
        CREATE POLICY "operators read the counts of transactions in progress" ON memory.agent_usage_tx
        AS PERMISSIVE FOR SELECT TO memory_admin USING (true);
    END IF;
END
$policy$;
