-- The worker API of the embed daemon (role memory_worker): claim, complete, fail and
-- release batches, extend leases, heartbeats, sleep and wake-up. SECURITY DEFINER:
-- the daemon's role has no table privileges.

SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._check_worker(worker text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF worker IS NULL OR worker !~ '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$' THEN
        RAISE EXCEPTION 'invalid worker name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %L', left(worker, 120)),
                  HINT = 'a letter or digit followed by up to 99 letters, digits or _ . : @ -';
    END IF;
    RETURN worker;
END
$$;

COMMENT ON FUNCTION memory._check_worker(text) IS 'Private: returns a valid worker name or raises 22023.';

-- ---------------------------------------------------------------------------
-- The queue API of the embed daemon (role memory_worker).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.claim_embedding_batch(
    worker text,
    max_items integer DEFAULT 32,
    lease interval DEFAULT '60 seconds',
    max_bytes integer DEFAULT 65536,
    models text [] DEFAULT NULL
)
RETURNS TABLE (lease_id uuid, job_id bigint, model text, chunk_index integer, chunk_text text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- JIT compilation costs more than these short statements ever run
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    ids bigint [];
BEGIN
    PERFORM memory._check_worker(worker);
    IF max_items IS NULL OR max_items NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_items must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'claim a few dozen jobs at a time';
    END IF;
    IF lease IS NULL OR lease < '1 second' OR lease > '1 hour' THEN
        RAISE EXCEPTION 'lease must be between 1 second and 1 hour'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a lease a few times longer than a batch takes';
    END IF;
    IF max_bytes IS NULL OR max_bytes < 1 THEN
        RAISE EXCEPTION 'max_bytes must be positive'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'the batch''s budget of text, in bytes';
    END IF;
    -- an operator paused the queue (memory.pause_embedding, 160-operations.sql)
    IF memory._embedding_paused() THEN
        RETURN;
    END IF;

    -- Fair across agents: each agent's due jobs in its own order (importance, then
    -- oldest) get turns 1, 2, 3, ...; the batch takes turn 1 of every agent, then turn 2,
    -- and so on; within a turn the agents served least recently by a claim go first
    -- (memory.claim_turns), so that the turns rotate even when the byte budget admits
    -- one text per batch. One agent's backlog delays another agent's new job by at most
    -- the batch being encoded. Each agent contributes at most max_items candidates (its
    -- pending-jobs index; the agents are found by a loose index scan). Locks others hold
    -- are skipped; then the jobs that start within the byte budget are kept (the first
    -- always).
    WITH RECURSIVE agents AS (
        (SELECT j.agent_id FROM memory.embedding_jobs AS j WHERE j.state = 'pending' ORDER BY j.agent_id LIMIT 1)
        UNION ALL
        SELECT (
            SELECT j.agent_id FROM memory.embedding_jobs AS j
            WHERE j.state = 'pending' AND j.agent_id > a.agent_id
            ORDER BY j.agent_id LIMIT 1
        )
        FROM agents AS a
        WHERE a.agent_id IS NOT NULL
    ),
    candidates AS (
        SELECT c.job_id, c.turn, t.last_claimed_at, c.enqueued_at
        FROM agents AS a
        LEFT JOIN memory.claim_turns AS t ON t.agent_id = a.agent_id
        CROSS JOIN LATERAL (
            SELECT j.job_id, j.enqueued_at,
                   row_number() OVER (ORDER BY j.priority DESC, j.enqueued_at, j.job_id) AS turn
            FROM memory.embedding_jobs AS j
            WHERE j.agent_id = a.agent_id
              AND j.state = 'pending'
              AND j.next_attempt_at <= clock_timestamp()
              AND (
                  models IS NULL
                  OR j.model_id IN (SELECT m.model_id FROM memory.embedding_models AS m WHERE m.name = ANY (models))
              )
            ORDER BY j.priority DESC, j.enqueued_at, j.job_id
            LIMIT max_items
        ) AS c
        WHERE a.agent_id IS NOT NULL
    ),
    picked AS MATERIALIZED (
        SELECT j.job_id, j.agent_id, c.turn, c.last_claimed_at, c.enqueued_at, j.episode_id, j.fact_id
        FROM memory.embedding_jobs AS j
        JOIN candidates AS c ON c.job_id = j.job_id
        WHERE j.state = 'pending'
        ORDER BY c.turn, c.last_claimed_at NULLS FIRST, c.enqueued_at, j.job_id
        LIMIT max_items
        FOR UPDATE OF j SKIP LOCKED
    ),
    sized AS (
        SELECT p.job_id, p.agent_id, s.bytes,
               sum(s.bytes) OVER (
                   ORDER BY p.turn, p.last_claimed_at NULLS FIRST, p.enqueued_at, p.job_id
               ) AS running
        FROM picked AS p
        LEFT JOIN memory.episodes AS e ON e.episode_id = p.episode_id
        LEFT JOIN memory.facts AS f ON f.fact_id = p.fact_id
        CROSS JOIN LATERAL (
            SELECT coalesce(octet_length(e.content), octet_length(f.concept) + octet_length(f.statement) + 1, 0) AS bytes
        ) AS s
    ),
    kept AS (
        SELECT z.job_id, z.agent_id FROM sized AS z WHERE z.running - z.bytes < max_bytes
    ),
    served AS (
        INSERT INTO memory.claim_turns AS t (agent_id, last_claimed_at)
        SELECT d.agent_id, clock_timestamp() FROM (SELECT DISTINCT k.agent_id FROM kept AS k) AS d
        ON CONFLICT (agent_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at
        RETURNING t.agent_id
    )
    -- (served runs whether or not it is read: a data-modifying CTE always does)
    SELECT array_agg(k.job_id) INTO ids FROM kept AS k;

    IF ids IS NULL THEN
        RETURN;
    END IF;

    RETURN QUERY
    WITH src AS (
        SELECT j.job_id, m.name AS model_name, m.chunk_tokens, m.chunk_overlap,
               coalesce(e.content, f.concept || E'\n' || f.statement) AS content,
               coalesce(e.content_sha256, f.content_sha256) AS sha
        FROM memory.embedding_jobs AS j
        JOIN memory.embedding_models AS m ON m.model_id = j.model_id
        LEFT JOIN memory.episodes AS e ON e.episode_id = j.episode_id
        LEFT JOIN memory.facts AS f ON f.fact_id = j.fact_id
        WHERE j.job_id = ANY (ids)
    ),
    ch AS MATERIALIZED (
        SELECT s.job_id, s.model_name, c.chunk_index, c.char_start, c.char_end, c.chunk_text
        FROM src AS s
        CROSS JOIN LATERAL memory._split_text(s.content, s.chunk_tokens, s.chunk_overlap) AS c
    ),
    upd AS (
        UPDATE memory.embedding_jobs AS j
        SET state = 'processing',
            attempts = j.attempts + 1,
            lease_id = gen_random_uuid(),
            lease_owner = worker,
            lease_expires_at = clock_timestamp() + lease,
            claimed_at = clock_timestamp(),
            claimed_sha256 = s.sha,
            chunk_spans = ARRAY(
                SELECT int4range(c.char_start, c.char_end) FROM ch AS c WHERE c.job_id = j.job_id ORDER BY c.chunk_index
            )
        FROM src AS s
        WHERE s.job_id = j.job_id AND s.content IS NOT NULL
        RETURNING j.job_id, j.lease_id
    )
    SELECT u.lease_id, u.job_id, ch.model_name, ch.chunk_index, ch.chunk_text
    FROM upd AS u
    JOIN ch ON ch.job_id = u.job_id
    ORDER BY u.job_id, ch.chunk_index;
END
$$;

COMMENT ON FUNCTION memory.claim_embedding_batch(text, integer, interval, integer, text []) IS
'Worker: leases up to max_items due jobs (FOR UPDATE SKIP LOCKED; of models, or any), fair across agents: round-robin, each agent''s jobs in its own order of priority then age, so that importance orders jobs only within one agent; keeps those whose texts fit in max_bytes (the first always), chunks their texts and returns one row per chunk with the lease to complete or fail. Each claim counts an attempt. Raises 22023 for a bad worker name or limits.';

CREATE OR REPLACE FUNCTION memory.complete_embedding_batch(
    worker text,
    lease_ids uuid [],
    chunk_indexes integer [],
    embeddings vector []
)
RETURNS TABLE (lease_id uuid, job_id bigint, outcome text, freshness_seconds double precision)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
-- JIT compilation costs more than these short statements ever run
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    live_jobs bigint [];
    live_leases uuid [];
    models smallint [];
    bad record;
    m smallint;
    gone uuid;
    being_deleted uuid [] := '{}';
BEGIN
    PERFORM memory._check_worker(worker);
    IF lease_ids IS NULL OR chunk_indexes IS NULL OR embeddings IS NULL
       OR cardinality(lease_ids) <> cardinality(chunk_indexes) OR cardinality(lease_ids) <> cardinality(embeddings) THEN
        RAISE EXCEPTION 'lease_ids, chunk_indexes and embeddings must be arrays of the same length'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'one element per chunk: its lease, its index, its vector';
    END IF;

    -- Before any row lock: the deletion lock of each agent of the batch, shared, never
    -- waiting (180-lifetime.sql). A deletion of one of them waits for this completion;
    -- the jobs of an agent being deleted are left out (stale: they go with the agent).
    FOR gone IN
        SELECT DISTINCT j.agent_id FROM memory.embedding_jobs AS j WHERE j.lease_id = ANY (lease_ids)
    LOOP
        IF NOT pg_try_advisory_xact_lock_shared(1095192148, memory._agent_lock_key(gone)) THEN
            being_deleted := being_deleted || gone;
        END IF;
    END LOOP;

    -- The jobs this worker still holds, for text that has not changed since the claim.
    SELECT array_agg(x.job_id), array_agg(x.lease_id)
    INTO live_jobs, live_leases
    FROM (
        SELECT j.job_id, j.lease_id
        FROM memory.embedding_jobs AS j
        LEFT JOIN memory.episodes AS e ON e.episode_id = j.episode_id
        LEFT JOIN memory.facts AS f ON f.fact_id = j.fact_id
        WHERE j.lease_id = ANY (lease_ids)
          AND j.state = 'processing'
          AND j.lease_owner = worker
          AND coalesce(e.content_sha256, f.content_sha256) = j.claimed_sha256
          AND j.agent_id <> ALL (being_deleted)
        ORDER BY j.job_id
        FOR UPDATE OF j
    ) AS x;

    IF live_jobs IS NOT NULL THEN
        -- Every chunk of every live job, once, with a vector of the model's dimension.
        SELECT j.job_id, cardinality(j.chunk_spans) AS expected, count(r.idx) AS got
        INTO bad
        FROM memory.embedding_jobs AS j
        LEFT JOIN unnest(lease_ids, chunk_indexes, embeddings) AS r (lid, idx, emb)
            ON r.lid = j.lease_id AND r.idx >= 0 AND r.idx < cardinality(j.chunk_spans) AND r.emb IS NOT NULL
        WHERE j.job_id = ANY (live_jobs)
        GROUP BY j.job_id, j.chunk_spans
        HAVING count(r.idx) <> cardinality(j.chunk_spans) OR count(DISTINCT r.idx) <> count(r.idx)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'incomplete result for embedding job %', bad.job_id
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s chunk(s) claimed, %s vector(s) given', bad.expected, bad.got),
                      HINT = 'send exactly one vector per chunk index 0..n-1 of each lease';
        END IF;
        SELECT j.job_id, md.dimensions AS expected, vector_dims(r.emb) AS got
        INTO bad
        FROM unnest(lease_ids, chunk_indexes, embeddings) AS r (lid, idx, emb)
        JOIN memory.embedding_jobs AS j ON j.lease_id = r.lid
        JOIN memory.embedding_models AS md ON md.model_id = j.model_id
        WHERE j.job_id = ANY (live_jobs) AND vector_dims(r.emb) <> md.dimensions
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'vector of the wrong dimension for embedding job %', bad.job_id
                USING ERRCODE = 'data_exception',
                      DETAIL = format('the model has %s dimensions, the vector %s', bad.expected, bad.got),
                      HINT = 'embed with the model the claim named';
        END IF;

        -- One generation per owner and model: the previous vectors go in the same
        -- transaction as the new ones arrive, so readers never see a gap.
        DELETE FROM memory.chunks AS c USING memory.embedding_jobs AS j
        WHERE j.job_id = ANY (live_jobs) AND c.episode_id = j.episode_id AND c.model_id = j.model_id;
        DELETE FROM memory.chunks AS c USING memory.embedding_jobs AS j
        WHERE j.job_id = ANY (live_jobs) AND c.fact_id = j.fact_id AND c.model_id = j.model_id;
        INSERT INTO memory.chunks (
            agent_id, episode_id, fact_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding
        )
        SELECT j.agent_id, j.episode_id, j.fact_id, j.model_id, r.idx,
               lower(j.chunk_spans[r.idx + 1]), upper(j.chunk_spans[r.idx + 1]), j.claimed_sha256, r.emb
        FROM unnest(lease_ids, chunk_indexes, embeddings) AS r (lid, idx, emb)
        JOIN memory.embedding_jobs AS j ON j.lease_id = r.lid
        WHERE j.job_id = ANY (live_jobs);

        DELETE FROM memory.pooled_embeddings AS p USING memory.embedding_jobs AS j
        WHERE j.job_id = ANY (live_jobs) AND p.episode_id = j.episode_id AND p.model_id = j.model_id;
        DELETE FROM memory.pooled_embeddings AS p USING memory.embedding_jobs AS j
        WHERE j.job_id = ANY (live_jobs) AND p.fact_id = j.fact_id AND p.model_id = j.model_id;
        INSERT INTO memory.pooled_embeddings (agent_id, episode_id, fact_id, model_id, content_sha256, chunk_count, embedding)
        SELECT j.agent_id, j.episode_id, j.fact_id, j.model_id, j.claimed_sha256, count(*), avg(r.emb)
        FROM unnest(lease_ids, chunk_indexes, embeddings) AS r (lid, idx, emb)
        JOIN memory.embedding_jobs AS j ON j.lease_id = r.lid
        WHERE j.job_id = ANY (live_jobs)
        GROUP BY j.job_id, j.agent_id, j.episode_id, j.fact_id, j.model_id, j.claimed_sha256;
    END IF;

    RETURN QUERY
    WITH finished AS (
        UPDATE memory.embedding_jobs AS j
        SET state = 'done', done_at = clock_timestamp(), embedded_sha256 = j.claimed_sha256,
            completions = j.completions + 1, lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL,
            claimed_sha256 = NULL, chunk_spans = NULL, last_error = NULL, last_error_at = NULL
        FROM unnest(live_jobs, live_leases) AS l (jid, lid)
        WHERE j.job_id = l.jid
        RETURNING l.lid, j.job_id, j.model_id, extract(EPOCH FROM j.done_at - j.enqueued_at)::double precision AS fresh
    )
    SELECT f.lid, f.job_id, 'done'::text, f.fresh FROM finished AS f
    UNION ALL
    SELECT s.lid, NULL::bigint, 'stale'::text, NULL::double precision
    FROM (SELECT DISTINCT unnest(lease_ids) AS lid) AS s
    WHERE s.lid <> ALL (coalesce(live_leases, '{}'));

    -- A backfill that just finished lets search switch to the new model.
    SELECT array_agg(DISTINCT j.model_id) INTO models
    FROM memory.embedding_jobs AS j
    JOIN memory.embedding_models AS md ON md.model_id = j.model_id AND md.is_active AND NOT md.is_serving
    WHERE j.job_id = ANY (live_jobs);
    FOREACH m IN ARRAY coalesce(models, '{}') LOOP
        IF NOT EXISTS (SELECT 1 FROM memory.embedding_jobs AS j WHERE j.model_id = m AND j.state <> 'done') THEN
            PERFORM memory._maybe_switch_serving(m);
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory.complete_embedding_batch(text, uuid [], integer [], vector []) IS
'Worker: stores the vectors of a claimed batch in one call (one element per chunk: lease, chunk index, vector), replacing the owner''s previous vectors of that model, and marks the jobs done. A lease the worker no longer holds, or whose text changed since the claim, is discarded (outcome stale): the newer job stands; so is one of an agent being deleted (its deletion lock, 180-lifetime.sql, is held: the jobs go with the agent). Returns per lease the outcome and seconds from enqueue to embedded. Raises 22023 (bad arrays, a missing chunk), 22000 (wrong dimension).';

CREATE OR REPLACE FUNCTION memory.fail_embedding_batch(worker text, lease_ids uuid [], error text)
RETURNS TABLE (lease_id uuid, job_id bigint, outcome text, next_attempt_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM memory._check_worker(worker);
    IF error IS NULL OR error !~ '\S' THEN
        RAISE EXCEPTION 'error must describe the failure'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass the exception''s type and message (never the content)';
    END IF;
    RETURN QUERY
    WITH held AS (
        SELECT j.job_id, j.lease_id
        FROM memory.embedding_jobs AS j
        WHERE j.lease_id = ANY (lease_ids) AND j.state = 'processing' AND j.lease_owner = worker
        FOR UPDATE OF j
    ),
    failed AS (
        UPDATE memory.embedding_jobs AS j
        SET state = CASE WHEN j.attempts >= s.max_attempts THEN 'dead' ELSE 'pending' END,
            next_attempt_at = CASE
                WHEN j.attempts >= s.max_attempts THEN j.next_attempt_at
                ELSE clock_timestamp() + least(s.retry_max, s.retry_base * power(2, greatest(j.attempts - 1, 0)))
            END,
            last_error = left(error, 2000), last_error_at = clock_timestamp(),
            lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL
        FROM held AS h, memory.embedding_settings AS s
        WHERE j.job_id = h.job_id
        RETURNING h.lease_id AS lid, j.job_id, j.state, j.next_attempt_at
    )
    SELECT f.lid, f.job_id, CASE WHEN f.state = 'dead' THEN 'dead' ELSE 'retry' END, f.next_attempt_at
    FROM failed AS f
    UNION ALL
    SELECT s.lid, NULL::bigint, 'stale'::text, NULL::timestamptz
    FROM (SELECT DISTINCT unnest(lease_ids) AS lid) AS s
    WHERE NOT EXISTS (SELECT 1 FROM held AS h WHERE h.lease_id = s.lid);
END
$$;

COMMENT ON FUNCTION memory.fail_embedding_batch(text, uuid [], text) IS
'Worker: records a failure of the leased jobs. A job with attempts left returns to pending after an exponential backoff (retry_base * 2^(attempts-1), at most retry_max, memory.embedding_settings); one out of attempts becomes dead with the error kept. Returns per lease retry, dead or stale (not held). Raises 22023 for an empty error or a bad worker name.';

CREATE OR REPLACE FUNCTION memory.release_embedding_batch(worker text, lease_ids uuid [])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
    models smallint [];
BEGIN
    PERFORM memory._check_worker(worker);
    WITH released AS (
        UPDATE memory.embedding_jobs AS j
        SET state = 'pending', attempts = greatest(j.attempts - 1, 0), next_attempt_at = now(),
            lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL
        WHERE j.lease_id = ANY (lease_ids) AND j.state = 'processing' AND j.lease_owner = worker
        RETURNING j.model_id
    )
    SELECT count(*), array_agg(DISTINCT r.model_id) INTO n, models FROM released AS r;
    PERFORM memory._notify_embed(models);
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.release_embedding_batch(text, uuid []) IS
'Worker: gives leased jobs back untouched (a daemon stopping mid-batch): pending at once, the claim''s attempt not counted. Returns how many. Raises 22023 for a bad worker name.';

-- Worker: is the batch of these leases outranked? True when a due job of the batch's
-- models was enqueued after the batch was claimed with a priority above every job of it:
-- the worker then stops after the slice it is encoding, completes what it finished,
-- releases the rest and claims again, with a small budget, so that an important new
-- text does not wait for a whole batch of less important ones (issue 16: freshness
-- under load). Jobs already pending at the claim never cut a batch (a flood of
-- important texts would cut every batch), nor do jobs of equal priority. "After the
-- claim" allows 2 s: a writer's job enqueued just before the claim's clock but committed
-- after its snapshot was not seen by the claim (under load the window is tens to
-- hundreds of milliseconds; a probe that fell into it waited a whole batch).
CREATE OR REPLACE FUNCTION memory.embedding_batch_outranked(worker text, lease_ids uuid [])
RETURNS boolean
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- JIT compilation costs more than these short statements ever run
SET jit = off
AS $$
DECLARE
    top real;
    since timestamptz;
    models smallint [];
BEGIN
    PERFORM memory._check_worker(worker);
    SELECT max(j.priority), min(j.claimed_at), array_agg(DISTINCT j.model_id) INTO top, since, models
    FROM memory.embedding_jobs AS j
    WHERE j.lease_id = ANY (lease_ids) AND j.lease_owner = worker AND j.state = 'processing';
    IF top IS NULL OR memory._embedding_paused() THEN
        RETURN false;
    END IF;
    -- the claim index (priority DESC, enqueued_at) over the pending jobs above top
    RETURN EXISTS (
        SELECT 1 FROM memory.embedding_jobs AS j
        WHERE j.state = 'pending' AND j.priority > top AND j.enqueued_at > since - interval '2 seconds'
          AND j.next_attempt_at <= now() AND j.model_id = ANY (models)
    );
END
$$;

COMMENT ON FUNCTION memory.embedding_batch_outranked(text, uuid []) IS
'Worker: true when a due pending job of the models of the batch held under lease_ids (by this worker) was enqueued after the batch was claimed (less 2 s: a job committed just after the claim''s snapshot) with a priority above every job of the batch; false for no such batch (NULL or unknown leases) or a paused queue. Reads nothing else. Raises 22023 for a bad worker name.';

CREATE OR REPLACE FUNCTION memory.release_worker_leases(worker text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
    models smallint [];
BEGIN
    PERFORM memory._check_worker(worker);
    WITH released AS (
        UPDATE memory.embedding_jobs AS j
        SET state = 'pending', next_attempt_at = now(),
            lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, claimed_sha256 = NULL, chunk_spans = NULL
        WHERE j.state = 'processing' AND j.lease_owner = worker
        RETURNING j.model_id
    )
    SELECT count(*), array_agg(DISTINCT r.model_id) INTO n, models FROM released AS r;
    PERFORM memory._notify_embed(models);
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.release_worker_leases(text) IS
'Worker, at start: returns every job still leased to this worker name (left by a previous process that died) to pending without waiting for the lease to expire; the attempt stays counted. Returns how many. Raises 22023 for a bad worker name.';

CREATE OR REPLACE FUNCTION memory.extend_embedding_leases(worker text, lease_ids uuid [], lease interval DEFAULT '60 seconds')
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    PERFORM memory._check_worker(worker);
    IF lease IS NULL OR lease < '1 second' OR lease > '1 hour' THEN
        RAISE EXCEPTION 'lease must be between 1 second and 1 hour'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a lease a few times longer than a batch takes';
    END IF;
    UPDATE memory.embedding_jobs AS j SET lease_expires_at = clock_timestamp() + lease
    WHERE j.lease_id = ANY (lease_ids) AND j.state = 'processing' AND j.lease_owner = worker;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.extend_embedding_leases(text, uuid [], interval) IS
'Worker: extends the leases it still holds (a long batch) to now() + lease; returns how many it holds. Raises 22023 for a bad worker name or lease.';

CREATE OR REPLACE FUNCTION memory.embedding_worker_heartbeat(
    worker text,
    status text DEFAULT 'running',
    models text [] DEFAULT '{}',
    query_socket text DEFAULT NULL,
    pid integer DEFAULT NULL,
    hostname text DEFAULT NULL,
    version text DEFAULT NULL,
    info jsonb DEFAULT '{}'
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._check_worker(worker);
    IF status IS NULL OR status NOT IN ('starting', 'running', 'stopping', 'stopped') THEN
        RAISE EXCEPTION 'unknown worker status'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'starting, running, stopping or stopped';
    END IF;
    IF query_socket IS NOT NULL AND query_socket !~ '^/' THEN
        RAISE EXCEPTION 'query_socket must be an absolute path'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'resolve the socket path before reporting it';
    END IF;
    INSERT INTO memory.embedding_workers AS w (
        worker_name, status, hostname, pid, version, models, query_socket, info, started_at, last_heartbeat
    )
    VALUES (
        worker, status, left(hostname, 200), pid, left(version, 100), coalesce(models, '{}'), query_socket,
        coalesce(info, '{}'), now(), now()
    )
    ON CONFLICT (worker_name) DO UPDATE
    SET status = excluded.status, hostname = excluded.hostname, pid = excluded.pid, version = excluded.version,
        models = excluded.models, query_socket = excluded.query_socket, info = excluded.info,
        started_at = CASE WHEN excluded.status = 'starting' THEN now() ELSE w.started_at END,
        last_heartbeat = now();
END
$$;

COMMENT ON FUNCTION memory.embedding_worker_heartbeat(text, text, text [], text, integer, text, text, jsonb) IS
'Worker: records that the daemon named worker is alive (status starting, running, stopping or stopped), the models it serves and the Unix socket on which it answers embed_query(). Raises 22023 for bad values.';

CREATE OR REPLACE FUNCTION memory.embedding_queue_depth()
RETURNS TABLE (model text, state text, jobs bigint, next_due_seconds double precision)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.name, j.state, count(*),
           CASE WHEN j.state = 'pending'
                THEN greatest(0, extract(EPOCH FROM min(j.next_attempt_at) - clock_timestamp()))::double precision
           END
    FROM memory.embedding_jobs AS j
    JOIN memory.embedding_models AS m ON m.model_id = j.model_id
    WHERE j.state <> 'done'
    GROUP BY m.name, j.state
    ORDER BY 1, 2
$$;

COMMENT ON FUNCTION memory.embedding_queue_depth() IS
'Worker and operators: jobs not done, per model and state (pending, processing, dead), and for pending the seconds until the earliest is due (0 when due now).';

CREATE OR REPLACE FUNCTION memory.embedding_model_registry()
RETURNS TABLE (
    name text, source text, dimensions integer, max_tokens integer, is_active boolean, is_serving boolean
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.name, m.source, m.dimensions, m.max_tokens, m.is_active, m.is_serving
    FROM memory.embedding_models AS m
    ORDER BY m.model_id
$$;

COMMENT ON FUNCTION memory.embedding_model_registry() IS
'Worker: the registered embedding models, what to load for each (source), their dimensions and windows, and which are active and serving.';

CREATE OR REPLACE FUNCTION memory.embedding_worker_sleep(worker text, models text [])
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- writers hold the shared lock from their insert to their commit: a few milliseconds
-- unless a transaction stays open, and the daemon must not queue behind that one
SET lock_timeout = '50ms'
AS $$
DECLARE
    ids smallint [];
    got smallint [] := '{}';
    m smallint;
BEGIN
    PERFORM memory._check_worker(worker);
    IF memory._embedding_paused() THEN
        -- nothing can be claimed; memory.resume_embedding() notifies every daemon
        RETURN 'paused';
    END IF;
    SELECT coalesce(array_agg(md.model_id ORDER BY md.model_id), '{}') INTO ids
    FROM memory.embedding_models AS md WHERE md.name = ANY (models);
    FOREACH m IN ARRAY ids LOOP
        BEGIN
            PERFORM pg_advisory_lock(1162691140, m);
            got := got || m;
        EXCEPTION WHEN lock_not_available THEN
            -- Another daemon sleeping on this model wakes for all of its work (every
            -- daemon hears a notification): this one may sleep without the lock.
            -- Otherwise writers are in flight: give back what was taken.
            CONTINUE WHEN EXISTS (
                SELECT 1 FROM pg_locks AS l
                WHERE l.locktype = 'advisory' AND l.classid = 1162691140 AND l.objid = m
                  AND l.objsubid = 2 AND l.mode = 'ExclusiveLock' AND l.granted
                  AND l.database = (SELECT d.oid FROM pg_database AS d WHERE d.datname = current_database())
            );
            PERFORM pg_advisory_unlock(1162691140, g) FROM unnest(got) AS g;
            RETURN 'busy';
        END;
    END LOOP;
    RETURN 'asleep';
END
$$;

COMMENT ON FUNCTION memory.embedding_worker_sleep(text, text []) IS
'Worker, when its claims come back empty: takes the wake-up lock of each of its models (advisory, session level, exclusive), which waits up to 50 ms for writers between their insert and their commit. Returns asleep (held, or held by another sleeping daemon: writers now notify; look at the queue once more, then LISTEN, then memory.embedding_worker_wake), busy (writers still in flight: nothing held, look again soon) or paused (an operator paused the queue: nothing held; resume notifies). Raises 22023 for a bad worker name.';

CREATE OR REPLACE FUNCTION memory.embedding_worker_wake(worker text, models text [])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._check_worker(worker);
    -- only the locks this session holds: another daemon's stay
    PERFORM pg_advisory_unlock(1162691140, l.objid::integer)
    FROM pg_locks AS l
    JOIN memory.embedding_models AS md ON md.model_id = l.objid::integer AND md.name = ANY (models)
    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.classid = 1162691140
      AND l.objsubid = 2 AND l.mode = 'ExclusiveLock' AND l.granted;
END
$$;

COMMENT ON FUNCTION memory.embedding_worker_wake(text, text []) IS
'Worker, when it wakes: lets go of the wake-up locks of these models that memory.embedding_worker_sleep took in this session, so that writers stop notifying while it works. Raises 22023 for a bad worker name.';
