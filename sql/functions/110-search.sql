-- Search: hybrid retrieval over episodes and facts in one SQL call.
--
-- Candidates come from two lists:
--   * vector: the HNSW index of the serving model over chunk vectors (cosine), best
--     chunk per owner; pgvector 0.8 iterative index scans keep the scan going when
--     row-level security or a filter removes most neighbours. An agent with at most
--     10,000 chunks is ranked exactly instead (memory._rank_exactly): faster, and exact.
--     The graph is shared by all agents, so other agents' vectors can strand the walk:
--     when the index yields fewer rows than asked for, the agent's chunks are ranked
--     exactly (a one-time gate: the exact scan runs only then);
--   * text: the owners' tsvector (English + Spanish stems) against an OR of the
--     question's stems (memory._fts_query), through the GIN index
--     (memory._episode_text_list, memory._fact_text_list): ts_rank keeps the best
--     10 * candidates (at least 400) of the matches, ts_rank_cd orders them.
-- They are fused by reciprocal rank fusion, RRF(d) = sum over lists of 1 / (rrf_k + rank),
-- normalised to relevance 0..1 between the RRF of the last candidate of one list
-- (1 / (rrf_k + candidates)) and the best possible (first in every list used), and weighed:
--   score = (1 - recency_weight - importance_weight) * relevance
--         + recency_weight * 0.5 ^ (age / recency_half_life)
--         + importance_weight * importance        (confidence for facts)
-- When the query cannot be embedded (daemon down or slow), search falls back to the
-- text list, raises a NOTICE and returns vector_score NULL on every row.
SET ROLE memory_owner;

-- Private: the query's vector for the serving model, or NULL (with a NOTICE) when the
-- embed daemon cannot answer in time.
CREATE OR REPLACE FUNCTION memory._query_vector(query text)
RETURNS vector
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v vector;
BEGIN
    v := memory.embed_query(query);
    RETURN v;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'vector search unavailable, using full-text search only'
        USING DETAIL = format('embed_query failed: %s (%s)', SQLERRM, SQLSTATE),
              HINT = 'check that the embed daemon runs: make status, SELECT memory.health()';
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._query_vector(text) IS
'Private: memory.embed_query(query), or NULL with a NOTICE when the daemon cannot embed it.';

-- Private: the serving model (id, dimensions).
CREATE OR REPLACE FUNCTION memory._serving_model(OUT model_id smallint, OUT dimensions integer)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.model_id, m.dimensions FROM memory.embedding_models AS m WHERE m.is_serving
$$;

COMMENT ON FUNCTION memory._serving_model() IS 'Private: id and dimensions of the model whose vectors search reads.';

-- Private: should the vector list rank the agent's chunks exactly rather than walk the
-- HNSW graph? The graph is shared by all agents: for an agent that holds a small share
-- of the chunks, an iterative index scan visits (and discards) many other agents'
-- neighbours before it has enough of the agent's own, while ranking the agent's few
-- thousand chunks through the (agent_id, model_id) index is both exact and faster.
-- Exact below 10,000 chunks (about 6 ms on one core), the graph above. The count is
-- bounded, so it costs at most 10,001 index entries.
CREATE OR REPLACE FUNCTION memory._rank_exactly(agent uuid, model smallint)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) <= 10000
    FROM (SELECT 1 FROM memory.chunks AS c WHERE c.agent_id = agent AND c.model_id = model LIMIT 10001) AS x
$$;

COMMENT ON FUNCTION memory._rank_exactly(uuid, smallint) IS
'Private: true when the agent has at most 10,000 chunks of the model, so search ranks them exactly instead of using the HNSW index.';

CREATE OR REPLACE FUNCTION memory._check_search_args(k integer, mode text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF k IS NULL OR k < 1 OR k > 1000 THEN
        RAISE EXCEPTION 'k must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', coalesce(k::text, 'NULL'));
    END IF;
    IF mode IS NULL OR mode NOT IN ('hybrid', 'vector', 'text') THEN
        RAISE EXCEPTION 'unknown search mode %', quote_literal(left(mode, 20))
            USING ERRCODE = 'invalid_parameter_value', HINT = 'mode is one of hybrid, vector, text';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_search_args(integer, text) IS 'Private: raises 22023 for k outside 1..1000 or an unknown mode.';

-- The full-text lists. Row-level security keeps the GIN indexes out of an agent's own
-- query: @@ is not leakproof, so PostgreSQL evaluates it only after the policy, row by
-- row over everything the agent owns (an agent with 30,000 episodes paid about 7 ms for a
-- few dozen matches). These two run as the tables' owner, scoped to the caller's agent
-- (memory._require_agent(), from session_user, never from an argument), so the planner
-- can use the (agent_id, fts) GIN index; they return ids and ranks only, and the search
-- reads the rows themselves under the caller's policies.
-- Two stages: ts_rank keeps the best 10 * lim (at least 400) matches, ts_rank_cd
-- orders those. ts_rank_cd costs about 15 times ts_rank per row, and alone it puts a
-- document repeating one word of the question above documents holding all of them (on
-- LoCoMo the two stages find more of the evidence).
CREATE OR REPLACE FUNCTION memory._episode_text_list(
    tq tsquery,
    lim integer,
    p_tags text[] DEFAULT NULL,
    project_filter uuid DEFAULT NULL,
    p_session_id text DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    min_importance real DEFAULT NULL
)
RETURNS TABLE (episode_id uuid, rank_cd double precision)
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
BEGIN
    IF lim IS NULL OR lim < 1 OR lim > 10000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tq IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        $q$
        SELECT p.episode_id, ts_rank_cd(p.fts, $1, 1)::double precision AS rank_cd
        FROM (
            SELECT e.episode_id, e.fts
            FROM memory.episodes AS e
            WHERE e.agent_id = $2 AND e.fts @@ $1%s
            ORDER BY ts_rank(e.fts, $1, 1) DESC, e.episode_id
            LIMIT greatest($3 * 10, 400)
        ) AS p
        ORDER BY rank_cd DESC, p.episode_id
        LIMIT $3
        $q$,
        concat(
            CASE WHEN p_tags IS NOT NULL AND cardinality(p_tags) > 0 THEN ' AND e.tags @> $4' END,
            CASE WHEN project_filter IS NOT NULL THEN ' AND e.project_id = $5' END,
            CASE WHEN p_session_id IS NOT NULL THEN ' AND e.session_id = $6' END,
            CASE WHEN since IS NOT NULL THEN ' AND e.occurred_at >= $7' END,
            CASE WHEN until IS NOT NULL THEN ' AND e.occurred_at <= $8' END,
            CASE WHEN min_importance IS NOT NULL THEN ' AND e.importance >= $9' END
        )
    )
    USING tq, me, lim, p_tags, project_filter, p_session_id, since, until, min_importance;
END
$$;

COMMENT ON FUNCTION memory._episode_text_list(tsquery, integer, text[], uuid, text, timestamptz, timestamptz, real) IS
'Private: the full-text list of episode search for the calling agent (session_user): the best lim matches of tq passing the filters, as (episode_id, ts_rank_cd), of the 10 * lim (at least 400) best by ts_rank. SECURITY DEFINER so that the GIN index serves it; nothing but ids and ranks comes out. Raises 22023 for lim outside 1..10000, 42501 for a session that is not an agent.';

CREATE OR REPLACE FUNCTION memory._fact_text_list(tq tsquery, lim integer, at timestamptz, include_invalid boolean)
RETURNS TABLE (fact_id uuid, rank_cd double precision)
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
BEGIN
    IF lim IS NULL OR lim < 1 OR lim > 10000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF tq IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT p.fact_id, ts_rank_cd(p.fts, tq, 1)::double precision AS rank_cd
    FROM (
        SELECT f.fact_id, f.fts
        FROM memory.facts AS f
        WHERE f.agent_id = me AND f.fts @@ tq
          AND (coalesce(include_invalid, false)
               OR (f.valid_from <= at AND (f.valid_to IS NULL OR f.valid_to > at)))
        ORDER BY ts_rank(f.fts, tq, 1) DESC, f.fact_id
        LIMIT greatest(lim * 10, 400)
    ) AS p
    ORDER BY rank_cd DESC, p.fact_id
    LIMIT lim;
END
$$;

COMMENT ON FUNCTION memory._fact_text_list(tsquery, integer, timestamptz, boolean) IS
'Private: the full-text list of fact search for the calling agent (session_user): the best lim facts matching tq and valid at at (any validity with include_invalid), as (fact_id, ts_rank_cd), of the 10 * lim (at least 400) best by ts_rank. SECURITY DEFINER so that the GIN index serves it; nothing but ids and ranks comes out. Raises 22023 for lim outside 1..10000, 42501 for a session that is not an agent.';

-- The body of search_episodic_memory. plpgsql does not allow an argument and a result
-- column of the same name (tags, session_id), which the contract has: the public
-- function is a SQL wrapper around this one.
CREATE OR REPLACE FUNCTION memory._search_episodes(
    query text,
    k integer,
    mode text,
    p_tags text[],
    p_project text,
    p_session_id text,
    since timestamptz,
    until timestamptz,
    min_importance real,
    recency_weight double precision,
    importance_weight double precision,
    recency_half_life interval,
    rrf_k integer,
    candidates integer
)
RETURNS TABLE (
    episode_id uuid,
    content text,
    score double precision,
    vector_score double precision,
    text_score double precision,
    occurred_at timestamptz,
    importance real,
    tags text[],
    session_id text,
    metadata jsonb,
    matched_chunk text
)
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
SET "hnsw.iterative_scan" = 'relaxed_order'
SET "hnsw.ef_search" = 100
-- a search is a few milliseconds of work: JIT compilation would cost far more
SET jit = off
AS $$
DECLARE
    me uuid := memory._require_agent();
    qvec vector;
    tq tsquery;
    model record;
    project_filter uuid;
    n_cand integer;
    relevance_scale double precision;
    relevance_floor double precision;
    filters text;
    exact boolean;
BEGIN
    PERFORM memory._check_search_args(k, mode);
    PERFORM memory._check_text('query', query, 10000);
    PERFORM memory._check_tags(p_tags);
    IF min_importance IS NOT NULL THEN
        PERFORM memory._check_unit_interval('min_importance', min_importance);
    END IF;
    IF since IS NOT NULL AND until IS NOT NULL AND since > until THEN
        RAISE EXCEPTION 'since is after until'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass a time range with since <= until';
    END IF;
    IF recency_weight IS NULL OR importance_weight IS NULL OR recency_weight < 0 OR importance_weight < 0
       OR recency_weight + importance_weight > 1 THEN
        RAISE EXCEPTION 'recency_weight and importance_weight must be >= 0 with a sum of at most 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF recency_half_life IS NULL OR recency_half_life <= interval '0' THEN
        RAISE EXCEPTION 'recency_half_life must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rrf_k IS NULL OR rrf_k < 1 OR rrf_k > 10000 THEN
        RAISE EXCEPTION 'rrf_k must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF candidates IS NOT NULL AND (candidates < k OR candidates > 10000) THEN
        RAISE EXCEPTION 'candidates must be between k and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n_cand := coalesce(candidates, greatest(4 * k, 40));
    -- A float product or power that underflows is an error (22003) in PostgreSQL, not 0:
    -- a weight under 1e-12 counts as 0, and the recency factor stops at 0.5 ^ 1000 (an
    -- episode more than 1,000 half-lives old, e.g. from 1900 with the default 30 days),
    -- so no term of the score can underflow. Neither changes a score by 1e-12.
    IF recency_weight < 1e-12 THEN
        recency_weight := 0;
    END IF;
    IF importance_weight < 1e-12 THEN
        importance_weight := 0;
    END IF;

    IF p_project IS NOT NULL THEN
        SELECT p.project_id INTO project_filter FROM memory.projects AS p WHERE p.agent_id = me AND p.name = p_project;
        IF project_filter IS NULL THEN
            RETURN;  -- no such project: nothing matches
        END IF;
    END IF;

    SELECT * INTO model FROM memory._serving_model();
    IF mode <> 'text' AND model.model_id IS NOT NULL THEN
        qvec := memory._query_vector(query);
    END IF;
    IF mode <> 'vector' OR qvec IS NULL THEN
        tq := memory._fts_query(query, memory._common_lexemes('episodes'));
    END IF;
    -- RRF is normalised between a floor (last candidate of one list) and the best
    -- possible value (first in every list used), so relevance spans 0..1 and the
    -- recency and importance weights move a result by a share of that span.
    relevance_scale := (CASE WHEN qvec IS NOT NULL THEN 1 ELSE 0 END
                        + CASE WHEN tq IS NOT NULL AND (mode <> 'vector' OR qvec IS NULL) THEN 1 ELSE 0 END)::double precision
                       / (rrf_k + 1);
    relevance_floor := 1.0 / (rrf_k + n_cand);
    exact := qvec IS NOT NULL AND memory._rank_exactly(me, model.model_id);

    filters := concat_ws(' AND ',
        'e.agent_id = $4',
        CASE WHEN p_tags IS NOT NULL AND cardinality(p_tags) > 0 THEN 'e.tags @> $5' END,
        CASE WHEN project_filter IS NOT NULL THEN 'e.project_id = $6' END,
        CASE WHEN p_session_id IS NOT NULL THEN 'e.session_id = $7' END,
        CASE WHEN since IS NOT NULL THEN 'e.occurred_at >= $8' END,
        CASE WHEN until IS NOT NULL THEN 'e.occurred_at <= $9' END,
        CASE WHEN min_importance IS NOT NULL THEN 'e.importance >= $10' END
    );

    -- Access statistics: the returned ids are appended to an unlogged log in the same
    -- statement and folded into episodes by pg_cron, so the read path takes no row lock
    -- on the episodes. Skipped in a read-only transaction (e.g. on a replica).
    RETURN QUERY EXECUTE format(
        $q$
        WITH near AS MATERIALIZED (
            SELECT c.episode_id, c.char_start, c.char_end,
                   c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s) AS dist
            FROM memory.chunks AS c%5$s
            WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND c.episode_id IS NOT NULL%6$s
            ORDER BY (c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s))%7$s
            LIMIT $3 * 2
        ),
        -- The HNSW graph is shared by every agent: a dense cluster of other agents'
        -- vectors can strand the walk before it finds enough of ours. Then (fewer rows
        -- than asked for) the agent's chunks are ranked exactly; the gate is evaluated
        -- once, before the exact scan would start.
        near_all AS (
            SELECT * FROM near
            UNION ALL
            SELECT * FROM (
                SELECT c.episode_id, c.char_start, c.char_end,
                       c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s) AS dist
                FROM memory.chunks AS c%5$s
                WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND c.episode_id IS NOT NULL%6$s
                ORDER BY (c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s)) + 0
                LIMIT $3 * 2
            ) AS ex
            WHERE %8$s AND (SELECT count(*) FROM near) < $3 * 2
        ),
        vec AS (
            SELECT x.episode_id, x.dist, x.char_start, x.char_end,
                   row_number() OVER (ORDER BY x.dist, x.episode_id) AS rnk
            FROM (
                SELECT DISTINCT ON (c.episode_id) c.episode_id, c.dist, c.char_start, c.char_end
                FROM near_all AS c
                ORDER BY c.episode_id, c.dist
            ) AS x
            ORDER BY x.dist
            LIMIT $3
        ),
        txt AS (
            SELECT t.episode_id, t.rank_cd, row_number() OVER (ORDER BY t.rank_cd DESC, t.episode_id) AS rnk
            FROM memory._episode_text_list($2, $3, $5, $6, $7, $8, $9, $10) AS t
        ),
        -- materialized: joined on a plain column, the episodes are probed by primary key
        -- (on the COALESCE of a full join the planner scans all of the agent's episodes)
        fused AS MATERIALIZED (
            SELECT coalesce(v.episode_id, t.episode_id) AS episode_id,
                   (coalesce(1.0 / ($11 + v.rnk), 0) + coalesce(1.0 / ($11 + t.rnk), 0))::double precision AS rrf,
                   1 - v.dist AS vector_score, t.rank_cd AS text_score, v.char_start, v.char_end
            FROM vec AS v FULL JOIN txt AS t ON t.episode_id = v.episode_id
        ),
        res AS (
            SELECT e.episode_id, e.content,
                   ((1 - $13 - $14) * greatest(f.rrf - $17, 0) / ($12 - $17)
                    + $13 * power(0.5, least(greatest(extract(EPOCH FROM now() - e.occurred_at), 0) / $15, 1000))
                    + $14 * e.importance)::double precision AS score,
                   f.vector_score, f.text_score, e.occurred_at, e.importance, e.tags, e.session_id, e.metadata,
                   CASE WHEN f.char_start IS NOT NULL
                        THEN substr(e.content, f.char_start + 1, f.char_end - f.char_start) END AS matched_chunk
            FROM fused AS f
            JOIN memory.episodes AS e ON e.episode_id = f.episode_id
            ORDER BY score DESC, e.occurred_at DESC, e.episode_id
            LIMIT $16
        )%4$s
        SELECT * FROM res ORDER BY score DESC, occurred_at DESC, episode_id
        $q$,
        coalesce(model.dimensions, 1), coalesce(model.model_id, 0), filters,
        CASE WHEN pg_catalog.pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' THEN ''
             ELSE ', logged AS (INSERT INTO memory.episode_access_log (agent_id, episode_id) SELECT $4, res.episode_id FROM res)'
        END,
        -- the vector list joins the episodes only when a filter needs their columns
        CASE WHEN filters = 'e.agent_id = $4' THEN '' ELSE ' JOIN memory.episodes AS e ON e.episode_id = c.episode_id' END,
        CASE WHEN filters = 'e.agent_id = $4' THEN '' ELSE ' AND ' || filters END,
        CASE WHEN exact THEN ' + 0' ELSE '' END,
        CASE WHEN qvec IS NOT NULL AND NOT exact THEN 'TRUE' ELSE 'FALSE' END
    )
    USING qvec, tq, n_cand, me, p_tags, project_filter, p_session_id, since, until,
          min_importance, rrf_k, greatest(relevance_scale, relevance_floor + 1e-12), recency_weight, importance_weight,
          extract(EPOCH FROM recency_half_life)::double precision, k, relevance_floor;
END
$$;

COMMENT ON FUNCTION memory._search_episodes(text, integer, text, text[], text, text, timestamptz, timestamptz, real, double precision, double precision, interval, integer, integer) IS
'Private: the body of memory.search_episodic_memory(text, ...).';

CREATE OR REPLACE FUNCTION memory.search_episodic_memory(
    query text,
    k integer DEFAULT 10,
    mode text DEFAULT 'hybrid',
    tags text[] DEFAULT NULL,
    project text DEFAULT NULL,
    session_id text DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    min_importance real DEFAULT NULL,
    recency_weight double precision DEFAULT 0.1,
    importance_weight double precision DEFAULT 0.1,
    recency_half_life interval DEFAULT '30 days',
    rrf_k integer DEFAULT 60,
    candidates integer DEFAULT NULL
)
RETURNS TABLE (
    episode_id uuid,
    content text,
    score double precision,
    vector_score double precision,
    text_score double precision,
    occurred_at timestamptz,
    importance real,
    tags text[],
    session_id text,
    metadata jsonb,
    matched_chunk text
)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM memory._search_episodes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
$$;

COMMENT ON FUNCTION memory.search_episodic_memory(text, integer, text, text[], text, text, timestamptz, timestamptz, real, double precision, double precision, interval, integer, integer) IS
'Searches the current agent''s episodes by meaning and by words. mode: hybrid (default; reciprocal rank fusion of the HNSW vector list and the full-text list), vector, or text. Filters: tags (all of them), project (name), session_id, since/until (occurred_at), min_importance; applied inside the index scans. score = (1 - recency_weight - importance_weight) * relevance (RRF normalised to 0..1 between the last candidate of one list and first place in every list) + recency_weight * 0.5^(age / recency_half_life) + importance_weight * importance (a weight under 1e-12 counts as 0; the recency factor stops at 0.5^1000). vector_score: cosine similarity of the best chunk (NULL when vector search was not used or unavailable: then a NOTICE says so and the text list alone ranks); text_score: ts_rank_cd (of the matches that ts_rank puts among the best 10 * candidates, at least 400); matched_chunk: the best chunk''s text. Raises 42501, 22023 (empty query, k outside 1..1000, unknown mode, bad weights, since after until, bad tags), 22001 (query over 10,000 characters), 22003 (min_importance).';

CREATE OR REPLACE FUNCTION memory.search_semantic_memory(
    query text,
    k integer DEFAULT 10,
    as_of timestamptz DEFAULT now(),
    include_invalid boolean DEFAULT false,
    mode text DEFAULT 'hybrid',
    confidence_weight double precision DEFAULT 0.1,
    rrf_k integer DEFAULT 60
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
AS $$
DECLARE
    me uuid := memory._require_agent();
    qvec vector;
    tq tsquery;
    model record;
    n_cand integer;
    at timestamptz := memory._check_time('as_of', as_of);
    validity text;
    exact boolean;
BEGIN
    PERFORM memory._check_search_args(k, mode);
    PERFORM memory._check_text('query', query, 10000);
    IF confidence_weight IS NULL OR confidence_weight NOT BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'confidence_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rrf_k IS NULL OR rrf_k < 1 OR rrf_k > 10000 THEN
        RAISE EXCEPTION 'rrf_k must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n_cand := greatest(4 * k, 40);
    -- as in search_episodic_memory: a product that underflows would be an error (22003)
    IF confidence_weight < 1e-12 THEN
        confidence_weight := 0;
    END IF;
    SELECT * INTO model FROM memory._serving_model();
    IF mode <> 'text' AND model.model_id IS NOT NULL THEN
        qvec := memory._query_vector(query);
    END IF;
    IF mode <> 'vector' OR qvec IS NULL THEN
        tq := memory._fts_query(query, memory._common_lexemes('facts'));
    END IF;
    exact := qvec IS NOT NULL AND memory._rank_exactly(me, model.model_id);
    -- as_of is world time: a fact counts when valid_from <= as_of < valid_to.
    validity := CASE WHEN include_invalid THEN 'true'
                     ELSE 'f.valid_from <= $5 AND (f.valid_to IS NULL OR f.valid_to > $5)' END;

    RETURN QUERY EXECUTE format(
        $q$
        WITH near AS MATERIALIZED (
            SELECT c.fact_id, c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s) AS dist
            FROM memory.chunks AS c
            JOIN memory.facts AS f ON f.fact_id = c.fact_id
            WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND f.agent_id = $4 AND %3$s
            ORDER BY (c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s))%4$s
            LIMIT $3 * 2
        ),
        -- exact ranking when the shared HNSW graph yields fewer rows than asked for (as
        -- in memory._search_episodes)
        near_all AS (
            SELECT * FROM near
            UNION ALL
            SELECT * FROM (
                SELECT c.fact_id, c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s) AS dist
                FROM memory.chunks AS c
                JOIN memory.facts AS f ON f.fact_id = c.fact_id
                WHERE $1 IS NOT NULL AND c.model_id = %2$s AND c.agent_id = $4 AND f.agent_id = $4 AND %3$s
                ORDER BY (c.embedding::vector(%1$s) OPERATOR(public.<=>) $1::vector(%1$s)) + 0
                LIMIT $3 * 2
            ) AS ex
            WHERE %5$s AND (SELECT count(*) FROM near) < $3 * 2
        ),
        vec AS (
            SELECT x.fact_id, row_number() OVER (ORDER BY x.dist, x.fact_id) AS rnk
            FROM (
                SELECT DISTINCT ON (c.fact_id) c.fact_id, c.dist
                FROM near_all AS c
                ORDER BY c.fact_id, c.dist
            ) AS x
            ORDER BY x.dist
            LIMIT $3
        ),
        txt AS (
            SELECT t.fact_id, row_number() OVER (ORDER BY t.rank_cd DESC, t.fact_id) AS rnk
            FROM memory._fact_text_list($2, $3, $5, %6$s) AS t
        ),
        -- materialized, as in memory._search_episodes: facts probed by primary key
        fused AS MATERIALIZED (
            SELECT coalesce(v.fact_id, t.fact_id) AS fact_id,
                   (coalesce(1.0 / ($6 + v.rnk), 0) + coalesce(1.0 / ($6 + t.rnk), 0))::double precision AS rrf
            FROM vec AS v FULL JOIN txt AS t ON t.fact_id = v.fact_id
        )
        SELECT f.fact_id, f.concept, f.statement, f.confidence,
               ((1 - $7) * greatest(fu.rrf - $9, 0) / ($10 - $9) + $7 * f.confidence)::double precision AS score,
               f.valid_from, f.valid_to, f.source_episodes
        FROM fused AS fu
        JOIN memory.facts AS f ON f.fact_id = fu.fact_id
        ORDER BY score DESC, f.valid_from DESC, f.fact_id
        LIMIT $8
        $q$,
        coalesce(model.dimensions, 1), coalesce(model.model_id, 0), validity,
        CASE WHEN exact THEN ' + 0' ELSE '' END,
        CASE WHEN qvec IS NOT NULL AND NOT exact THEN 'TRUE' ELSE 'FALSE' END,
        CASE WHEN include_invalid THEN 'TRUE' ELSE 'FALSE' END
    )
    USING qvec, tq, n_cand, me, at, rrf_k, confidence_weight, k, 1.0 / (rrf_k + n_cand),
          greatest((CASE WHEN qvec IS NOT NULL THEN 1 ELSE 0 END
                    + CASE WHEN tq IS NOT NULL THEN 1 ELSE 0 END)::double precision / (rrf_k + 1),
                   1.0 / (rrf_k + n_cand) + 1e-12);
END
$$;

COMMENT ON FUNCTION memory.search_semantic_memory(text, integer, timestamptz, boolean, text, double precision, integer) IS
'Searches the current agent''s facts by meaning and by words (mode hybrid, vector or text, as search_episodic_memory). By default only facts valid in the world at as_of (valid_from <= as_of < valid_to; default now()) are returned, so a superseded fact appears for an as_of inside its validity and not after; include_invalid returns every fact whatever its validity. score = (1 - confidence_weight) * normalised RRF + confidence_weight * confidence (a confidence_weight under 1e-12 counts as 0). Falls back to full text with a NOTICE when the query cannot be embedded. Raises 42501, 22023 (empty query, k, mode, weights), 22001 (query over 10,000 characters), 22008 (infinite as_of).';
