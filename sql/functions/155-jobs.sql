-- The bodies of the pg_cron jobs (scheduled in the migrations with memory.schedule_job,
-- run as memory_operator), one function per job, and nothing else:
--   memory.reap_expired_leases()
--   memory.prune_query_cache()
--   memory.fold_access_stats()
--   memory.prune_idempotency_keys()
--   memory.expire_working_memory()
--   memory.auto_checkpoint()
--   memory.mark_stale_instances_offline()
--   memory.request_cache_reconcile()
--   memory.record_cron_status()
--   memory.apply_retention()
--   memory.refresh_frequent_lexemes()
-- Numbered after the areas whose tables and helpers they use (070's liveness
-- threshold is read by a LANGUAGE sql body) and before 160-operations.sql, whose
-- memory.checkpoint_now() (LANGUAGE sql) calls memory.auto_checkpoint().
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.reap_expired_leases()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
    models smallint [];
    m smallint;
BEGIN
    WITH reaped AS (
        UPDATE memory.embedding_jobs AS j
        SET state = CASE WHEN j.attempts >= s.max_attempts THEN 'dead' ELSE 'pending' END,
            next_attempt_at = now(),
            last_error = format('lease of worker %s expired at %s', j.lease_owner, j.lease_expires_at),
            last_error_at = clock_timestamp(),
            lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL
        FROM memory.embedding_settings AS s
        WHERE j.state = 'processing' AND j.lease_expires_at < clock_timestamp()
        RETURNING j.model_id
    )
    SELECT count(*), array_agg(DISTINCT r.model_id) INTO n, models FROM reaped AS r;
    PERFORM memory._notify_embed(models);
    -- the safety net of the switch to a newly active model
    FOR m IN SELECT md.model_id FROM memory.embedding_models AS md WHERE md.is_active AND NOT md.is_serving LOOP
        PERFORM memory._maybe_switch_serving(m);
    END LOOP;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.reap_expired_leases() IS
'Operators and pg_cron (memory-reap-leases, every minute): returns jobs whose lease expired (their daemon died) to pending, or to dead when out of attempts; returns how many.';

CREATE OR REPLACE FUNCTION memory.prune_query_cache()
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pruned AS (
        DELETE FROM memory.query_embedding_cache AS c
        USING memory.embedding_settings AS s
        WHERE c.last_used_at < now() - s.query_cache_ttl
        RETURNING 1
    )
    SELECT count(*)::integer FROM pruned
$$;

COMMENT ON FUNCTION memory.prune_query_cache() IS
'Operators and pg_cron (memory-prune-query-cache, hourly): deletes cached query embeddings unused for longer than memory.embedding_settings.query_cache_ttl; returns how many.';

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

CREATE OR REPLACE FUNCTION memory.prune_idempotency_keys()
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pruned AS (
        DELETE FROM memory.idempotency_keys AS k WHERE k.created_at < now() - memory.idempotency_retention()
        RETURNING 1
    )
    SELECT count(*) FROM pruned
$$;

COMMENT ON FUNCTION memory.prune_idempotency_keys() IS
'Operators (pg_cron job memory-prune-idempotency-keys, hourly): deletes idempotency keys older than memory.idempotency_retention() and returns how many. Raises nothing.';

CREATE OR REPLACE FUNCTION memory.expire_working_memory()
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH expired AS (
        DELETE FROM memory.working_memory AS w WHERE w.expires_at <= clock_timestamp() RETURNING 1
    )
    SELECT count(*)::integer FROM expired
$$;

COMMENT ON FUNCTION memory.expire_working_memory() IS
'Operators and the memory-expire-working-memory pg_cron job: deletes expired working-memory items of every agent; returns how many.';

CREATE OR REPLACE FUNCTION memory.auto_checkpoint()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    n integer := 0;
BEGIN
    FOR a IN
        SELECT ag.agent_id,
               memory._identity_hash(memory._blocks_snapshot(ag.agent_id)) AS current_hash,
               (SELECT c.identity_hash FROM memory.checkpoints AS c
                WHERE c.agent_id = ag.agent_id
                ORDER BY c.created_at DESC, c.checkpoint_id DESC LIMIT 1) AS last_hash,
               EXISTS (SELECT 1 FROM memory.blocks AS b WHERE b.agent_id = ag.agent_id) AS has_blocks
        FROM memory.agents AS ag
        ORDER BY ag.agent_id
    LOOP
        -- An agent without blocks and without checkpoints has nothing to keep.
        CONTINUE WHEN a.last_hash IS NULL AND NOT a.has_blocks;
        CONTINUE WHEN a.current_hash = a.last_hash;
        PERFORM memory._lock_identity(a.agent_id);
        PERFORM memory._take_checkpoint(a.agent_id, 'auto', '{}'::jsonb, NULL);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.auto_checkpoint() IS
'Maintenance (pg_cron job memory-auto-checkpoint, every 10 minutes, as memory_operator): writes an auto checkpoint for every agent whose identity hash differs from the one of its latest checkpoint (of any kind), or that has blocks and no checkpoint yet. Returns the number of checkpoints written. Operators only. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory.mark_stale_instances_offline()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH stale AS (
        UPDATE memory.instances AS i
        SET status = 'offline'
        WHERE i.status <> 'offline'
          AND i.last_heartbeat < now() - memory.instance_liveness_threshold()
        RETURNING 1
    )
    SELECT count(*)::integer FROM stale
$$;

COMMENT ON FUNCTION memory.mark_stale_instances_offline() IS
'Maintenance (pg_cron job memory-instance-liveness, every minute, as memory_operator): marks offline every instance whose last heartbeat is older than memory.instance_liveness_threshold() (2 minutes). Returns how many. Operators only. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory.request_cache_reconcile(reason text DEFAULT 'manual')
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF reason IS NULL OR reason !~ '^[a-z][a-z0-9_-]{0,39}$' THEN
        RAISE EXCEPTION 'invalid reason'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a short lower-case word, e.g. manual, cron, outage';
    END IF;
    INSERT INTO memory.cache_reconcile_requests (reason, requested_by) VALUES (reason, session_user)
    RETURNING request_id INTO id;
    -- Changes no warmer took within an hour (none runs): the reconciliation asked for
    -- here covers them, and a warmer reconciles when it starts. Keeps the table bounded.
    DELETE FROM memory.cache_changes AS c WHERE c.changed_at < now() - interval '1 hour';
    PERFORM pg_catalog.pg_notify('memory_cache', 'c:' || id::text);
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory.request_cache_reconcile(text) IS
'Operators and pg_cron (memory-cache-reconcile, every 5 minutes): asks the embed daemon to reconcile Redis with Postgres now; returns the request id (see memory.cache_repairs). Raises 22023 for a bad reason.';

-- SECURITY INVOKER: run by the pg_cron job memory-cron-status as memory_operator, who
-- sees its own rows of cron.job and cron.job_run_details.
CREATE OR REPLACE FUNCTION memory.record_cron_status()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN 0;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS cron_now (
        jobname text, schedule text, active boolean, last_status text, last_start timestamptz,
        last_end timestamptz, last_message text
    ) ON COMMIT DROP;
    EXECUTE $sql$
        INSERT INTO cron_now
        SELECT j.jobname, j.schedule, j.active, d.status, d.start_time, d.end_time, left(d.return_message, 500)
        FROM cron.job AS j
        LEFT JOIN LATERAL (
            SELECT r.status, r.start_time, r.end_time, r.return_message FROM cron.job_run_details AS r
            WHERE r.jobid = j.jobid AND r.status <> 'running' ORDER BY r.start_time DESC NULLS LAST LIMIT 1
        ) AS d ON TRUE
        WHERE j.username = 'memory_operator' AND j.jobname LIKE 'memory-%' AND j.database = current_database()
    $sql$;
    DELETE FROM memory.cron_status AS s WHERE s.jobname NOT IN (SELECT c.jobname FROM pg_temp.cron_now AS c);
    INSERT INTO memory.cron_status AS s (jobname, schedule, active, last_status, last_start, last_end, last_message, recorded_at)
    SELECT c.jobname, c.schedule, c.active, c.last_status, c.last_start, c.last_end, c.last_message, now()
    FROM pg_temp.cron_now AS c
    ON CONFLICT (jobname) DO UPDATE
    SET schedule = excluded.schedule, active = excluded.active, last_status = excluded.last_status,
        last_start = excluded.last_start, last_end = excluded.last_end, last_message = excluded.last_message,
        recorded_at = excluded.recorded_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    DROP TABLE pg_temp.cron_now;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.record_cron_status() IS
'Operators and the pg_cron job memory-cron-status (every minute): copies the memory-* jobs of memory_operator with their last finished run into memory.cron_status, which memory.health() reads. Returns how many jobs. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory.apply_retention(batch_rows integer DEFAULT 1000, max_batches integer DEFAULT 50)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $$
DECLARE
    a uuid;
    n integer;
    total integer := 0;
    batches integer := 0;
BEGIN
    PERFORM memory._check_count('batch_rows', batch_rows, 1, 100000);
    PERFORM memory._check_count('max_batches', max_batches, 1, 100000);
    -- Each agent in turn, one batch at a time; a batch that waits over lock_timeout
    -- (200 ms) for rows the agent is writing now is undone and the agent skipped until
    -- the next run: retention never waits long on an agent.
    FOR a IN SELECT r.agent_id FROM memory.retention_policies AS r ORDER BY r.agent_id LOOP
        LOOP
            EXIT WHEN batches >= max_batches;
            BEGIN
                n := memory._retention_batch(a, batch_rows);
            EXCEPTION WHEN lock_not_available THEN
                n := 0;
            END;
            batches := batches + 1;
            total := total + n;
            EXIT WHEN n = 0;
        END LOOP;
    END LOOP;
    RETURN total;
END
$$;

COMMENT ON FUNCTION memory.apply_retention(integer, integer) IS
'Operators and pg_cron (memory-retention): applies every retention policy, at most max_batches batches of batch_rows episodes in this call (the next run continues), each removal logged in memory.retention_log with its rule. Returns the episodes removed. Raises 22023 (batch_rows or max_batches outside 1..100000).';

-- Each large agent's frequent lexemes (migration 036): the lexemes in 1,000 or more of
-- its own rows, which the search's word counts then skip (memory._term_weights). An
-- agent is counted again when its rows changed by a tenth (and at least 100) since the
-- last count, at most max_agents per run, the longest unrefreshed first; agents under
-- 1,000 rows lose their row (no lexeme can be that frequent). ts_stat reads every row of
-- the agent: about 1 s per 10,000 episodes here.
CREATE OR REPLACE FUNCTION memory.refresh_frequent_lexemes(max_agents integer DEFAULT 20)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    n integer := 0;
BEGIN
    PERFORM memory._check_count('max_agents', max_agents, 1, 10000);
    DELETE FROM memory.agent_frequent_lexemes AS f
    WHERE (f.source = 'episodes' AND (SELECT count(*) FROM (SELECT 1 FROM memory.episodes AS e
                                                           WHERE e.agent_id = f.agent_id LIMIT 1000) AS x) < 1000)
       OR (f.source = 'facts' AND (SELECT count(*) FROM (SELECT 1 FROM memory.facts AS e
                                                        WHERE e.agent_id = f.agent_id LIMIT 1000) AS x) < 1000);
    FOR a IN
        WITH sizes AS (
            SELECT e.agent_id, 'episodes'::text AS source, count(*) AS n FROM memory.episodes AS e
            GROUP BY e.agent_id HAVING count(*) >= 1000
            UNION ALL
            SELECT e.agent_id, 'facts', count(*) FROM memory.facts AS e GROUP BY e.agent_id HAVING count(*) >= 1000
        )
        SELECT z.agent_id, z.source, z.n
        FROM sizes AS z
        LEFT JOIN memory.agent_frequent_lexemes AS f ON f.agent_id = z.agent_id AND f.source = z.source
        WHERE f.agent_id IS NULL OR abs(z.n - f.rows_counted) >= greatest(100, f.rows_counted / 10)
        ORDER BY f.refreshed_at NULLS FIRST, z.n DESC
        LIMIT max_agents
    LOOP
        INSERT INTO memory.agent_frequent_lexemes AS f (agent_id, source, lexemes, rows_counted, refreshed_at)
        SELECT a.agent_id, a.source, coalesce(array_to_tsvector(array_agg(s.word) FILTER (WHERE s.ndoc >= 1000)), ''),
               a.n, clock_timestamp()
        FROM ts_stat(format('SELECT x.fts FROM memory.%I AS x WHERE x.agent_id = %L', a.source, a.agent_id)) AS s
        ON CONFLICT (agent_id, source) DO UPDATE
        SET lexemes = excluded.lexemes, rows_counted = excluded.rows_counted, refreshed_at = excluded.refreshed_at;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.refresh_frequent_lexemes(integer) IS
'Operators and pg_cron (memory-frequent-lexemes, hourly): records, for each agent with 1,000 episodes (or facts) or more whose rows changed by a tenth since the last count, the lexemes in 1,000 or more of its own rows (memory.agent_frequent_lexemes), at most max_agents agents per call; forgets agents now under 1,000 rows. The search skips those words without counting them (they weigh nothing). Returns how many agents it counted. Raises 22023 (max_agents outside 1..10000).';
