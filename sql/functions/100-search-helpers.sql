-- Helpers of search: the full-text query and the access statistics.
SET ROLE memory_owner;

-- Documents are indexed with the English and the Spanish stemmer (memory._fts_document).
-- A question is turned into an OR of the stems of its words in both languages, leaving
-- out words that either language treats as a stop word ("what", "did", "de", "el"):
-- natural-language questions rarely share every word with the memory that answers
-- them, so AND semantics would miss most of them; ts_rank_cd then prefers documents
-- that cover more of the terms, closer together.
CREATE OR REPLACE FUNCTION memory._fts_query(query text, skip text[] DEFAULT '{}')
RETURNS tsquery
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH words AS (
        SELECT DISTINCT lower(p.token) AS word
        FROM ts_parse('default', left(query, 10000)) AS p
        JOIN ts_token_type('default') AS t ON t.tokid = p.tokid
        WHERE t.alias IN ('asciiword', 'word', 'numword', 'asciihword', 'hword', 'numhword',
                          'hword_part', 'hword_asciipart', 'hword_numpart', 'int', 'uint', 'float', 'version')
        LIMIT 64
    ),
    stems AS (
        SELECT l.lexeme
        FROM (
            SELECT ts_lexize('english_stem', w.word) AS en, ts_lexize('spanish_stem', w.word) AS es
            FROM words AS w
        ) AS x,
            unnest(x.en || x.es) AS l (lexeme)
        -- a tsquery refuses a word of 2047 bytes or more (54000) and to_tsvector never
        -- indexes one, so such a word could match nothing: it is left out
        WHERE cardinality(x.en) > 0 AND cardinality(x.es) > 0 AND octet_length(l.lexeme) < 2047
    )
    -- leave out the lexemes in skip, unless nothing else would remain
    SELECT coalesce(
        (SELECT string_agg(DISTINCT quote_literal(s.lexeme), ' | ') FROM stems AS s
         WHERE s.lexeme <> ALL (coalesce(skip, '{}'))),
        (SELECT string_agg(DISTINCT quote_literal(s.lexeme), ' | ') FROM stems AS s)
    )::tsquery
$$;

COMMENT ON FUNCTION memory._fts_query(text, text[]) IS
'Private: the full-text query of a natural-language question: OR of the English and Spanish stems of its words, stop words of either language and words of 2047 bytes or more (never indexed) left out, and the lexemes in skip too unless nothing else remains. NULL for a question of stop words only.';

-- Lexemes that ANALYZE found in more than a fifth of the rows of memory.<tbl>.fts: as
-- common as stop words, they rank nothing and make ts_rank_cd score most of the table.
-- SECURITY DEFINER: pg_stats hides the statistics of tables with row-level security
-- from the agents; only this list of frequent words across all agents comes out.
CREATE OR REPLACE FUNCTION memory._common_lexemes(tbl text)
RETURNS text[]
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(e.lexeme), '{}')
    FROM pg_catalog.pg_stats AS s,
         unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS e (lexeme, freq)
    WHERE s.schemaname = 'memory' AND s.tablename = tbl AND s.attname = 'fts'
      AND e.lexeme IS NOT NULL AND e.freq > 0.2
$$;

COMMENT ON FUNCTION memory._common_lexemes(text) IS
'Private: lexemes of memory.<tbl>.fts (episodes or facts) that the planner''s statistics put in more than 20% of the rows; search leaves them out of the text query.';

CREATE OR REPLACE FUNCTION memory.fold_access_stats()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    WITH taken AS (
        DELETE FROM memory.episode_access_log RETURNING agent_id, episode_id, accessed_at
    ),
    agg AS (
        SELECT agent_id, episode_id, count(*)::integer AS hits, max(accessed_at) AS last_at
        FROM taken GROUP BY agent_id, episode_id
    )
    UPDATE memory.episodes AS e
    SET access_count = e.access_count + agg.hits,
        last_accessed_at = greatest(e.last_accessed_at, agg.last_at)
    FROM agg
    -- a row counts only for an episode of the agent that logged it
    WHERE e.episode_id = agg.episode_id AND e.agent_id = agg.agent_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.fold_access_stats() IS
'Operators and the memory-fold-access-stats job: adds the logged search hits to episodes.access_count and last_accessed_at; returns how many episodes changed.';
