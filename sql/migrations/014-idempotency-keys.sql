-- 014: idempotency keys for remember, learn_fact and set_working_memory (issue 18).
-- An agent whose COMMIT acknowledgement was lost (a failover, a dropped connection)
-- retries with the same key: the retry returns the first id and stores nothing.
--   * memory.idempotency_keys: one row per (agent, key), written in the transaction of
--     the write it guards, so the key and the write commit or vanish together. The
--     primary key serialises concurrent retries: the second waits for the first and
--     then reads its result (sql/functions/016-idempotency.sql).
--   * kept 24 hours (memory.idempotency_retention()); the pg_cron job
--     memory-prune-idempotency-keys deletes older keys every hour.
-- Scheduling a job for memory_operator needs a superuser: it comes first.
SELECT memory.schedule_job('memory-prune-idempotency-keys', '17 * * * *', 'SELECT memory.prune_idempotency_keys()');

SET LOCAL ROLE memory_owner;

CREATE TABLE IF NOT EXISTS memory.idempotency_keys (
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    idempotency_key text NOT NULL
        CONSTRAINT idempotency_keys_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
    operation text NOT NULL
        CONSTRAINT idempotency_keys_operation_known CHECK (operation IN ('remember', 'learn_fact', 'set_working_memory')),
    request_sha256 bytea NOT NULL CONSTRAINT idempotency_keys_sha_length CHECK (octet_length(request_sha256) = 32),
    -- NULL only inside the transaction that claimed the key (set before it commits)
    result_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, idempotency_key)
);
COMMENT ON TABLE memory.idempotency_keys IS
'idempotency keys of remember, learn_fact and set_working_memory: per agent, the sha256 of the request and the id it returned; kept 24 hours';
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON memory.idempotency_keys (created_at);

ALTER TABLE memory.idempotency_keys ENABLE ROW LEVEL SECURITY;
DO $rls$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = 'memory.idempotency_keys'::regclass) THEN
        CREATE POLICY "agents read their own idempotency keys" ON memory.idempotency_keys
        AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "agents add their own idempotency keys" ON memory.idempotency_keys
        AS PERMISSIVE FOR INSERT TO memory_agent WITH CHECK (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "agents change their own idempotency keys" ON memory.idempotency_keys
        AS PERMISSIVE FOR UPDATE TO memory_agent
        USING (agent_id = (SELECT memory.current_agent())) WITH CHECK (agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "operators manage every agent's idempotency keys" ON memory.idempotency_keys
        AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
    END IF;
END
$rls$;
