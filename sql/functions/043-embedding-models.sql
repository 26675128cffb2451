-- The model registry: registering, activating and dropping embedding models,
-- switching search to the active model once it covers everything, re-embedding.

SET ROLE memory_owner;

-- When the active model is not yet serving and covers every episode and fact,
-- search switches to it. Serialised on the model row, so of two concurrent callers
-- the second sees the first's commit.
CREATE OR REPLACE FUNCTION memory._maybe_switch_serving(model smallint)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM memory.embedding_models AS m
    WHERE m.model_id = model AND m.is_active AND NOT m.is_serving
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM memory.embedding_jobs AS j WHERE j.model_id = model AND j.state <> 'done')
       OR EXISTS (
           SELECT 1 FROM memory.episodes AS e
           WHERE NOT EXISTS (
               SELECT 1 FROM memory.embedding_jobs AS j
               WHERE j.episode_id = e.episode_id AND j.model_id = model AND j.state = 'done'
           )
       )
       OR EXISTS (
           SELECT 1 FROM memory.facts AS f
           WHERE NOT EXISTS (
               SELECT 1 FROM memory.embedding_jobs AS j
               WHERE j.fact_id = f.fact_id AND j.model_id = model AND j.state = 'done'
           )
       ) THEN
        RETURN false;
    END IF;
    UPDATE memory.embedding_models AS m SET is_serving = false WHERE m.is_serving;
    UPDATE memory.embedding_models AS m SET is_serving = true, serving_since = now() WHERE m.model_id = model;
    RAISE LOG 'memory: embedding model % now serves search', model;
    RETURN true;
END
$$;

COMMENT ON FUNCTION memory._maybe_switch_serving(smallint) IS
'Private: makes the active model the serving one once every episode and fact has its vectors; returns whether it switched.';

-- Private: the distance by which a model's HNSW index orders the chunks of alias c (the
-- stored vector cast to halfvec of the model's dimensions, migration 032) to the query
-- expression q, as SQL text: a statement ordered by it can walk the graph. The graph
-- only chooses candidates: the distance a statement returns, ranks by at the end or
-- compares with a threshold is the exact one of the stored vectors, c.embedding <=> q.
CREATE OR REPLACE FUNCTION memory._graph_order_sql(dims integer, q text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('(c.embedding::public.halfvec(%1$s) OPERATOR(public.<=>) (%2$s)::public.halfvec(%1$s))', dims, q)
$$;

COMMENT ON FUNCTION memory._graph_order_sql(integer, text) IS
'Private: SQL text of the distance that a model''s HNSW index (over embedding::halfvec(dims)) orders chunks of alias c by, to the query expression q; a statement ordered by it can use the index. Raises nothing.';

-- ---------------------------------------------------------------------------
-- Operators: models, re-embedding.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.register_embedding_model(
    name text,
    source text,
    dimensions integer,
    max_tokens integer DEFAULT 256,
    chunk_tokens integer DEFAULT 200,
    chunk_overlap integer DEFAULT 32
)
RETURNS smallint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id smallint;
BEGIN
    IF EXISTS (SELECT 1 FROM memory.embedding_models AS m WHERE m.name = register_embedding_model.name) THEN
        RAISE EXCEPTION 'embedding model % already exists', name
            USING ERRCODE = 'unique_violation', HINT = 'choose another name';
    END IF;
    BEGIN
        INSERT INTO memory.embedding_models (name, source, dimensions, max_tokens, chunk_tokens, chunk_overlap)
        VALUES (name, source, dimensions, max_tokens, chunk_tokens, chunk_overlap)
        RETURNING model_id INTO new_id;
    EXCEPTION
        WHEN check_violation OR not_null_violation THEN
            RAISE EXCEPTION 'invalid embedding model settings'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = SQLERRM,
                      HINT = 'dimensions 1..2000; 8 <= chunk_tokens <= max_tokens - 2; 0 <= 2 * chunk_overlap <= chunk_tokens';
    END;
    -- its own partial HNSW index over the cast to halfvec of its dimension (as migration
    -- 032 built the existing ones; memory._graph_order_sql orders by the same expression)
    EXECUTE format(
        'CREATE INDEX %I ON memory.chunks USING hnsw ((embedding::public.halfvec(%s)) public.halfvec_cosine_ops)'
        ' WHERE model_id = %s',
        'chunks_embedding_model_' || new_id || '_idx', dimensions, new_id
    );
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory.register_embedding_model(text, text, integer, integer, integer, integer) IS
'Operators: registers an embedding model (inactive) with its source for the daemon, dimensions, window and chunk settings, and creates its partial HNSW index. Returns its id. Raises 23505 (name taken), 22023 (bad settings).';

CREATE OR REPLACE FUNCTION memory.drop_embedding_model(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
BEGIN
    SELECT * INTO m FROM memory.embedding_models AS md WHERE md.name = drop_embedding_model.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'embedding model % does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'memory.embedding_models lists the registered models';
    END IF;
    IF m.is_active OR m.is_serving THEN
        RAISE EXCEPTION 'embedding model % is in use', name
            USING ERRCODE = 'object_in_use', HINT = 'activate another model and let it take over search first';
    END IF;
    EXECUTE format('DROP INDEX IF EXISTS memory.%I', 'chunks_embedding_model_' || m.model_id || '_idx');
    DELETE FROM memory.embedding_jobs AS j WHERE j.model_id = m.model_id;
    DELETE FROM memory.embedding_models AS md WHERE md.model_id = m.model_id;
END
$$;

COMMENT ON FUNCTION memory.drop_embedding_model(text) IS
'Operators: removes a model that is neither active nor serving, with its vectors, jobs, cached queries and index. Raises 42704 (unknown), 55006 (in use).';

CREATE OR REPLACE FUNCTION memory.set_active_model(name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target smallint;
BEGIN
    PERFORM 1 FROM memory.embedding_models FOR UPDATE;
    SELECT m.model_id INTO target FROM memory.embedding_models AS m WHERE m.name = set_active_model.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'embedding model % does not exist', name
            USING ERRCODE = 'undefined_object', HINT = 'register it with memory.register_embedding_model()';
    END IF;
    UPDATE memory.embedding_models AS m SET is_active = false WHERE m.is_active AND m.model_id <> target;
    UPDATE memory.embedding_models AS m SET is_active = true, activated_at = now()
    WHERE m.model_id = target AND NOT m.is_active;
    PERFORM memory._maybe_switch_serving(target);
END
$$;

COMMENT ON FUNCTION memory.set_active_model(text) IS
'Operators: makes a registered model the active one: new and changed text is embedded with it (and with the serving model until the switch). Search keeps reading the serving model until the active one covers every episode and fact; run memory.reembed() to backfill. Raises 42704 for an unknown model.';

CREATE OR REPLACE FUNCTION memory.reembed(force boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target smallint;
    n integer;
    total integer := 0;
BEGIN
    SELECT m.model_id INTO target FROM memory.embedding_models AS m WHERE m.is_active;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active embedding model'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'call memory.set_active_model(name) first';
    END IF;
    -- counted by memory._count_pending_jobs (170-quotas.sql), whatever the session set
    PERFORM set_config('memory.owner_counts_jobs', 'off', true);
    -- Backfill priority is importance - 1: fresh writes (0..1) always go first.
    INSERT INTO memory.embedding_jobs AS j (agent_id, episode_id, model_id, priority, content_sha256)
    -- FOR KEY SHARE: what the jobs' foreign key did (172-embedding-job-owners.sql)
    SELECT e.agent_id, e.episode_id, target, e.importance - 1, e.content_sha256 FROM memory.episodes AS e
    FOR KEY SHARE OF e
    ON CONFLICT (episode_id, model_id) WHERE episode_id IS NOT NULL DO UPDATE
    SET state = 'pending', priority = excluded.priority, content_sha256 = excluded.content_sha256, attempts = 0,
        next_attempt_at = now(), enqueued_at = clock_timestamp(), last_error = NULL, last_error_at = NULL
    WHERE j.state = 'done' AND (force OR j.embedded_sha256 IS DISTINCT FROM excluded.content_sha256);
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    INSERT INTO memory.embedding_jobs AS j (agent_id, fact_id, model_id, priority, content_sha256)
    SELECT f.agent_id, f.fact_id, target, f.confidence - 1, f.content_sha256 FROM memory.facts AS f
    FOR KEY SHARE OF f
    ON CONFLICT (fact_id, model_id) WHERE fact_id IS NOT NULL DO UPDATE
    SET state = 'pending', priority = excluded.priority, content_sha256 = excluded.content_sha256, attempts = 0,
        next_attempt_at = now(), enqueued_at = clock_timestamp(), last_error = NULL, last_error_at = NULL
    WHERE j.state = 'done' AND (force OR j.embedded_sha256 IS DISTINCT FROM excluded.content_sha256);
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    IF total > 0 THEN
        PERFORM memory._notify_embed(ARRAY[target]);
    ELSE
        PERFORM memory._maybe_switch_serving(target);
    END IF;
    RETURN total;
END
$$;

COMMENT ON FUNCTION memory.reembed(boolean) IS
'Operators: queues, at low priority, every episode and fact the active model has no current vectors for (force: all of them, e.g. after changing chunk settings) and returns how many. The old vectors keep serving search until the active model covers everything. Raises 55000 when no model is active.';
