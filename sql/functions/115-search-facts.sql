-- Search over facts: search_semantic_memory, the same fusion as the episodes' search
-- (110-search.sql: the vector list, the candidate lists, _relevance_sql) over the
-- agent's valid facts (as_of, include_invalid), with the agent-own term weights of its
-- facts (memory._fact_text_list, 105-search-text.sql). No neighbour expansion: facts
-- have no session order.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.search_semantic_memory(
    query text,
    k integer DEFAULT 10,
    as_of timestamptz DEFAULT now(),
    include_invalid boolean DEFAULT false,
    mode text DEFAULT 'hybrid',
    confidence_weight double precision DEFAULT 0.1,
    text_weight double precision DEFAULT 0.4
)
RETURNS TABLE (
    fact_id uuid,
    concept text,
    statement text,
    confidence real,
    score double precision,
    valid_from timestamptz,
    valid_to timestamptz,
    source_episodes uuid[]
)
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
SET "hnsw.iterative_scan" = 'relaxed_order'
SET "hnsw.ef_search" = 100
-- a search is a few milliseconds of work: JIT compilation would cost far more
SET jit = off
-- restored on return: the exact and text-only statements set force_generic_plan
SET plan_cache_mode = 'auto'
-- their values go in as text: floats must print exactly whatever the client's setting
SET extra_float_digits = 3
AS $$
DECLARE
    me uuid := memory._require_agent();
    qvec vector;
    terms tsquery [];
    model record;
    n_cand integer;
    at timestamptz := memory._check_time('as_of', as_of);
    validity text;
    exact boolean;
    stmt text;
BEGIN
    PERFORM memory._check_search_args(k, mode);
    PERFORM memory._check_text('query', query, 10000);
    IF confidence_weight IS NULL OR confidence_weight NOT BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'confidence_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF text_weight IS NULL OR text_weight < 0 OR text_weight > 1 THEN
        RAISE EXCEPTION 'text_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n_cand := greatest(4 * k, 40);
    -- as in search_episodic_memory: a product that underflows would be an error (22003)
    IF confidence_weight < 1e-12 THEN
        confidence_weight := 0;
    END IF;
    IF text_weight < 1e-12 THEN
        text_weight := 0;
    END IF;
    SELECT * INTO model FROM memory._serving_model();
    IF mode <> 'text' AND model.model_id IS NOT NULL THEN
        qvec := memory._query_vector(query);
    END IF;
    IF mode <> 'vector' OR qvec IS NULL THEN
        terms := memory._query_terms(query);
    END IF;
    exact := qvec IS NOT NULL AND memory._rank_exactly(me, model.model_id);
    -- as_of is world time: a fact counts when valid_from <= as_of < valid_to.
    validity := CASE WHEN include_invalid THEN 'true'
                     ELSE 'f.valid_from <= $5 AND (f.valid_to IS NULL OR f.valid_to > $5)' END;

    -- the same fusion as memory._search_episodes
    stmt := format(
        $q$
        WITH near AS MATERIALIZED (
            SELECT c.fact_id, (c.embedding OPERATOR(public.<=>) $1) AS dist
            FROM memory.chunks AS c
            JOIN memory.facts AS f ON f.fact_id = c.fact_id
            WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND f.agent_id = $4 AND %3$s
            ORDER BY %4$s
            LIMIT $3 * 2
        ),
        -- exact ranking when the shared HNSW graph yields fewer rows than asked for (as
        -- in memory._search_episodes)
        near_all AS (
            SELECT * FROM near
            UNION ALL
            SELECT * FROM (
                SELECT c.fact_id, (c.embedding OPERATOR(public.<=>) $1) AS dist
                FROM memory.chunks AS c
                JOIN memory.facts AS f ON f.fact_id = c.fact_id
                WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND f.agent_id = $4 AND %3$s
                ORDER BY 2
                LIMIT $3 * 2
            ) AS ex
            WHERE %5$s AND (SELECT count(*) FROM near) < $3 * 2
        ),
        vec_top AS (
            SELECT x.fact_id, x.dist
            FROM (
                SELECT DISTINCT ON (c.fact_id) c.fact_id, c.dist
                FROM near_all AS c
                ORDER BY c.fact_id, c.dist
            ) AS x
            ORDER BY x.dist, x.fact_id
            LIMIT $3
        ),
        txt AS MATERIALIZED (
            SELECT t.fact_id, t.text_score FROM memory._fact_text_list($2, $3, $5, %6$s) AS t
        ),
        txt_vec AS (
            SELECT c.fact_id, min(c.embedding OPERATOR(public.<=>) $1) AS dist
            FROM txt AS t
            JOIN memory.chunks AS c ON c.fact_id = t.fact_id AND c.model_id = %2$s
            WHERE $1 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vec_top AS v WHERE v.fact_id = t.fact_id)
            GROUP BY c.fact_id
        ),
        both_vec AS (
            SELECT * FROM vec_top UNION ALL SELECT * FROM txt_vec
        ),
        -- materialized, as in memory._search_episodes: facts probed by primary key
        fused AS MATERIALIZED (
            SELECT coalesce(v.fact_id, t.fact_id) AS fact_id,
                   %7$s AS relevance
            FROM both_vec AS v
            FULL JOIN txt AS t ON t.fact_id = v.fact_id
            CROSS JOIN (SELECT max(x.text_score) AS tmax FROM txt AS x) AS m
        )
        SELECT f.fact_id, f.concept, f.statement, f.confidence,
               ((1 - $7) * fu.relevance + $7 * f.confidence)::double precision AS score,
               f.valid_from, f.valid_to, f.source_episodes
        FROM fused AS fu
        JOIN memory.facts AS f ON f.fact_id = fu.fact_id
        ORDER BY score DESC, f.valid_from DESC, f.fact_id
        LIMIT $8
        $q$,
        coalesce(model.dimensions, 1), coalesce(model.model_id, 0), validity,
        -- the graph's order (memory._graph_order_sql), or the exact distance, which keeps
        -- the graph out; the distances returned are the exact ones either way
        CASE WHEN exact THEN '2' ELSE memory._graph_order_sql(coalesce(model.dimensions, 1), '$1') END,
        CASE WHEN qvec IS NOT NULL AND NOT exact THEN 'TRUE' ELSE 'FALSE' END,
        CASE WHEN include_invalid THEN 'TRUE' ELSE 'FALSE' END,
        memory._relevance_sql('$6', '$1 IS NOT NULL', 't.text_score', 'm.tmax', 'v.dist')
    );
    IF qvec IS NOT NULL AND NOT exact THEN
        -- the HNSW list: planned for this call (as in memory._search_episodes)
        RETURN QUERY EXECUTE stmt USING qvec, terms, n_cand, me, at, text_weight, confidence_weight, k;
        RETURN;
    END IF;
    -- exact ranking or text only: one generic plan per session (memory._prepared)
    PERFORM pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true);
    RETURN QUERY EXECUTE format(
        'EXECUTE %I(%L, %L, %L, %L, %L, %L, %L, %L)',
        memory._prepared(stmt, 'vector, tsquery[], integer, uuid, timestamptz, double precision, double precision, integer'),
        qvec, terms, n_cand, me, at, text_weight, confidence_weight, k
    );
END
$$;

COMMENT ON FUNCTION memory.search_semantic_memory(text, integer, timestamptz, boolean, text, double precision, double precision) IS
'Searches the current agent''s facts by meaning and by words (mode hybrid, vector or text), with the same candidate lists, agent-own term weights and fusion as search_episodic_memory; writes nothing. By default only facts valid in the world at as_of (valid_from <= as_of < valid_to; default now()) are returned, so a superseded fact appears for an as_of inside its validity and not after; include_invalid returns every fact whatever its validity. score = (1 - confidence_weight) * relevance + confidence_weight * confidence, relevance = text_weight * text_score / best text_score + (1 - text_weight) * max(cosine, 0) (a confidence_weight or text_weight under 1e-12 counts as 0). Falls back to full text with a NOTICE when the query cannot be embedded. Raises 42501, 22023 (empty query, k, mode, weights, text_weight outside 0..1), 22001 (query over 10,000 characters), 22008 (infinite as_of).';
