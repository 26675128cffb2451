-- Operations from psql (issue 6): pause and resume the embedding queue, checkpoint now,
-- the pg_cron jobs' last runs, and the operations layer of memory.health(). Requeueing
-- dead jobs and re-embedding are memory.requeue_dead() (041-embedding-queue.sql) and
-- memory.reembed() (043-embedding-models.sql); README.md "Operations" lists them all.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.pause_embedding(reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was boolean;
BEGIN
    IF char_length(reason) > 500 THEN
        RAISE EXCEPTION 'reason must have at most 500 characters'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a short note for other operators';
    END IF;
    SELECT s.embedding_paused INTO was FROM memory.operations_settings AS s FOR UPDATE;
    UPDATE memory.operations_settings AS s
    SET embedding_paused = TRUE,
        paused_at = CASE WHEN was THEN s.paused_at ELSE now() END,
        paused_by = CASE WHEN was THEN s.paused_by ELSE session_user END,
        pause_reason = coalesce(reason, s.pause_reason);
    RETURN NOT was;
END
$$;

COMMENT ON FUNCTION memory.pause_embedding(text) IS
'Operators: pauses the embedding queue: memory.claim_embedding_batch hands out no job until memory.resume_embedding(); writes keep enqueueing, leases already held finish. Returns true when it was running. Raises 22023 for a reason over 500 characters.';

CREATE OR REPLACE FUNCTION memory.resume_embedding()
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    was boolean;
BEGIN
    SELECT s.embedding_paused INTO was FROM memory.operations_settings AS s FOR UPDATE;
    UPDATE memory.operations_settings AS s
    SET embedding_paused = FALSE, paused_at = NULL, paused_by = NULL, pause_reason = NULL;
    -- wake the daemons: the queue may have grown while paused
    PERFORM pg_catalog.pg_notify('memory_embed', 'resume');
    RETURN was;
END
$$;

COMMENT ON FUNCTION memory.resume_embedding() IS
'Operators: resumes the embedding queue paused by memory.pause_embedding() and wakes the daemons. Returns true when it was paused. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._embedding_paused()
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT s.embedding_paused FROM memory.operations_settings AS s), FALSE)
$$;

COMMENT ON FUNCTION memory._embedding_paused() IS
'Private: true while an operator has paused the embedding queue (memory.pause_embedding). Raises nothing.';

CREATE OR REPLACE FUNCTION memory.checkpoint_now()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory.auto_checkpoint()
$$;

COMMENT ON FUNCTION memory.checkpoint_now() IS
'Operators: runs the memory-auto-checkpoint job now: an auto checkpoint for every agent whose identity hash changed since its latest checkpoint. Returns how many were written. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory._health_operations()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settings record;
    jobs jsonb;
    failed integer;
    counts jsonb;
    identity jsonb;
    drifted integer;
    problems text [] := '{}';
    status text := 'ok';
    -- agents waiting for an HNSW index of their own: counting every agent's chunks costs
    -- 0.2 s at 1,000,000 episodes, and the exporter reads health() six times a scrape;
    -- the session keeps the count for 10 minutes (its alert waits an hour)
    own_index_cache text := current_setting('memory.own_index_check_cache', true);
    waiting bigint;
BEGIN
    IF own_index_cache ~ '^[0-9]{1,12}/[0-9]{1,9}$'
       AND extract(EPOCH FROM clock_timestamp()) - split_part(own_index_cache, '/', 1)::bigint BETWEEN 0 AND 600 THEN
        waiting := split_part(own_index_cache, '/', 2)::bigint;
    ELSE
        SELECT count(*) INTO waiting FROM memory.agent_vector_index_plan() AS p WHERE p.action = 'create';
        PERFORM pg_catalog.set_config('memory.own_index_check_cache',
                                      floor(extract(EPOCH FROM clock_timestamp()))::bigint || '/' || waiting, false);
    END IF;
    SELECT * INTO settings FROM memory.operations_settings;

    SELECT coalesce(jsonb_object_agg(c.jobname, jsonb_build_object(
        'schedule', c.schedule, 'active', c.active, 'last_status', c.last_status,
        'last_start', c.last_start, 'last_end', c.last_end,
        'last_message', CASE WHEN c.last_status = 'failed' THEN c.last_message END
    )), '{}'), count(*) FILTER (WHERE c.last_status = 'failed')
    INTO jobs, failed
    FROM memory.cron_status AS c;

    counts := jsonb_build_object(
        'agents', (SELECT count(*) FROM memory.agents),
        'episodes', (SELECT count(*) FROM memory.episodes),
        'facts', (SELECT count(*) FROM memory.facts),
        'facts_valid', (SELECT count(*) FROM memory.facts AS f WHERE f.invalidated_at IS NULL),
        'working_memory_live', (SELECT count(*) FROM memory.working_memory AS w WHERE w.expires_at > now()),
        'working_memory_expired', (SELECT count(*) FROM memory.working_memory AS w WHERE w.expires_at <= now()),
        'blocks', (SELECT count(*) FROM memory.blocks),
        'checkpoints', (SELECT count(*) FROM memory.checkpoints)
    );

    -- identity drift: agents whose blocks no longer match their latest checkpoint
    WITH per_agent AS (
        SELECT a.agent_id,
               memory._identity_hash(memory._blocks_snapshot(a.agent_id)) AS current_hash,
               lc.identity_hash AS checkpoint_hash, lc.created_at,
               EXISTS (SELECT 1 FROM memory.blocks AS b WHERE b.agent_id = a.agent_id) AS has_blocks
        FROM memory.agents AS a
        LEFT JOIN LATERAL (
            SELECT c.identity_hash, c.created_at FROM memory.checkpoints AS c
            WHERE c.agent_id = a.agent_id ORDER BY c.created_at DESC, c.checkpoint_id DESC LIMIT 1
        ) AS lc ON TRUE
    )
    SELECT jsonb_build_object(
        'last_checkpoint_at', max(p.created_at),
        'agents_with_blocks', count(*) FILTER (WHERE p.has_blocks),
        'agents_without_checkpoint', count(*) FILTER (WHERE p.has_blocks AND p.checkpoint_hash IS NULL),
        'agents_drifted', count(*) FILTER (WHERE p.checkpoint_hash IS NOT NULL AND p.current_hash <> p.checkpoint_hash)
    ), count(*) FILTER (WHERE p.checkpoint_hash IS NOT NULL AND p.current_hash <> p.checkpoint_hash)
    INTO identity, drifted
    FROM per_agent AS p;

    IF settings.embedding_paused THEN
        problems := problems || format('embedding paused since %s', settings.paused_at);
    END IF;
    IF failed > 0 THEN
        problems := problems || format('%s pg_cron job(s) failed on their last run', failed);
    END IF;
    IF cardinality(problems) > 0 THEN
        status := 'degraded';
    END IF;

    RETURN jsonb_build_object(
        'status', status,
        'problems', to_jsonb(problems),
        'embedding_paused', settings.embedding_paused,
        'paused_at', settings.paused_at,
        'paused_by', settings.paused_by,
        'counts', counts,
        'cron_jobs', jobs,
        'cron_status_recorded_at', (SELECT max(c.recorded_at) FROM memory.cron_status AS c),
        'identity', identity,
        -- agents too large to be ranked exactly that have no HNSW index of their own yet
        -- (047-agent-vector-indexes.sql: make agent-indexes builds them)
        'agents_needing_own_vector_index', waiting
    );
END
$$;

COMMENT ON FUNCTION memory._health_operations() IS
'Private: the operations layer of memory.health(): embedding paused or not, row counts per layer, the memory-* pg_cron jobs with their last run status, the last checkpoint the number of agents whose identity drifted from their latest checkpoint, and the number of agents waiting for an HNSW index of their own (memory.agent_vector_index_plan; counted at most every 10 minutes per session, the setting memory.own_index_check_cache); status ok or degraded. Raises nothing.';
