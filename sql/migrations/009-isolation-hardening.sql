-- 009: hardening found by the isolation suite.
-- * fact_links' key includes the agent: a link of another agent can no longer collide
--   with one's own (a unique violation would tell that it exists).
-- * jsonb size limits measure the JSON text, as the API functions do: pg_column_size
--   measures a compressed value and let 5 MB of repetitive JSON through.
SET LOCAL ROLE memory_owner;

ALTER TABLE memory.fact_links DROP CONSTRAINT fact_links_pkey;
ALTER TABLE memory.fact_links ADD PRIMARY KEY (agent_id, from_fact, to_fact, relation);

ALTER TABLE memory.working_memory DROP CONSTRAINT working_memory_content_size;
ALTER TABLE memory.working_memory ADD CONSTRAINT working_memory_content_size
CHECK (octet_length(content::text) <= 1048576);

ALTER TABLE memory.agent_state DROP CONSTRAINT agent_state_context_size;
ALTER TABLE memory.agent_state ADD CONSTRAINT agent_state_context_size
CHECK (octet_length(working_context::text) <= 1048576);
