-- Helpers of search: the full-text query and the access statistics.
SET ROLE memory_owner;

-- The terms of a question for the text list's scoring: one tsquery per distinct word,
-- the OR of its English and Spanish stems (a document indexed with both stemmers holds
-- both), so that a word counts once whatever the language. Words that either language
-- treats as a stop word ("what", "did", "de", "el") and words of 2047 bytes or more
-- (a tsquery refuses them, to_tsvector never indexes them) are left out. Documents are
-- indexed with both stemmers (memory._fts_document). No statistics: the weights come
-- later, from the agent's own rows (memory._term_weights). PL/pgSQL, not SQL: a session
-- keeps the plan of its statement, which an SQL function (not inlined: it sets its
-- search_path) re-made on every search (0.2 ms of a 5 ms search).
CREATE OR REPLACE FUNCTION memory._query_terms(query text)
RETURNS tsquery []
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (
    WITH words AS (
        SELECT DISTINCT lower(p.token) AS word
        FROM ts_parse('default', left(query, 10000)) AS p
        JOIN ts_token_type('default') AS t ON t.tokid = p.tokid
        WHERE t.alias IN ('asciiword', 'word', 'numword', 'asciihword', 'hword', 'numhword',
                          'hword_part', 'hword_asciipart', 'hword_numpart', 'int', 'uint', 'float', 'version')
        LIMIT 64
    ),
    terms AS (
        SELECT (SELECT string_agg(DISTINCT quote_literal(l.lexeme), ' | ' ORDER BY quote_literal(l.lexeme))
                FROM unnest(x.en || x.es) AS l (lexeme)) AS term
        FROM (
            SELECT ts_lexize('english_stem', w.word) AS en, ts_lexize('spanish_stem', w.word) AS es
            FROM words AS w
        ) AS x
        WHERE cardinality(x.en) > 0 AND cardinality(x.es) > 0
          AND NOT EXISTS (SELECT 1 FROM unnest(x.en || x.es) AS l (lexeme) WHERE octet_length(l.lexeme) >= 2047)
    )
    SELECT coalesce(array_agg(DISTINCT t.term::tsquery), '{}') FROM terms AS t
    );
END
$$;

COMMENT ON FUNCTION memory._query_terms(text) IS
'Private: the terms of a natural-language question, one tsquery per distinct word (the OR of its English and Spanish stems); stop words of either language and words of 2047 bytes or more (never indexed) left out. An empty array for a question of stop words only. Depends on nothing stored.';

-- A search writes nothing (it must run on a read replica): the caller marks the episodes
-- it actually used, and the memory-fold-access-stats job adds them to access_count and
-- last_accessed_at. Only the caller's own episodes are logged; other ids, another
-- agent's or none, are skipped alike, so the count returned tells nothing about them.
CREATE OR REPLACE FUNCTION memory.mark_used(episode_ids uuid [])
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    n integer;
BEGIN
    IF episode_ids IS NULL OR cardinality(episode_ids) > 1000 THEN
        RAISE EXCEPTION 'episode_ids must be an array of at most 1000 ids'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass the ids of the episodes a search returned';
    END IF;
    INSERT INTO memory.episode_access_log (agent_id, episode_id)
    SELECT me, e.episode_id
    FROM memory.episodes AS e
    WHERE e.agent_id = me AND e.episode_id = ANY(episode_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.mark_used(uuid []) IS
'Records that the current agent used these episodes (e.g. put them in a prompt): each of the agent''s own episodes among episode_ids gets one access, folded into access_count and last_accessed_at by the memory-fold-access-stats job; ids of other agents'' episodes or of no episode are skipped alike. Returns how many were recorded. Searches record nothing themselves. Raises 42501 for a session that is not an agent, 22023 for NULL or more than 1000 ids.';

-- Private: a search statement prepared once per session. Planning the search's dynamic
-- statement (ten CTEs) cost about 2 ms of every call; its text depends only on the model,
-- the filters used and the kind of vector list, so a session prepares each text once
-- (PREPARE, named after the md5 of its text) and executes it after that. The prepared
-- statement lives in the caller's session and runs with the caller's rights: a session
-- cannot make this function run a statement of its own choosing, because a statement of
-- the same name is used only when its source text is exactly this one (otherwise it is
-- deallocated and prepared again). PostgreSQL re-plans a prepared statement when the
-- role (row-level security), the search_path or a table it reads changes.
CREATE OR REPLACE FUNCTION memory._prepared(statement text, argtypes text)
RETURNS text
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    stmt_name text := 'memory_' || md5(argtypes || chr(10) || statement);
    src text := format('PREPARE %I (%s) AS %s', stmt_name, argtypes, statement);
    existing text;
BEGIN
    SELECT p.statement INTO existing FROM pg_catalog.pg_prepared_statements AS p WHERE p.name = stmt_name;
    IF existing IS DISTINCT FROM src THEN
        IF existing IS NOT NULL THEN
            EXECUTE format('DEALLOCATE %I', stmt_name);
        END IF;
        EXECUTE src;
    END IF;
    RETURN stmt_name;
END
$$;

COMMENT ON FUNCTION memory._prepared(text, text) IS
'Private: the name of this session''s prepared statement for statement (with parameters of types argtypes), preparing it first when the session has none of that name whose source is exactly this statement (one of another source is deallocated). For the dynamic statements of search, so that their plans are made once per session.';
