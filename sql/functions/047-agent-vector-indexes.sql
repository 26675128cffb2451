-- An agent's own HNSW graph (issue 16: search at 1,000,000 episodes).
--
-- Every model has one HNSW index over all agents' chunks (043). An agent whose chunks
-- are few is ranked exactly (memory._rank_exactly); above that bound the search walks
-- the shared graph with the agent as a filter. When the agent holds a small share of a
-- large graph, the walk visits (and discards) many other agents' neighbours before it
-- has enough of the agent's own: at 1,000,000 episodes, an agent of 100,000 took
-- 18-40 ms for its 80 candidates with recall@10 0.953 after exact re-ranking, against
-- 2-3 ms and 1.000 through a partial index of its own (docs/decisions.md, "An agent's
-- own graph"). The search needs no change to use it: its graph statement is planned at
-- each call with the agent's id as a constant, so the planner proves the partial index's
-- predicate and picks the smaller graph.
--
-- Building an index with CONCURRENTLY cannot run inside a function, and a plain CREATE
-- INDEX would stop the daemon's writes of vectors for its whole build, so the database
-- plans and an operator (scripts/agent-indexes.sh, `make agent-indexes`) runs the plan.
-- memory.health() counts the agents waiting for theirs (an alert rule watches it).
SET ROLE memory_owner;

-- The bound above which search stops ranking an agent's chunks exactly (the setting
-- memory.exact_search_max_chunks, default 10,000), checked.
CREATE OR REPLACE FUNCTION memory._exact_search_max_chunks()
RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    setting text := nullif(current_setting('memory.exact_search_max_chunks', true), '');
    lim integer;
BEGIN
    lim := CASE WHEN setting IS NULL THEN 10000
                WHEN setting ~ '^\s*[0-9]{1,7}\s*$' THEN setting::integer END;
    IF lim IS NULL OR lim > 1000000 THEN
        RAISE EXCEPTION 'memory.exact_search_max_chunks must be an integer between 0 and 1000000'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', left(setting, 40));
    END IF;
    RETURN lim;
END
$$;

COMMENT ON FUNCTION memory._exact_search_max_chunks() IS
'Private: the setting memory.exact_search_max_chunks (default 10,000): how many chunks of a model an agent may hold and still be ranked exactly. Raises 22023 when the setting is not an integer between 0 and 1000000.';

CREATE OR REPLACE FUNCTION memory._agent_vector_index_name(agent uuid, model smallint)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'chunks_agent_' || replace(agent::text, '-', '') || '_model_' || model || '_idx' $$;

COMMENT ON FUNCTION memory._agent_vector_index_name(uuid, smallint) IS
'Private: the name of agent''s own HNSW index of model: chunks_agent_<the agent id''s 32 hex digits>_model_<model id>_idx (at most 63 characters). Raises nothing.';

CREATE OR REPLACE FUNCTION memory.agent_vector_index_plan(min_chunks integer DEFAULT NULL)
RETURNS TABLE (action text, agent text, model text, chunks bigint, statement text)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lim integer := coalesce(min_chunks, memory._exact_search_max_chunks());
BEGIN
    PERFORM memory._check_count('min_chunks', lim, 1, 100000000);
    RETURN QUERY
    WITH counts AS (
        SELECT c.agent_id, c.model_id, count(*) AS n FROM memory.chunks AS c GROUP BY c.agent_id, c.model_id
    ),
    wanted AS (
        SELECT a.name, m.name AS model_name, m.dimensions, k.agent_id, k.model_id, k.n,
               memory._agent_vector_index_name(k.agent_id, k.model_id) AS index_name
        FROM counts AS k
        JOIN memory.agents AS a ON a.agent_id = k.agent_id
        JOIN memory.embedding_models AS m ON m.model_id = k.model_id
    ),
    existing AS (
        SELECT i.relname::text AS index_name, x.indisvalid AS valid
        FROM pg_catalog.pg_index AS x
        JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
        WHERE x.indrelid = 'memory.chunks'::regclass AND i.relname ~ '^chunks_agent_[0-9a-f]{32}_model_[0-9]+_idx$'
    )
    -- first the drops: an agent or a model that is gone, an agent far under the bound
    -- (half of it, so that an agent near the bound is not rebuilt back and forth), and
    -- an index a failed build left invalid (it is then built again)
    SELECT 'drop', w.name, w.model_name, w.n, format('DROP INDEX CONCURRENTLY IF EXISTS memory.%I', e.index_name)
    FROM existing AS e
    LEFT JOIN wanted AS w ON w.index_name = e.index_name
    WHERE w.index_name IS NULL OR w.n <= lim / 2 OR NOT e.valid
    UNION ALL
    SELECT 'create', w.name, w.model_name, w.n, format(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS %I ON memory.chunks USING hnsw '
        '((embedding::public.halfvec(%s)) public.halfvec_cosine_ops) WHERE agent_id = %L AND model_id = %s',
        w.index_name, w.dimensions, w.agent_id, w.model_id)
    FROM wanted AS w
    WHERE w.n > lim AND NOT EXISTS (SELECT 1 FROM existing AS e WHERE e.index_name = w.index_name AND e.valid)
    ORDER BY 1 DESC, 4 DESC, 2;
END
$$;

COMMENT ON FUNCTION memory.agent_vector_index_plan(integer) IS
'Operators: what to run so that every agent holding more than min_chunks chunks of a model (default: memory.exact_search_max_chunks, 10,000, the bound of exact ranking) has its own HNSW index of that model, and no other agent has one: rows (action drop or create, agent, model, chunks, statement), drops first (an agent or model that is gone, an agent at or under half the bound, an invalid index left by a failed build), then creates, largest agent first. Each statement uses CONCURRENTLY: run them one by one outside a transaction (scripts/agent-indexes.sh, make agent-indexes). Reads every agent''s chunk counts. Raises 22023 (min_chunks outside 1..100000000, a bad memory.exact_search_max_chunks).';
