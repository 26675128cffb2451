-- memory.health(): one key per layer, each with its own status, and an overall
-- status (the worst of the layers). Each layer's details come from a private
-- function of its area (embedding: memory._health_embedding() in 041-embedding-queue.sql);
-- a new layer adds its key here. cache: memory._health_cache() (150-cache.sql);
-- operations: memory._health_operations() (160-operations.sql).
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.health()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    layers jsonb := jsonb_build_object(
        'embedding', memory._health_embedding(),
        'cache', memory._health_cache(),
        'operations', memory._health_operations()
    );
    worst text;
BEGIN
    SELECT CASE max(CASE l.value ->> 'status' WHEN 'ok' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END)
        WHEN 0 THEN 'ok' WHEN 1 THEN 'degraded' ELSE 'failing' END
    INTO worst
    FROM jsonb_each(layers) AS l;
    RETURN jsonb_build_object('status', coalesce(worst, 'ok'), 'checked_at', now()) || layers;
END
$$;

COMMENT ON FUNCTION memory.health() IS
'Operators: the state of the memory as JSON, one key per layer (embedding: coverage per model, queue depth by state, oldest pending age, dead jobs with their errors, daemon heartbeats; cache: Redis warmers, sync lag, last reconciliation and its repairs; operations: embedding paused, counts, pg_cron jobs with their last run, last checkpoint and identity drift), each with a status ok, degraded or failing, and the overall status, the worst of them.';

CREATE OR REPLACE FUNCTION memory.health_metrics()
RETURNS TABLE (metric text, labels jsonb, value double precision)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h jsonb := memory.health();
    emb jsonb := h -> 'embedding';
    cache jsonb := h -> 'cache';
    ops jsonb := h -> 'operations';
BEGIN
    RETURN QUERY
    SELECT 'memory_layer_status', jsonb_build_object('layer', l.key),
           CASE l.value ->> 'status' WHEN 'ok' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END::double precision
    FROM jsonb_each(h) AS l WHERE jsonb_typeof(l.value) = 'object';
    RETURN QUERY
    SELECT 'memory_embedding_queue_jobs', jsonb_build_object('state', q.key), q.value::text::double precision
    FROM jsonb_each(emb -> 'queue') AS q;
    RETURN QUERY
    SELECT 'memory_embedding_coverage', jsonb_build_object('model', m ->> 'name'), (m ->> 'coverage')::double precision
    FROM jsonb_array_elements(emb -> 'models') AS m;
    RETURN QUERY SELECT 'memory_embedding_oldest_pending_seconds', '{}'::jsonb,
        coalesce((emb ->> 'oldest_pending_age_seconds')::double precision, 0);
    RETURN QUERY SELECT 'memory_embedding_dead_jobs_last_hour', '{}'::jsonb,
        (SELECT count(*) FROM memory.embedding_jobs AS j
         WHERE j.state = 'dead' AND j.last_error_at > now() - interval '1 hour')::double precision;
    RETURN QUERY SELECT 'memory_embedding_paused', '{}'::jsonb,
        CASE WHEN (ops ->> 'embedding_paused')::boolean THEN 1 ELSE 0 END::double precision;
    -- age of the freshest live heartbeat of any embed daemon (a large value when none)
    RETURN QUERY SELECT 'memory_daemon_heartbeat_age_seconds', '{}'::jsonb,
        coalesce((SELECT min((w ->> 'heartbeat_age_seconds')::double precision)
                  FROM jsonb_array_elements(emb -> 'workers') AS w
                  WHERE w ->> 'status' IN ('starting', 'running')), 1e9);
    RETURN QUERY SELECT 'memory_cache_redis_connected', '{}'::jsonb,
        (SELECT count(*) FROM jsonb_array_elements(cache -> 'warmers') AS w
         WHERE (w ->> 'redis_connected')::boolean AND (w ->> 'heartbeat_age_seconds')::numeric < 120)::double precision;
    RETURN QUERY SELECT 'memory_cache_sync_lag_seconds', '{}'::jsonb,
        coalesce((cache ->> 'sync_lag_seconds')::double precision, 0);
    RETURN QUERY SELECT 'memory_cache_last_repaired_keys', '{}'::jsonb,
        coalesce((cache -> 'last_repair' ->> 'repaired')::double precision, 0);
    RETURN QUERY SELECT 'memory_cache_reconciliations_repairing_in_a_row', '{}'::jsonb,
        coalesce((cache ->> 'reconciliations_repairing_in_a_row')::double precision, 0);
    RETURN QUERY
    SELECT 'memory_rows', jsonb_build_object('kind', c.key), c.value::text::double precision
    FROM jsonb_each(ops -> 'counts') AS c;
    RETURN QUERY
    SELECT 'memory_cron_job_failed', jsonb_build_object('job', j.key),
           CASE WHEN j.value ->> 'last_status' = 'failed' THEN 1 ELSE 0 END::double precision
    FROM jsonb_each(ops -> 'cron_jobs') AS j;
    RETURN QUERY SELECT 'memory_identity_drifted_agents', '{}'::jsonb,
        coalesce((ops -> 'identity' ->> 'agents_drifted')::double precision, 0);
    RETURN QUERY SELECT 'memory_agents_needing_own_vector_index', '{}'::jsonb,
        coalesce((ops ->> 'agents_needing_own_vector_index')::double precision, 0);
END
$$;

COMMENT ON FUNCTION memory.health_metrics() IS
'Monitoring (read by prometheus-postgres-exporter as memory_exporter, monitoring/postgres-exporter-queries.yaml): memory.health() as gauges, one row per metric and label set (layer status 0 ok, 1 degraded, 2 failing; queue jobs by state; coverage; oldest pending; dead jobs of the last hour; heartbeat age; cache sync lag and repairs; row counts; failed pg_cron jobs; identity drift; agents waiting for an HNSW index of their own). Counts only, no memory content. Raises nothing.';

-- Monitoring (memory_reader): health() one row per layer. Counts and statuses, no
-- memory content.
CREATE OR REPLACE VIEW memory.health_report AS
SELECT
    l.key AS layer,
    l.value ->> 'status' AS status,
    l.value -> 'problems' AS problems,
    l.value AS detail
FROM jsonb_each(memory.health()) AS l
WHERE jsonb_typeof(l.value) = 'object';

COMMENT ON VIEW memory.health_report IS
'monitoring: memory.health() one row per layer (embedding, cache, operations) with its status, problems and details';
