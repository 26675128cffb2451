-- Search: hybrid retrieval over episodes in one SQL call, both overloads of
-- search_episodic_memory, and the helpers the fact search (115-search-facts.sql) shares
-- (docs/decisions.md, "Retrieval: agent-own term weights, score fusion, neighbour
-- expansion").
--
-- Candidates come from two lists:
--   * vector: the HNSW index of the serving model over chunk vectors (cosine), best
--     chunk per owner; pgvector 0.8 iterative index scans keep the scan going when
--     row-level security or a filter removes most neighbours. An agent with at most
--     10,000 chunks is ranked exactly instead (memory._rank_exactly): faster, and exact.
--     The graph is shared by all agents, so other agents' vectors can strand the walk:
--     when the index yields fewer rows than asked for, the agent's chunks are ranked
--     exactly (a one-time gate: the exact scan runs only then);
--   * text: the owners' tsvector (English + Spanish stems) against the question's words
--     (memory._query_terms), each weighted by its inverse document frequency among the
--     caller's own rows (memory._term_weights), through the GIN index
--     (memory._episode_text_list, memory._fact_text_list; in 105-search-text.sql).
-- They are fused by score over their union (each candidate gets both scores):
--   relevance = text_weight * text_score / best text_score + (1 - text_weight) * max(cosine, 0)
-- episodes then pull in their session neighbours (neighbour_weight * the seed's relevance
--   + neighbour_own_weight * the neighbour's own), and
--   score = (1 - recency_weight - importance_weight) * relevance
--         + recency_weight * 0.5 ^ (age / recency_half_life)
--         + importance_weight * importance        (confidence for facts)
-- When the query cannot be embedded (daemon down or slow), search falls back to the
-- text list, raises a NOTICE and returns vector_score NULL on every row. A search
-- writes nothing.
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
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: the plan is kept for the session (each search calls this)
    SELECT m.model_id, m.dimensions INTO model_id, dimensions FROM memory.embedding_models AS m WHERE m.is_serving;
END
$$;

COMMENT ON FUNCTION memory._serving_model() IS 'Private: id and dimensions of the model whose vectors search reads.';

-- Private: should the vector list rank the agent's chunks exactly rather than walk the
-- HNSW graph? The graph is shared by all agents: for an agent that holds a small share
-- of the chunks, an iterative index scan visits (and discards) many other agents'
-- neighbours before it has enough of the agent's own, while ranking the agent's few
-- thousand chunks through the (agent_id, model_id) index is both exact and faster.
-- Exact up to memory.exact_search_max_chunks chunks (a setting, default 10,000: about
-- 6 ms on one core), the graph above. The count is bounded, so it costs at most that
-- many index entries. An agent may change the setting for its own sessions: it moves
-- only its own searches between two plans that return the same answers.
-- The count (0.3 ms for 5,000 chunks, 0.5 ms at the bound: a tenth of a search) is
-- remembered by the session for 60 s, keyed by the md5 of the session user, the current
-- user, the agent, the model and the bound, in the setting memory.rank_exactly_cache; an agent
-- that crosses the bound keeps its plan for up to a minute, and both plans return its
-- own rows. A session may write the setting itself: that moves its own searches between
-- the two plans, as the bound does; a value of another form is ignored.
CREATE OR REPLACE FUNCTION memory._rank_exactly(agent uuid, model smallint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cached text := current_setting('memory.rank_exactly_cache', true);
    lim integer := memory._exact_search_max_chunks();
    n bigint;
    key text;
    now_s double precision := extract(EPOCH FROM clock_timestamp());
BEGIN
    -- the key's md5: the value names no agent and no user in clear, should a backend
    -- ever serve another user after this one (a superuser's pool)
    key := md5(format('%s/%s/%s/%s/%s', session_user, current_user, agent, model, lim)) || '/';
    IF left(cached, length(key)) = key AND substr(cached, length(key) + 1) ~ '^[0-9]{1,12}/[tf]$' THEN
        IF now_s - split_part(substr(cached, length(key) + 1), '/', 1)::double precision BETWEEN 0 AND 60 THEN
            RETURN right(cached, 1) = 't';
        END IF;
    END IF;
    SELECT count(*) INTO n
    FROM (SELECT 1 FROM memory.chunks AS c WHERE c.agent_id = agent AND c.model_id = model LIMIT lim + 1) AS x;
    PERFORM pg_catalog.set_config('memory.rank_exactly_cache',
                                  key || floor(now_s)::bigint || '/' || CASE WHEN n <= lim THEN 't' ELSE 'f' END, false);
    RETURN n <= lim;
END
$$;

COMMENT ON FUNCTION memory._rank_exactly(uuid, smallint) IS
'Private: true when the agent has at most memory.exact_search_max_chunks chunks of the model (a setting; default 10,000), so search ranks them exactly instead of using the HNSW index; the answer is remembered by the session for 60 s (the setting memory.rank_exactly_cache, keyed by session user, current user, agent, model and bound). Raises 22023 when the setting is not an integer between 0 and 1000000.';

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

-- Private: the fused relevance of a candidate (docs/decisions.md), as SQL text over the
-- given expressions for the search statements to inline (a call of an SQL function per
-- candidate cost about 5 us): text_weight times its text score over the best of the text
-- list, plus (1 - text_weight) times its cosine similarity (negative counts as 0).
-- Without a query vector the text score alone counts, without a text match the cosine
-- alone.
CREATE OR REPLACE FUNCTION memory._relevance_sql(text_weight text, has_vector text, text_score text, best_text text, dist text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format(
        '(%1$s * coalesce(%3$s / nullif(%4$s, 0), 0) + (1 - %1$s) * greatest(1 - coalesce(%5$s, 1), 0))',
        format('(CASE WHEN coalesce(%s, 0) = 0 THEN 0 WHEN NOT (%s) THEN 1 ELSE %s END)', best_text, has_vector, text_weight),
        has_vector, text_score, best_text, dist)
$$;

COMMENT ON FUNCTION memory._relevance_sql(text, text, text, text, text) IS
'Private: the relevance of a search candidate as an SQL expression over the given SQL expressions: tw * text_score / best_text + (1 - tw) * max(1 - dist, 0), tw = text_weight, or 1 without a query vector (has_vector false), or 0 when the text list is empty (best_text NULL or 0). A missing text_score or dist counts as 0 similarity.';

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
    text_weight double precision,
    candidates integer,
    neighbour_weight double precision,
    neighbour_seeds integer,
    neighbour_own_weight double precision,
    include_shared boolean
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
    matched_chunk text,
    owner text
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
    -- the question's words that weigh something, and their weights (computed once)
    w_terms tsquery [];
    w_weights double precision [];
    model record;
    project_filter uuid;
    n_cand integer;
    filters text;
    exact boolean;
    near text;
    near_ids uuid [];
    near_dist double precision [];
    near_start integer [];
    near_end integer [];
    -- sharing (190-sharing.sql): whose rows the lists read ($22: ids, $23: names); with
    -- include_shared false, the caller's only
    owners uuid [];
    owner_names text [];
    own_filter text := CASE WHEN include_shared THEN 'e.agent_id = ANY ($22)' ELSE 'e.agent_id = $4' END;
    -- the parameters of the statements: the vector list reads $1 .. $10 and $22, the main
    -- statement all of them
    args constant text := 'vector, tsquery[], integer, uuid, text[], uuid, text, timestamptz, timestamptz, real, '
                          'double precision, double precision, double precision, double precision, integer, '
                          'double precision, integer, uuid[], double precision[], integer[], integer[], uuid[], text[], '
                          'double precision[], double precision';
    stmt text;
    best_chunks text;
BEGIN
    PERFORM memory._check_search_args(k, mode);
    PERFORM memory._check_text('query', query, 10000);
    PERFORM memory._check_tags(p_tags);
    IF include_shared IS NULL THEN
        RAISE EXCEPTION 'include_shared must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- whose rows the lists read: the caller's (its name for the owner column), and with
    -- include_shared those of the agents that granted it something (190-sharing.sql)
    IF include_shared THEN
        SELECT o.ids, o.names INTO owners, owner_names FROM memory._search_owners(true) AS o;
    ELSE
        SELECT ARRAY[a.agent_id], ARRAY[a.name] INTO owners, owner_names FROM memory.agents AS a WHERE a.agent_id = me;
    END IF;
    -- nobody shares anything with the caller: the search of its own rows, as without
    include_shared := cardinality(owners) > 1;
    own_filter := CASE WHEN include_shared THEN 'e.agent_id = ANY ($22)' ELSE 'e.agent_id = $4' END;
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
    IF text_weight IS NULL OR text_weight < 0 OR text_weight > 1 THEN
        RAISE EXCEPTION 'text_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF neighbour_weight IS NULL OR neighbour_weight < 0 OR neighbour_weight > 1 THEN
        RAISE EXCEPTION 'neighbour_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF neighbour_seeds IS NULL OR neighbour_seeds < 0 OR neighbour_seeds > 100 THEN
        RAISE EXCEPTION 'neighbour_seeds must be between 0 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF neighbour_own_weight IS NULL OR neighbour_own_weight < 0 OR neighbour_own_weight > 1 THEN
        RAISE EXCEPTION 'neighbour_own_weight must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- neighbour expansion is part of hybrid ranking; modes text and vector return one
    -- signal's list as it is
    IF neighbour_weight < 1e-12 OR mode <> 'hybrid' THEN
        neighbour_weight := 0;
    END IF;
    -- each list holds up to candidates rows, so up to 2 * candidates come back
    IF candidates IS NOT NULL AND (candidates < 1 OR candidates > 10000) THEN
        RAISE EXCEPTION 'candidates must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
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
    IF text_weight < 1e-12 THEN
        text_weight := 0;
    END IF;
    IF neighbour_own_weight < 1e-12 THEN
        neighbour_own_weight := 0;
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
        terms := memory._query_terms(query);
        -- each word's weight, from the rows the lists read: the caller's own, or with
        -- include_shared every row it can read among the owners' (190-sharing.sql)
        IF include_shared THEN
            SELECT array_agg(w.term), array_agg(w.weight) INTO w_terms, w_weights
            FROM memory._shared_term_weights(terms, owners) AS w;
        ELSE
            SELECT array_agg(w.term), array_agg(w.weight) INTO w_terms, w_weights
            FROM memory._term_weights(terms, 'episodes') AS w;
        END IF;
    END IF;
    exact := qvec IS NOT NULL AND memory._rank_exactly(me, model.model_id);

    filters := concat_ws(' AND ',
        own_filter,
        CASE WHEN p_tags IS NOT NULL AND cardinality(p_tags) > 0 THEN 'e.tags @> $5' END,
        CASE WHEN project_filter IS NOT NULL THEN 'e.project_id = $6' END,
        CASE WHEN p_session_id IS NOT NULL THEN 'e.session_id = $7' END,
        CASE WHEN since IS NOT NULL THEN 'e.occurred_at >= $8' END,
        CASE WHEN until IS NOT NULL THEN 'e.occurred_at <= $9' END,
        CASE WHEN min_importance IS NOT NULL THEN 'e.importance >= $10' END
    );

    -- Relevance is a convex combination of the two signals' scores (docs/decisions.md):
    --   text_weight * text_score / (best text_score of the list)
    --   + (1 - text_weight) * max(cosine similarity, 0)
    -- over the union of the two candidate lists; the cosine of a text candidate that the
    -- vector list missed is computed from its chunks (a primary-key probe), so every
    -- candidate has both scores. Without a vector (mode text, daemon down) the text score
    -- alone ranks, without text terms (mode vector, no term in the agent's rows) the
    -- cosine alone. A search writes nothing (memory.mark_used records use).
    -- The vector list: the agent's chunks nearest to the query, as arrays for the main
    -- statement. Through the HNSW graph it is planned for each call (the planner's
    -- choice between the graph and the agent's b-tree depends on how many rows the
    -- agent holds); ranked exactly (the distance without the index's cast keeps the graph
    -- out: a sort over the agent's b-tree), one generic plan per session serves every call (memory._prepared). The
    -- graph is shared by every agent: a dense cluster of other agents' vectors can
    -- strand the walk before it finds enough of ours; then (fewer rows than asked for)
    -- the agent's chunks are ranked exactly.
    IF qvec IS NOT NULL THEN
        near := format(
            $q$
            SELECT coalesce(array_agg(x.episode_id ORDER BY x.dist, x.episode_id), '{}'),
                   coalesce(array_agg(x.dist ORDER BY x.dist, x.episode_id), '{}'),
                   coalesce(array_agg(x.char_start ORDER BY x.dist, x.episode_id), '{}'),
                   coalesce(array_agg(x.char_end ORDER BY x.dist, x.episode_id), '{}')
            FROM (
                SELECT c.episode_id, c.char_start, c.char_end, (c.embedding OPERATOR(public.<=>) $1) AS dist
                FROM memory.chunks AS c%2$s
                WHERE c.model_id = %5$s AND %6$s AND c.episode_id IS NOT NULL%3$s
                ORDER BY %4$s
                LIMIT $3 * 2
            ) AS x
            $q$,
            model.dimensions,
            -- the vector list joins the episodes only when a filter needs their columns
            CASE WHEN filters = own_filter THEN '' ELSE ' JOIN memory.episodes AS e ON e.episode_id = c.episode_id' END,
            CASE WHEN filters = own_filter THEN '' ELSE ' AND ' || filters END,
            -- the order: filled in below, the graph's (memory._graph_order_sql) or the
            -- exact distance itself (then computed once per chunk)
            '%1$s', model.model_id,
            -- include_shared (190-sharing.sql): the chunks of every owner the caller reads
            CASE WHEN include_shared THEN 'c.agent_id = ANY ($22)' ELSE 'c.agent_id = $4' END);
        IF NOT exact THEN
            -- ordered by the index's expression, so that the planner can walk the graph
            EXECUTE format(near, memory._graph_order_sql(model.dimensions, '$1'))
            INTO near_ids, near_dist, near_start, near_end
            USING qvec, terms, n_cand, me, p_tags, project_filter, p_session_id, since, until, min_importance,
                  NULL::double precision, NULL::double precision, NULL::double precision, NULL::double precision,
                  NULL::integer, NULL::double precision, NULL::integer,
                  NULL::uuid [], NULL::double precision [], NULL::integer [], NULL::integer [], owners, owner_names,
                  NULL::double precision [], NULL::double precision;
            exact := cardinality(near_ids) < 2 * n_cand;
        END IF;
        IF exact THEN
            PERFORM pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true);
            EXECUTE format('EXECUTE %I(%L, %L, %L, %L, %L, %L, %L, %L, %L, %L, '
                           'NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, %L, %L, NULL, NULL)',
                           -- ordered by the exact distance: the graph stays out (its
                           -- expression is the cast to halfvec), and the distance of the
                           -- select list is computed once per chunk
                           memory._prepared(format(near, '(c.embedding OPERATOR(public.<=>) $1)'), args),
                           qvec, terms, n_cand, me, p_tags, project_filter, p_session_id, since, until, min_importance,
                           owners, owner_names)
            INTO near_ids, near_dist, near_start, near_end;
        END IF;
    END IF;

    -- Relevance is a convex combination of the two signals' scores (docs/decisions.md):
    --   text_weight * text_score / (best text_score of the list)
    --   + (1 - text_weight) * max(cosine similarity, 0)
    -- over the union of the two candidate lists; the cosine of a text candidate that the
    -- vector list missed is computed from its chunks (a primary-key probe), so every
    -- candidate has both scores. Without a vector (mode text, daemon down) the text score
    -- alone ranks, without text terms (mode vector, no term in the agent's rows) the
    -- cosine alone. A search writes nothing (memory.mark_used records use). Its text
    -- depends only on the model and the filters used: one generic plan per session.
    -- the best chunk of each episode whose id the subquery {ids} returns: one index scan
    -- over the array of their ids (the caller's rows), each chunk's distance computed
    -- once; no cast to the index's expression, so the HNSW graph is never used for it
    best_chunks := format(
        'SELECT DISTINCT ON (c.episode_id) c.episode_id, c.embedding OPERATOR(public.<=>) $1 AS dist,'
        ' c.char_start, c.char_end FROM memory.chunks AS c'
        ' WHERE $1 IS NOT NULL AND c.model_id = %s AND c.episode_id = ANY (ARRAY({ids}))'
        ' ORDER BY c.episode_id, 2, c.chunk_index', coalesce(model.model_id, 0));
    stmt := format(
        $q$
        WITH vec AS (
            SELECT DISTINCT ON (c.episode_id) c.episode_id, c.dist, c.char_start, c.char_end
            FROM unnest($18::uuid[], $19::double precision[], $20::integer[], $21::integer[])
                 AS c (episode_id, dist, char_start, char_end)
            ORDER BY c.episode_id, c.dist
        ),
        vec_top AS (
            SELECT v.* FROM vec AS v ORDER BY v.dist, v.episode_id LIMIT $3
        ),
        txt AS MATERIALIZED (
            SELECT t.episode_id, t.text_score
            FROM %4$s AS t
        ),
        -- the best chunk of each text candidate that the vector list did not bring
        txt_vec AS (%3$s),
        both_vec AS (
            SELECT * FROM vec_top UNION ALL SELECT * FROM txt_vec
        ),
        -- materialized: joined on a plain column, the episodes are probed by primary key
        fused AS MATERIALIZED (
            SELECT coalesce(v.episode_id, t.episode_id) AS episode_id,
                   %2$s AS relevance,
                   1 - v.dist AS vector_score, t.text_score, v.char_start, v.char_end
            FROM both_vec AS v
            FULL JOIN txt AS t ON t.episode_id = v.episode_id
            CROSS JOIN (SELECT max(x.text_score) AS tmax FROM txt AS x) AS m
        ),
        -- neighbour expansion: the best neighbour_seeds candidates pull the episode just
        -- before and just after them in their session (by occurred_at, then id; passing
        -- the same filters) in at neighbour_weight times their relevance plus
        -- neighbour_own_weight times the neighbour's own (unless it ranks higher alone)
        seeds AS (
            SELECT f.episode_id, f.relevance FROM fused AS f
            WHERE $16 > 0
            ORDER BY f.relevance DESC, f.episode_id
            LIMIT $17
        ),
        nbr AS (
            SELECT n.episode_id, max(s.relevance) AS seed_relevance
            FROM seeds AS s
            JOIN memory.episodes AS se ON se.episode_id = s.episode_id AND se.session_id IS NOT NULL
            CROSS JOIN LATERAL (
                (SELECT e.episode_id FROM memory.episodes AS e
                 WHERE %1$s AND e.session_id = se.session_id%5$s
                   AND (e.occurred_at, e.episode_id) < (se.occurred_at, se.episode_id)
                 ORDER BY e.occurred_at DESC, e.episode_id DESC LIMIT 1)
                UNION ALL
                (SELECT e.episode_id FROM memory.episodes AS e
                 WHERE %1$s AND e.session_id = se.session_id%5$s
                   AND (e.occurred_at, e.episode_id) > (se.occurred_at, se.episode_id)
                 ORDER BY e.occurred_at, e.episode_id LIMIT 1)
            ) AS n
            GROUP BY n.episode_id
        ),
        -- the best chunk of a neighbour that was not a candidate
        nbr_vec AS MATERIALIZED (%7$s),
        -- a neighbour's own scores: its cosine, and the weights of the words it holds
        -- (its row, read as the caller: at most 2 * neighbour_seeds of them)
        nbr_own AS (
            SELECT n.episode_id, n.seed_relevance, nv.char_start, nv.char_end,
                   coalesce(1 - f.vector_score, nv.dist) AS dist,
                   (SELECT sum(w.weight) FROM unnest($2, $24) AS w (term, weight) WHERE ne.fts @@ w.term) AS text_score
            FROM nbr AS n
            JOIN memory.episodes AS ne ON ne.episode_id = n.episode_id
            LEFT JOIN fused AS f ON f.episode_id = n.episode_id
            LEFT JOIN nbr_vec AS nv ON nv.episode_id = n.episode_id
        ),
        nbr_rel AS (
            SELECT t.episode_id, t.char_start, t.char_end, 1 - t.dist AS vector_score, t.text_score,
                   $16 * t.seed_relevance + $25 * %6$s AS relevance
            FROM nbr_own AS t
            CROSS JOIN (SELECT max(x.text_score) AS tmax FROM txt AS x) AS m
        ),
        ranked AS MATERIALIZED (
            SELECT coalesce(f.episode_id, n.episode_id) AS episode_id,
                   greatest(f.relevance, n.relevance) AS relevance,
                   coalesce(f.vector_score, n.vector_score) AS vector_score, coalesce(f.text_score, n.text_score) AS text_score,
                   coalesce(f.char_start, n.char_start) AS char_start, coalesce(f.char_end, n.char_end) AS char_end
            FROM fused AS f
            FULL JOIN nbr_rel AS n ON n.episode_id = f.episode_id
        )
        SELECT e.episode_id, e.content,
               ((1 - $12 - $13) * f.relevance
                + $12 * power(0.5, least(greatest(extract(EPOCH FROM now() - e.occurred_at), 0) / $14, 1000))
                + $13 * e.importance)::double precision AS score,
               f.vector_score, f.text_score, e.occurred_at, e.importance, e.tags, e.session_id, e.metadata,
               CASE WHEN f.char_start IS NOT NULL
                    THEN substr(e.content, f.char_start + 1, f.char_end - f.char_start) END AS matched_chunk,
               $23[array_position($22, e.agent_id)] AS owner
        FROM ranked AS f
        JOIN memory.episodes AS e ON e.episode_id = f.episode_id
        ORDER BY score DESC, e.occurred_at DESC, e.episode_id
        LIMIT $15
        $q$,
        filters,
        memory._relevance_sql('$11', '$1 IS NOT NULL', 't.text_score', 'm.tmax', 'v.dist'),
        -- the best chunk of each text candidate that the vector list did not bring
        replace(best_chunks, '{ids}', 'SELECT t.episode_id FROM txt AS t'
                ' WHERE NOT EXISTS (SELECT 1 FROM vec_top AS v WHERE v.episode_id = t.episode_id)'),
        -- include_shared (190-sharing.sql): the shared text list (SECURITY INVOKER: the
        -- caller's row-level security decides), neighbours of the seed's own owner
        CASE WHEN include_shared THEN 'memory._shared_episode_text_list($2, $24, $3, $5, $6, $7, $8, $9, $10, $22)'
             ELSE 'memory._episode_text_list($2, $24, $3, $5, $6, $7, $8, $9, $10)' END,
        CASE WHEN include_shared THEN ' AND e.agent_id = se.agent_id' ELSE '' END,
        -- the own relevance of a neighbour, as a candidate's
        memory._relevance_sql('$11', '$1 IS NOT NULL', 't.text_score', 'm.tmax', 't.dist'),
        -- the best chunk of each neighbour that was not a candidate
        replace(best_chunks, '{ids}', 'SELECT t.episode_id FROM nbr AS t'
                ' WHERE NOT EXISTS (SELECT 1 FROM fused AS x WHERE x.episode_id = t.episode_id)')
    );
    -- the values go in as literals of the parameters' types
    PERFORM pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true);
    RETURN QUERY EXECUTE format(
        'EXECUTE %I(%L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L)',
        memory._prepared(stmt, args),
        qvec, w_terms, n_cand, me, p_tags, project_filter, p_session_id, since, until,
        min_importance, text_weight, recency_weight, importance_weight,
        extract(EPOCH FROM recency_half_life)::double precision, k, neighbour_weight, neighbour_seeds,
        near_ids, near_dist, near_start, near_end, owners, owner_names, w_weights, neighbour_own_weight
    );
END
$$;

COMMENT ON FUNCTION memory._search_episodes(text, integer, text, text[], text, text, timestamptz, timestamptz, real, double precision, double precision, interval, double precision, integer, double precision, integer, double precision, boolean) IS
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
    text_weight double precision DEFAULT 0.35,
    candidates integer DEFAULT NULL,
    neighbour_weight double precision DEFAULT 0.5,
    neighbour_seeds integer DEFAULT 10,
    neighbour_own_weight double precision DEFAULT 0.6,
    include_shared boolean DEFAULT false
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
    matched_chunk text,
    owner text
)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM memory._search_episodes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
$$;

COMMENT ON FUNCTION memory.search_episodic_memory(text, integer, text, text[], text, text, timestamptz, timestamptz, real, double precision, double precision, interval, double precision, integer, double precision, integer, double precision, boolean) IS
'Searches the current agent''s episodes by meaning and by words, and writes nothing (memory.mark_used records what the caller used). mode: hybrid (default), vector, or text. Candidates: the best candidates (default max(4k, 40)) of the HNSW vector list and of the full-text list (the question''s words weighted by their inverse document frequency among the agent''s OWN episodes: memory._episode_text_list). relevance = text_weight * text_score / best text_score + (1 - text_weight) * max(cosine, 0) over both lists (text_weight 0.35, chosen by leave-one-conversation-out cross-validation: reports/eval-locomo.md); text_weight counts as 1 without a query vector and as 0 without a text match. Neighbour expansion (mode hybrid only; modes text and vector return one list as it is): the best neighbour_seeds candidates (default 10; 0 turns it off) pull in the episode just before and just after them in their session (same session_id, by occurred_at then id, passing the same filters) with relevance neighbour_weight (default 0.5) times the seed''s plus neighbour_own_weight (default 0.6) times the neighbour''s own relevance (its cosine and the weights of the words it holds, as a candidate''s), unless the neighbour ranks higher on its own; the three chosen by the same cross-validation. Filters: tags (all of them), project (name), session_id, since/until (occurred_at), min_importance; applied inside the index scans. score = (1 - recency_weight - importance_weight) * relevance + recency_weight * 0.5^(age / recency_half_life) + importance_weight * importance (a weight under 1e-12, text_weight included, counts as 0; the recency factor stops at 0.5^1000); candidates: the length of each list (default max(4k, 40), 1..10000). vector_score: cosine similarity of the best chunk (NULL when vector search was not used or unavailable: then a NOTICE says so and the text list alone ranks); text_score: the sum of the agent-own weights of the query words the episode holds (NULL outside the text list and the pulled neighbours, or when it holds none); matched_chunk: the best chunk''s text. Raises 42501, 22023 (empty query, k outside 1..1000, unknown mode, bad weights, text_weight, neighbour_weight or neighbour_own_weight outside 0..1, candidates outside 1..10000, neighbour_seeds outside 0..100, since after until, bad tags, NULL include_shared), 22001 (query over 10,000 characters), 22003 (min_importance). include_shared (default false: the caller''s own episodes, ranked exactly as without it): also the episodes other agents shared with the caller (memory.share), read under the caller''s row-level security; the text list then weighs each word by its document frequency among every row the caller can read (own and shared) and runs without the GIN index; project still names one of the caller''s own projects. owner: the name of the agent the episode belongs to (the caller''s own name without include_shared).';

-- ---------------------------------------------------------------------------
-- The vector overload of search_episodic_memory (the seed's signature): search by a
-- query vector. SECURITY INVOKER: an agent sees only its own chunks and episodes
-- (row-level security).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.search_episodic_memory(
    query_embedding vector,
    limit_results integer DEFAULT 10,
    similarity_threshold double precision DEFAULT 0.7
)
RETURNS TABLE (
    episode_id uuid, content text, similarity_score double precision, "timestamp" timestamptz, tags text []
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, public, pg_temp
SET "hnsw.iterative_scan" = 'relaxed_order'
SET "hnsw.ef_search" = 100
SET jit = off
AS $$
DECLARE
    m record;
    me uuid := memory.current_agent();
BEGIN
    IF query_embedding IS NULL THEN
        RAISE EXCEPTION 'query_embedding must not be NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'embed the query with memory.embed_query(text)';
    END IF;
    IF limit_results IS NULL OR limit_results NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'limit_results must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'ask for fewer results';
    END IF;
    IF similarity_threshold IS NULL OR similarity_threshold NOT BETWEEN -1 AND 1 THEN
        RAISE EXCEPTION 'similarity_threshold must be between -1 and 1'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'cosine similarity: 1 is identical, 0 unrelated';
    END IF;
    SELECT md.model_id, md.name, md.dimensions INTO m FROM memory.embedding_models AS md WHERE md.is_serving;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no embedding model is serving'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'an operator runs memory.set_active_model(name)';
    END IF;
    IF vector_dims(query_embedding) <> m.dimensions THEN
        RAISE EXCEPTION 'query_embedding has % dimensions, the serving model % has %',
            vector_dims(query_embedding), m.name, m.dimensions
            USING ERRCODE = 'invalid_parameter_value', HINT = 'embed the query with memory.embed_query(text)';
    END IF;
    -- A zero vector has no direction: its cosine similarity to anything is NaN, which
    -- PostgreSQL sorts above every threshold.
    IF vector_norm(query_embedding) = 0 THEN
        RAISE EXCEPTION 'query_embedding must not be a zero vector'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'embed the query with memory.embed_query(text)';
    END IF;
    -- The nearest chunks by the model's own partial HNSW index (the cast and the model
    -- id are literals so that the planner can match it; the distances returned are the
    -- exact ones of the stored vectors), then the best chunk per episode. Iterative scans keep going when row-level security filters neighbours out.
    -- An agent with few chunks is ranked exactly instead, as in search_episodic_memory(text)
    -- (memory._rank_exactly): the shared graph can strand a small agent's neighbours.
    RETURN QUERY EXECUTE format(
        $q$
        WITH nearest AS MATERIALIZED (
            SELECT c.episode_id, c.embedding OPERATOR(public.<=>) $1 AS distance
            FROM memory.chunks AS c
            WHERE c.model_id = %2$s AND c.episode_id IS NOT NULL%3$s
            ORDER BY %4$s
            LIMIT $2
        ),
        -- exact ranking when the shared HNSW graph yields fewer rows than asked for (as
        -- in memory._search_episodes)
        nearest_all AS (
            SELECT * FROM nearest
            UNION ALL
            SELECT * FROM (
                SELECT c.episode_id, c.embedding OPERATOR(public.<=>) $1 AS distance
                FROM memory.chunks AS c
                WHERE c.model_id = %2$s AND c.episode_id IS NOT NULL%3$s
                ORDER BY 2
                LIMIT $2
            ) AS ex
            WHERE %5$s AND (SELECT count(*) FROM nearest) < $2
        )
        SELECT e.episode_id, e.content, (1 - min(n.distance))::double precision, e.occurred_at, e.tags
        FROM nearest_all AS n
        JOIN memory.episodes AS e ON e.episode_id = n.episode_id
        -- NaN: a vector so small that single precision loses it (no similarity at all)
        WHERE n.distance <> 'NaN'::double precision
        GROUP BY e.episode_id
        HAVING 1 - min(n.distance) >= $3
        ORDER BY 3 DESC, e.episode_id
        LIMIT $4
        $q$,
        m.dimensions, m.model_id,
        CASE WHEN me IS NOT NULL THEN ' AND c.agent_id = $5' ELSE '' END,
        -- the graph's order, or the exact distance (which keeps the graph out)
        CASE WHEN me IS NOT NULL AND memory._rank_exactly(me, m.model_id) THEN '2'
             ELSE memory._graph_order_sql(m.dimensions, '$1') END,
        CASE WHEN me IS NOT NULL AND NOT memory._rank_exactly(me, m.model_id) THEN 'TRUE' ELSE 'FALSE' END
    ) USING query_embedding, greatest(100, limit_results * 10), similarity_threshold, limit_results, me;
END
$$;

COMMENT ON FUNCTION memory.search_episodic_memory(vector, integer, double precision) IS
'The seed''s vector search: the current agent''s episodes nearest to query_embedding (a vector of the serving model, e.g. from memory.embed_query(text)), best chunk per episode, cosine similarity at least similarity_threshold, at most limit_results. SECURITY INVOKER: row-level security keeps each agent to its own episodes. A vector too small for single precision matches nothing. Raises 22023 (NULL, zero or wrong-dimension vector, bad limits), 55000 (no serving model); the vector type itself refuses NaN or infinite elements (22000) and over 16,000 dimensions (54000).';
