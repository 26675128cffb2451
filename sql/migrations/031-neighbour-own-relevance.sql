-- 031: neighbour expansion weighs a neighbour's own relevance too, and a search computes
-- the weights of its words once (issue 14; sql/functions/110-search.sql, docs/decisions.md
-- "Neighbour expansion with the neighbour's own relevance"). The text lists now take the
-- weighted terms from the search, and search_episodic_memory gains neighbour_own_weight:
-- the old signatures go.
DROP FUNCTION IF EXISTS memory.search_episodic_memory(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, double precision, integer, double precision, integer, boolean
);
DROP FUNCTION IF EXISTS memory._search_episodes(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, double precision, integer, double precision, integer, boolean
);
DROP FUNCTION IF EXISTS memory._episode_text_list(tsquery [], integer, text[], uuid, text, timestamptz, timestamptz, real);
DROP FUNCTION IF EXISTS memory._shared_episode_text_list(
    tsquery [], integer, text[], uuid, text, timestamptz, timestamptz, real, uuid []
);
DROP FUNCTION IF EXISTS memory._shared_term_match(tsquery [], uuid []);
-- The neighbour of a seed is one probe of (agent, session, time, id): the index on
-- (agent_id, session_id) alone read a whole session per lookup (an agent with one
-- session of 5,000 episodes: 31 ms per search instead of 9).
CREATE INDEX IF NOT EXISTS episodes_agent_session_time_idx
    ON memory.episodes (agent_id, session_id, occurred_at, episode_id) WHERE session_id IS NOT NULL;
DROP INDEX IF EXISTS memory.episodes_agent_session_idx;
