-- 036: each large agent's frequent words, so that a search need not count them (issue
-- 16; sql/functions/105-search-text.sql, 155-jobs.sql). A search weighs each word of
-- the question by the number of the agent's own rows holding it, counted through the GIN
-- index and bounded at 1,000 (a word in 1,000 rows or more weighs nothing). The count
-- reads up to 1,000 heap rows per word: for an agent of 100,000 episodes whose question
-- holds common words, most of a search's time. The words that were in 1,000 or more of
-- an agent's rows at the last refresh (the memory-frequent-lexemes job, from ts_stat over
-- the agent's own rows) are skipped without counting; every other word is counted as
-- before. Only agents with 1,000 rows or more have a row; no agent reads the table (the
-- search's SECURITY DEFINER word counts read the caller's row only).
SET LOCAL ROLE memory_owner;

CREATE TABLE memory.agent_frequent_lexemes (
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    source text NOT NULL CHECK (source IN ('episodes', 'facts')),
    lexemes tsvector NOT NULL,
    rows_counted bigint NOT NULL CHECK (rows_counted >= 0),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, source)
);
COMMENT ON TABLE memory.agent_frequent_lexemes IS
'The lexemes in 1,000 or more of an agent''s own rows of memory.<source> (episodes or facts) when the memory-frequent-lexemes job last counted them (rows_counted rows, at refreshed_at): memory._term_weights gives them weight 0 without counting. Agents with 1,000 rows or more only. Written by memory.refresh_frequent_lexemes(); read by no agent.';
REVOKE ALL ON memory.agent_frequent_lexemes FROM PUBLIC;
ALTER TABLE memory.agent_frequent_lexemes ENABLE ROW LEVEL SECURITY;
-- operators only (house style 11: every table has row-level security and a policy)
CREATE POLICY "operators read every agent's frequent lexemes" ON memory.agent_frequent_lexemes
FOR SELECT TO memory_admin USING (true);

RESET ROLE;

SELECT memory.schedule_job('memory-frequent-lexemes', '41 * * * *', 'SELECT memory.refresh_frequent_lexemes()');
