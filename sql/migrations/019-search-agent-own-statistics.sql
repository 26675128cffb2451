-- 019: search ranks with the agent's own statistics and writes nothing (issues 14, 15, 16).
-- * memory._common_lexemes returned the lexemes that the planner's statistics found in a
--   fifth of ALL agents' rows: any agent could read other agents' frequent words (issue
--   15, item 1), and other agents' data moved an agent's ranking. It is gone; term
--   weights now come from the caller's own rows (memory._term_weights).
-- * The text lists take the question's terms (one tsquery per word) and return scores;
--   the searches fuse by score (text_weight) instead of reciprocal rank (rrf_k).
-- * A search no longer appends to memory.episode_access_log (it could not run on a
--   read replica); memory.mark_used records use, for the caller's own episodes only,
--   and agents lose their direct INSERT on the log (sql/functions/999-grants.sql).
-- The new definitions are in sql/functions/100-search-helpers.sql and 110-search.sql.
SET LOCAL ROLE memory_owner;

DROP FUNCTION IF EXISTS memory._common_lexemes(text);
-- replaced by memory._query_terms (one tsquery per word)
DROP FUNCTION IF EXISTS memory._fts_query(text, text[]);
DROP FUNCTION IF EXISTS memory._episode_text_list(
    tsquery, integer, text[], uuid, text, timestamptz, timestamptz, real
);
DROP FUNCTION IF EXISTS memory._fact_text_list(tsquery, integer, timestamptz, boolean);
DROP FUNCTION IF EXISTS memory._search_episodes(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, integer, integer
);
DROP FUNCTION IF EXISTS memory.search_episodic_memory(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, integer, integer
);
DROP FUNCTION IF EXISTS memory.search_semantic_memory(
    text, integer, timestamptz, boolean, text, double precision, integer
);
