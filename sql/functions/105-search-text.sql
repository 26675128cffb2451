-- Search, the full-text side: the caller's own term weights and the text lists of
-- episodes and facts (memory._search_episodes in 110-search.sql and the fact search in
-- 115-search-facts.sql fuse them with the vector list).
SET ROLE memory_owner;

-- The full-text lists. Row-level security keeps the GIN indexes out of an agent's own
-- query: @@ is not leakproof, so PostgreSQL evaluates it only after the policy, row by
-- row over everything the agent owns (an agent with 30,000 episodes paid about 7 ms for a
-- few dozen matches). These two run as the tables' owner, scoped to the caller's agent
-- (memory._require_agent(), from session_user, never from an argument), so the planner
-- can use the (agent_id, fts) GIN index; they return ids and scores only, and the search
-- reads the rows themselves under the caller's policies.
--
-- Scoring (docs/decisions.md, "Retrieval: agent-own term weights"): each term of the
-- question (memory._query_terms: one per word) weighs its inverse document frequency
-- among the CALLER'S OWN rows, idf = ln((1000 + 1) / (df + 0.5)), where df counts the
-- agent's rows holding the term through the GIN index, stopping at 1,000. A term in
-- 1,000 rows or more weighs nothing and is left out of the match: the agent's own stop
-- words, in any language, with no list and nothing from another agent. A row scores the
-- sum of the weights of the terms it holds (Okapi BM25 with binary term frequency and no
-- length normalisation: turns are short). The 1,000 bounds the cost of a search (each
-- count reads at most 1,000 index entries); it was not tuned on any data. Rows of equal
-- score (common: binary term frequency) are taken newest first, as the final ranking
-- breaks its ties, so which of them make the list does not depend on random ids.
CREATE OR REPLACE FUNCTION memory._term_weights(terms tsquery [], tbl text)
RETURNS TABLE (term tsquery, weight double precision)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    IF tbl IS NULL OR tbl NOT IN ('episodes', 'facts') THEN
        RAISE EXCEPTION 'tbl must be episodes or facts' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one static statement (its plan cached by plpgsql); each count stops at 1,000 rows
    -- and only the branch of tbl runs
    -- (the count is a LATERAL subquery, so it runs once per term: written as an
    -- expression of the select list and filtered on, it ran three times)
    -- a word that was in 1,000 or more of the agent's rows at the last count of its
    -- frequent lexemes (memory.agent_frequent_lexemes, hourly) weighs nothing: it is not
    -- counted (an agent's common words cost up to 1,000 heap rows each)
    RETURN QUERY
    WITH t AS MATERIALIZED (
        SELECT u.t, u.i FROM unnest(terms[1:64]) WITH ORDINALITY AS u (t, i)
        WHERE NOT EXISTS (SELECT 1 FROM memory.agent_frequent_lexemes AS f
                          WHERE f.agent_id = me AND f.source = tbl AND f.lexemes @@ u.t)
    )
    SELECT t.t, ln(1001.0::double precision / (d.df + 0.5))
    FROM t
    CROSS JOIN LATERAL (
        SELECT CASE WHEN tbl = 'episodes'
                    THEN (SELECT count(*) FROM (SELECT 1 FROM memory.episodes AS x
                                                WHERE x.agent_id = me AND x.fts @@ t.t LIMIT 1000) AS c)
                    ELSE (SELECT count(*) FROM (SELECT 1 FROM memory.facts AS x
                                                WHERE x.agent_id = me AND x.fts @@ t.t LIMIT 1000) AS c)
               END AS df
        OFFSET 0
    ) AS d
    WHERE t.t IS NOT NULL AND numnode(t.t) > 0 AND d.df BETWEEN 1 AND 999
    ORDER BY t.i;
END
$$;

COMMENT ON FUNCTION memory._term_weights(tsquery [], text) IS
'Private: for the calling agent (session_user) only, each of terms (at most 64) that occurs in 1 to 999 of the agent''s own rows of memory.<tbl> (episodes or facts) with its weight ln(1001 / (df + 0.5)), df counted through the GIN index and bounded at 1,000; a term holding a lexeme of the agent''s frequent lexemes (memory.agent_frequent_lexemes, in 1,000 rows or more at the last hourly count) is left out uncounted. SECURITY DEFINER so that the GIN index serves the counts; nothing of another agent''s rows is read. Raises 22023 for another tbl, 42501 for a session that is not an agent.';

-- Private: the match and the score of a text list, from the caller's term weights: the
-- OR of the weighted terms, and the sum of the weights of the terms a row holds, as an
-- SQL expression over <alias>.fts. Called by the text lists (as their owner).
CREATE OR REPLACE FUNCTION memory._term_match(terms tsquery [], tbl text, alias text, OUT tq tsquery, OUT score_sql text)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL keeps this statement's plan for the session (an SQL function re-planned it
    -- on every search)
    SELECT string_agg(format('(%s)', w.term::text), ' | ')::tsquery,
           string_agg(format('CASE WHEN %I.fts @@ %L::tsquery THEN %s ELSE 0 END', alias, w.term::text, w.weight), ' + ')
    INTO tq, score_sql
    FROM memory._term_weights(terms, tbl) AS w;
END
$$;

COMMENT ON FUNCTION memory._term_match(tsquery [], text, text) IS
'Private: for the caller''s weights of terms in memory.<tbl> (memory._term_weights): tq, the OR of the weighted terms (NULL when none weighs anything), and score_sql, the sum of the weights of the terms that <alias>.fts holds as an SQL expression. Raises what memory._term_weights raises.';

-- Private: the checks and the match of a text list given weighted terms: lim within
-- 1..10000, terms and weights of one length (at most 64); the OR of the terms.
CREATE OR REPLACE FUNCTION memory._text_list_query(terms tsquery [], weights double precision [], lim integer)
RETURNS tsquery
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._check_count('lim', lim, 1, 10000);
    IF cardinality(terms) IS DISTINCT FROM cardinality(weights) OR cardinality(terms) > 64 THEN
        RAISE EXCEPTION 'terms and weights must be arrays of the same length, at most 64'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN (SELECT string_agg(format('(%s)', t.t::text), ' | ')::tsquery
            FROM unnest(terms) AS t (t)
            WHERE t.t IS NOT NULL AND numnode(t.t) > 0);
END
$$;

COMMENT ON FUNCTION memory._text_list_query(tsquery [], double precision [], integer) IS
'Private (the episode text lists): the OR of terms (NULL when none is left), after checking lim (1..10000) and that terms and weights have one length of at most 64. Raises 22023.';

CREATE OR REPLACE FUNCTION memory._episode_text_list(
    terms tsquery [],
    weights double precision [],
    lim integer,
    p_tags text[] DEFAULT NULL,
    project_filter uuid DEFAULT NULL,
    p_session_id text DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    min_importance real DEFAULT NULL
)
RETURNS TABLE (episode_id uuid, text_score double precision)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
-- the planner's estimate: a search asks for 40 candidates by default
ROWS 40
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    me uuid := memory._require_agent();
    tq tsquery;
    use_tags boolean := p_tags IS NOT NULL AND cardinality(p_tags) > 0;
BEGIN
    tq := memory._text_list_query(terms, weights, lim);
    IF tq IS NULL THEN
        RETURN;
    END IF;
    -- One static statement, its plan kept by the session (a statement with the weights
    -- written in was planned on every search): the terms and their weights are arrays,
    -- an unused filter is a test of NULL. The GIN index on (agent_id, fts) serves it.
    -- The score of a row is written out for the first eight terms (a missing one is NULL,
    -- and @@ NULL costs nothing), in the order and with the additions of the old statement;
    -- a subquery sums the rest (a subquery per row for every term cost twice as much over
    -- a few thousand matching rows).
    RETURN QUERY
    SELECT e.episode_id,
           CASE WHEN e.fts @@ terms[1] THEN weights[1] ELSE 0 END
           + CASE WHEN e.fts @@ terms[2] THEN weights[2] ELSE 0 END
           + CASE WHEN e.fts @@ terms[3] THEN weights[3] ELSE 0 END
           + CASE WHEN e.fts @@ terms[4] THEN weights[4] ELSE 0 END
           + CASE WHEN e.fts @@ terms[5] THEN weights[5] ELSE 0 END
           + CASE WHEN e.fts @@ terms[6] THEN weights[6] ELSE 0 END
           + CASE WHEN e.fts @@ terms[7] THEN weights[7] ELSE 0 END
           + CASE WHEN e.fts @@ terms[8] THEN weights[8] ELSE 0 END
           + CASE WHEN cardinality(terms) > 8
                  THEN coalesce((SELECT sum(w.weight) FROM unnest(terms[9:], weights[9:]) AS w (term, weight)
                                 WHERE e.fts @@ w.term), 0)
                  ELSE 0 END
    FROM memory.episodes AS e
    WHERE e.agent_id = me AND e.fts @@ tq
      AND (NOT use_tags OR e.tags @> p_tags)
      AND (project_filter IS NULL OR e.project_id = project_filter)
      AND (p_session_id IS NULL OR e.session_id = p_session_id)
      AND (since IS NULL OR e.occurred_at >= since)
      AND (until IS NULL OR e.occurred_at <= until)
      AND (min_importance IS NULL OR e.importance >= min_importance)
    ORDER BY 2 DESC, e.occurred_at DESC, e.episode_id
    LIMIT lim;
END
$$;

COMMENT ON FUNCTION memory._episode_text_list(tsquery [], double precision [], integer, text[], uuid, text, timestamptz, timestamptz, real) IS
'Private: the full-text list of episode search for the calling agent (session_user): the best lim of the agent''s episodes passing the filters that hold one of terms, as (episode_id, text_score), text_score the sum of the weights of the terms the episode holds (the search passes the weighted terms of memory._term_weights, computed once per search); equal scores newest first. SECURITY DEFINER so that the GIN index serves it; nothing but the caller''s own ids and scores comes out, whatever the weights. Raises 22023 for lim outside 1..10000 or terms and weights of different lengths or over 64, 42501 for a session that is not an agent.';

CREATE OR REPLACE FUNCTION memory._fact_text_list(terms tsquery [], lim integer, at timestamptz, include_invalid boolean)
RETURNS TABLE (fact_id uuid, text_score double precision)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
-- the planner's estimate: a search asks for 40 candidates by default
ROWS 40
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    me uuid := memory._require_agent();
    tq tsquery;
    score_sql text;
BEGIN
    IF lim IS NULL OR lim < 1 OR lim > 10000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT m.tq, m.score_sql INTO tq, score_sql FROM memory._term_match(terms, 'facts', 'f') AS m;
    IF tq IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        $q$
        SELECT f.fact_id, (%s)::double precision AS text_score
        FROM memory.facts AS f
        WHERE f.agent_id = $2 AND f.fts @@ $1
          AND ($4 OR (f.valid_from <= $5 AND (f.valid_to IS NULL OR f.valid_to > $5)))
        ORDER BY text_score DESC, f.valid_from DESC, f.fact_id
        LIMIT $3
        $q$,
        score_sql
    )
    USING tq, me, lim, coalesce(include_invalid, false), at;
END
$$;

COMMENT ON FUNCTION memory._fact_text_list(tsquery [], integer, timestamptz, boolean) IS
'Private: the full-text list of fact search for the calling agent (session_user): the best lim of the agent''s facts valid at at (any validity with include_invalid) that hold a term of terms, as (fact_id, text_score), scored as memory._episode_text_list. SECURITY DEFINER so that the GIN index serves it; nothing but ids and scores comes out. Raises 22023 for lim outside 1..10000, 42501 for a session that is not an agent.';
