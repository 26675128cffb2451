-- The embedding queue: which models new text is embedded with, the enqueue triggers
-- on episodes and facts, the wake-up of sleeping daemons, dead jobs, and the
-- embedding layer of memory.health(). The daemon's side of the queue is in
-- 042-embedding-worker.sql; pg_cron's (reaping expired leases) in 190-jobs.sql.
-- The triggers are SECURITY DEFINER; agent-facing functions rely on row-level security.

SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Waking the daemon (docs/DEVELOPING.md, "Waking the embed daemon"). A transaction
-- that queued a NOTIFY takes one database-wide lock at commit and holds it through
-- its WAL flush, so a notification on every write would serialise all committing
-- writers. Writers notify only when a daemon sleeps. The handshake is an advisory
-- lock per model, key (1162691140, model_id); 1162691140 is 'EMBD' in ASCII:
--   * a daemon that found the queue empty takes it EXCLUSIVE at session level, which
--     waits for the writers in flight to commit; then it looks at the queue once
--     more, and sleeps on LISTEN holding the lock; it lets go as soon as it wakes;
--   * a writer tries it SHARED at transaction level, without waiting: refused means
--     a daemon sleeps (or is about to) and the writer notifies; granted means no
--     daemon sleeps, and the writer holds it until it commits, so a daemon going to
--     sleep meanwhile waits for that commit and its last look sees the new job.
-- So no wake-up is lost, and writers notify (and serialise) only while a daemon
-- sleeps, which is when the queue was empty.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._notify_embed(model_ids smallint [])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m smallint;
BEGIN
    -- The payload is a model id, never content: any session may LISTEN. Identical
    -- payloads in one transaction are delivered once, at commit. Only when a daemon
    -- sleeps (the wake-up handshake above): a notifying commit serialises. Expressions,
    -- not a query: every write's enqueue trigger runs this.
    FOREACH m IN ARRAY coalesce(model_ids, '{}') LOOP
        IF m IS NOT NULL AND NOT pg_try_advisory_xact_lock_shared(1162691140, m) THEN
            PERFORM pg_notify('memory_embed', m::text);
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory._notify_embed(smallint []) IS
'Private: wakes the embed daemons about new work of these models: per model, pg_notify(''memory_embed'', model_id) (delivered at commit) when a daemon sleeps on it, else a shared hold of the model''s wake-up lock until commit, so that a daemon going to sleep waits for this commit and then sees the work (memory.embedding_worker_sleep). Raises nothing.';

-- Models that new or changed text is embedded with: the active and the serving one.
CREATE OR REPLACE FUNCTION memory._embedding_targets()
RETURNS smallint []
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: the session keeps the plan (an SQL function with a SET clause is planned
    -- on every call)
    RETURN (SELECT coalesce(array_agg(m.model_id ORDER BY m.model_id), '{}')
            FROM memory.embedding_models AS m
            WHERE m.is_active OR m.is_serving);
END
$$;

COMMENT ON FUNCTION memory._embedding_targets() IS
'Private: ids of the models new text is embedded with (the active and the serving model).';

-- ---------------------------------------------------------------------------
-- Enqueue triggers. Inserts are handled per statement (one set-based insert into the
-- queue and one notification per model, however many rows); a change of the embedded
-- text (or owner) per row, and only then: tags, importance, access counts never fire.
-- Deletes need nothing here: chunks and pooled vectors go with their owner (FK cascade),
-- jobs by the owners' statement triggers (172-embedding-job-owners.sql).
-- They are SECURITY DEFINER and trust NEW: each refuses to run as a trigger of any
-- other table (a role allowed to attach it to a table of its own could feed it another
-- agent's ids). Firing needs no EXECUTE privilege; agents hold none (999-grants.sql).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._enqueue_new_episodes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    targets smallint [];
    me uuid;
BEGIN
    IF TG_RELID <> 'memory.episodes'::regclass THEN
        RAISE EXCEPTION 'memory._enqueue_new_episodes() runs only as a trigger of memory.episodes'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    -- on every write: set-based, one count per agent
    SELECT array_agg(m.model_id) INTO targets FROM memory.embedding_models AS m WHERE m.is_active OR m.is_serving;
    -- the new jobs are counted below with the text (memory._count_pending_jobs skips them)
    PERFORM set_config('memory.owner_counts_jobs', 'on', true);
    INSERT INTO memory.embedding_jobs (agent_id, episode_id, model_id, priority, content_sha256)
    SELECT n.agent_id, n.episode_id, t.model_id, n.importance, n.content_sha256
    FROM new_episodes AS n CROSS JOIN unnest(targets) AS t (model_id);
    IF FOUND THEN
        PERFORM memory._notify_embed(targets);
    END IF;
    PERFORM set_config('memory.owner_counts_jobs', 'off', true);
    -- quotas (170-quotas.sql): one count per agent of its new text, episodes and jobs
    -- (one job per row and target model), in this backend's counter shard
    PERFORM memory._add_usage(d.agent_id, (pg_backend_pid() % 16)::smallint, d.bytes, d.n, d.n * coalesce(cardinality(targets), 0))
    FROM (
        SELECT n.agent_id, sum(octet_length(n.content))::bigint AS bytes, count(*) AS n FROM new_episodes AS n
        GROUP BY n.agent_id ORDER BY n.agent_id
    ) AS d;
    me := memory.current_agent();
    IF me IS NOT NULL THEN  -- operators are counted, never refused
        PERFORM memory._check_quotas(me, true, true);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._enqueue_new_episodes() IS
'Private statement trigger (AFTER INSERT on memory.episodes): queues an embedding job per inserted episode and target model, wakes the daemons as memory._notify_embed() does, counts the agents'' new text, episodes and jobs (memory._add_usage) and, for an agent''s session, refuses a statement that crosses its quotas (stored bytes, episodes per minute, queued jobs). Raises 53400 (quota exceeded, the statement undone), 42501 when fired on any other table.';

CREATE OR REPLACE FUNCTION memory._enqueue_new_facts()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    targets smallint [];
    me uuid;
BEGIN
    IF TG_RELID <> 'memory.facts'::regclass THEN
        RAISE EXCEPTION 'memory._enqueue_new_facts() runs only as a trigger of memory.facts'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    -- on every write: set-based, one count per agent
    SELECT array_agg(m.model_id) INTO targets FROM memory.embedding_models AS m WHERE m.is_active OR m.is_serving;
    -- the new jobs are counted below with the text (memory._count_pending_jobs skips them)
    PERFORM set_config('memory.owner_counts_jobs', 'on', true);
    INSERT INTO memory.embedding_jobs (agent_id, fact_id, model_id, priority, content_sha256)
    SELECT n.agent_id, n.fact_id, t.model_id, n.confidence, n.content_sha256
    FROM new_facts AS n CROSS JOIN unnest(targets) AS t (model_id);
    IF FOUND THEN
        PERFORM memory._notify_embed(targets);
    END IF;
    PERFORM set_config('memory.owner_counts_jobs', 'off', true);
    -- quotas (170-quotas.sql): one count per agent of its new text and jobs
    -- (one job per row and target model), in this backend's counter shard
    PERFORM memory._add_usage(d.agent_id, (pg_backend_pid() % 16)::smallint, d.bytes, 0, d.n * coalesce(cardinality(targets), 0))
    FROM (
        SELECT n.agent_id, sum(octet_length(n.concept) + octet_length(n.statement))::bigint AS bytes, count(*) AS n FROM new_facts AS n
        GROUP BY n.agent_id ORDER BY n.agent_id
    ) AS d;
    me := memory.current_agent();
    IF me IS NOT NULL THEN  -- operators are counted, never refused
        PERFORM memory._check_quotas(me, false, true);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._enqueue_new_facts() IS
'Private statement trigger (AFTER INSERT on memory.facts): queues an embedding job per inserted fact and target model, wakes the daemons as memory._notify_embed() does, counts the agents'' new text and jobs (memory._add_usage) and, for an agent''s session, refuses a statement that crosses its quotas (stored bytes, queued jobs). Raises 53400 (quota exceeded, the statement undone), 42501 when fired on any other table.';

-- The old vectors describe text that no longer exists: they go at once (the owner is
-- found by full-text search meanwhile), and the job of each target model is reset to
-- pending with the new hash. A lease on the old text is dropped with it, so a result
-- for the old text that comes back later is discarded.
CREATE OR REPLACE FUNCTION memory._reenqueue_changed()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    targets smallint [];
    owner uuid;
BEGIN
    IF TG_RELID NOT IN ('memory.episodes'::regclass, 'memory.facts'::regclass) THEN
        RAISE EXCEPTION 'memory._reenqueue_changed() runs only as a trigger of memory.episodes and memory.facts'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    targets := memory._embedding_targets();
    -- its new jobs are counted by memory._count_pending_jobs (170-quotas.sql), whatever
    -- the session set
    PERFORM set_config('memory.owner_counts_jobs', 'off', true);
    -- Jobs first, then vectors: the order complete_embedding_batch() locks them in,
    -- so that a completion and a change of the same text never deadlock.
    IF TG_RELID = 'memory.episodes'::regclass THEN
        owner := NEW.episode_id;
        DELETE FROM memory.embedding_jobs AS j WHERE j.episode_id = owner AND j.model_id <> ALL (targets);
        INSERT INTO memory.embedding_jobs (agent_id, episode_id, model_id, priority, content_sha256)
        SELECT NEW.agent_id, owner, t.model_id, NEW.importance, NEW.content_sha256 FROM unnest(targets) AS t (model_id)
        ON CONFLICT (episode_id, model_id) WHERE episode_id IS NOT NULL DO UPDATE
        SET agent_id = excluded.agent_id, state = 'pending', priority = excluded.priority,
            content_sha256 = excluded.content_sha256, attempts = 0, next_attempt_at = now(),
            enqueued_at = clock_timestamp(), lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL,
            claimed_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL, last_error = NULL, last_error_at = NULL;
        DELETE FROM memory.chunks AS c WHERE c.episode_id = owner;
        DELETE FROM memory.pooled_embeddings AS p WHERE p.episode_id = owner;
    ELSE
        owner := NEW.fact_id;
        DELETE FROM memory.embedding_jobs AS j WHERE j.fact_id = owner AND j.model_id <> ALL (targets);
        INSERT INTO memory.embedding_jobs (agent_id, fact_id, model_id, priority, content_sha256)
        SELECT NEW.agent_id, owner, t.model_id, NEW.confidence, NEW.content_sha256 FROM unnest(targets) AS t (model_id)
        ON CONFLICT (fact_id, model_id) WHERE fact_id IS NOT NULL DO UPDATE
        SET agent_id = excluded.agent_id, state = 'pending', priority = excluded.priority,
            content_sha256 = excluded.content_sha256, attempts = 0, next_attempt_at = now(),
            enqueued_at = clock_timestamp(), lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL,
            claimed_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL, last_error = NULL, last_error_at = NULL;
        DELETE FROM memory.chunks AS c WHERE c.fact_id = owner;
        DELETE FROM memory.pooled_embeddings AS p WHERE p.fact_id = owner;
    END IF;
    PERFORM memory._notify_embed(targets);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._reenqueue_changed() IS
'Private row trigger (AFTER UPDATE on memory.episodes and memory.facts): after the embedded text (or owner) of an episode or fact changed, drops its stale vectors and re-queues it for every target model. Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER episodes_enqueue_embedding
AFTER INSERT ON memory.episodes
REFERENCING NEW TABLE AS new_episodes
FOR EACH STATEMENT EXECUTE FUNCTION memory._enqueue_new_episodes();

CREATE OR REPLACE TRIGGER episodes_reembed_changed
AFTER UPDATE OF content, agent_id ON memory.episodes
FOR EACH ROW
WHEN (old.content_sha256 IS DISTINCT FROM new.content_sha256 OR old.agent_id IS DISTINCT FROM new.agent_id)
EXECUTE FUNCTION memory._reenqueue_changed();

CREATE OR REPLACE TRIGGER facts_enqueue_embedding
AFTER INSERT ON memory.facts
REFERENCING NEW TABLE AS new_facts
FOR EACH STATEMENT EXECUTE FUNCTION memory._enqueue_new_facts();

CREATE OR REPLACE TRIGGER facts_reembed_changed
AFTER UPDATE OF concept, statement, agent_id ON memory.facts
FOR EACH ROW
WHEN (old.content_sha256 IS DISTINCT FROM new.content_sha256 OR old.agent_id IS DISTINCT FROM new.agent_id)
EXECUTE FUNCTION memory._reenqueue_changed();

-- ---------------------------------------------------------------------------
-- Operators: dead jobs.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.requeue_dead(job_ids bigint [] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
    models smallint [];
BEGIN
    WITH revived AS (
        UPDATE memory.embedding_jobs AS j
        SET state = 'pending', attempts = 0, next_attempt_at = now(), enqueued_at = clock_timestamp()
        WHERE j.state = 'dead' AND (job_ids IS NULL OR j.job_id = ANY (job_ids))
        RETURNING j.model_id
    )
    SELECT count(*), array_agg(DISTINCT r.model_id) INTO n, models FROM revived AS r;
    PERFORM memory._notify_embed(models);
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.requeue_dead(bigint []) IS
'Operators: puts dead embedding jobs (all, or those of job_ids) back to pending with fresh attempts; their last error stays visible until they succeed. Returns how many.';

-- ---------------------------------------------------------------------------
-- The embedding layer of memory.health()
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._health_embedding()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    settings record;
    models jsonb;
    queue jsonb;
    oldest double precision;
    dead jsonb;
    workers jsonb;
    live_workers integer;
    serving_coverage double precision;
    open_jobs bigint;
    dead_jobs bigint;
    status text := 'ok';
    problems text [] := '{}';
BEGIN
    SELECT * INTO settings FROM memory.embedding_settings;

    WITH totals AS (
        SELECT (SELECT count(*) FROM memory.episodes) AS episodes, (SELECT count(*) FROM memory.facts) AS facts
    ),
    done AS (
        SELECT j.model_id, count(j.episode_id) AS episodes, count(j.fact_id) AS facts
        FROM memory.embedding_jobs AS j WHERE j.state = 'done' GROUP BY j.model_id
    )
    SELECT jsonb_agg(jsonb_build_object(
        'name', m.name, 'dimensions', m.dimensions, 'active', m.is_active, 'serving', m.is_serving,
        'episodes', t.episodes, 'episodes_embedded', coalesce(d.episodes, 0),
        'facts', t.facts, 'facts_embedded', coalesce(d.facts, 0),
        'coverage', CASE WHEN t.episodes + t.facts = 0 THEN 1.0
                         ELSE round(coalesce(d.episodes + d.facts, 0)::numeric / (t.episodes + t.facts), 4) END
    ) ORDER BY m.model_id)
    INTO models
    FROM memory.embedding_models AS m
    CROSS JOIN totals AS t
    LEFT JOIN done AS d ON d.model_id = m.model_id
    WHERE m.is_active OR m.is_serving OR d.model_id IS NOT NULL;

    SELECT (x ->> 'coverage')::double precision INTO serving_coverage
    FROM jsonb_array_elements(models) AS x WHERE (x ->> 'serving')::boolean;

    SELECT jsonb_build_object(
        'pending', count(*) FILTER (WHERE j.state = 'pending'),
        'retrying', count(*) FILTER (WHERE j.state = 'pending' AND j.attempts > 0),
        'processing', count(*) FILTER (WHERE j.state = 'processing'),
        'dead', count(*) FILTER (WHERE j.state = 'dead')
    ), count(*) FILTER (WHERE j.state IN ('pending', 'processing')), count(*) FILTER (WHERE j.state = 'dead'),
    extract(EPOCH FROM now() - min(j.enqueued_at) FILTER (WHERE j.state = 'pending'))::double precision
    INTO queue, open_jobs, dead_jobs, oldest
    FROM memory.embedding_jobs AS j
    WHERE j.state <> 'done';
    queue := queue || jsonb_build_object(
        'done', (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.state = 'done')
    );

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'job_id', d.job_id, 'episode_id', d.episode_id, 'fact_id', d.fact_id, 'model', d.name,
        'attempts', d.attempts, 'last_error', d.last_error, 'failed_at', d.last_error_at
    ) ORDER BY d.last_error_at DESC), '[]')
    INTO dead
    FROM (
        SELECT j.job_id, j.episode_id, j.fact_id, m.name, j.attempts, j.last_error, j.last_error_at
        FROM memory.embedding_jobs AS j JOIN memory.embedding_models AS m ON m.model_id = j.model_id
        WHERE j.state = 'dead'
        ORDER BY j.last_error_at DESC NULLS LAST
        LIMIT 20
    ) AS d;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', w.worker_name, 'status', w.status, 'last_heartbeat', w.last_heartbeat,
        'heartbeat_age_seconds', round(extract(EPOCH FROM now() - w.last_heartbeat)::numeric, 1),
        'alive', w.status IN ('starting', 'running') AND w.last_heartbeat > now() - settings.worker_timeout,
        'hostname', w.hostname, 'pid', w.pid, 'version', w.version, 'models', to_jsonb(w.models),
        'started_at', w.started_at
    ) ORDER BY w.last_heartbeat DESC), '[]'),
    count(*) FILTER (WHERE w.status IN ('starting', 'running') AND w.last_heartbeat > now() - settings.worker_timeout)
    INTO workers, live_workers
    FROM memory.embedding_workers AS w
    WHERE w.last_heartbeat > now() - interval '1 day' OR w.status <> 'stopped';

    IF live_workers = 0 THEN
        problems := problems || 'no live embed daemon'::text;
    END IF;
    IF dead_jobs > 0 THEN
        problems := problems || format('%s dead embedding job(s)', dead_jobs);
    END IF;
    IF oldest > 60 THEN
        problems := problems || format('oldest pending job waits for %s s', round(oldest::numeric));
    END IF;
    IF live_workers = 0 AND open_jobs > 0 THEN
        status := 'failing';
    ELSIF cardinality(problems) > 0 THEN
        status := 'degraded';
    END IF;

    RETURN jsonb_build_object(
        'status', status,
        'problems', to_jsonb(problems),
        'serving_coverage', serving_coverage,
        'models', coalesce(models, '[]'),
        'queue', queue,
        'oldest_pending_age_seconds', round(oldest::numeric, 3),
        'dead_jobs', dead,
        'workers', workers,
        'query_cache_entries', (SELECT count(*) FROM memory.query_embedding_cache)
    );
END
$$;

COMMENT ON FUNCTION memory._health_embedding() IS
'Private: the embedding layer of memory.health(): coverage per model, queue depth by state, age of the oldest pending job, dead jobs with their last errors, each daemon''s last heartbeat, and a status (ok, degraded, failing) with the problems found.';
