-- The Redis cache of working memory and core blocks (issue 6). Postgres is the truth;
-- Redis is a cache the embed daemon (python/embed_daemon/cache.py) keeps warm and can
-- rebuild at any time. Writes never touch Redis: triggers record what changed and send
-- pg_notify('memory_cache'), and the daemon reads the rows through the worker functions below.
--
-- Notification payloads carry no identifier of an agent or a row (any session may
-- LISTEN): what changed is in memory.cache_changes, which only the daemon reads.
--   changes                     working memory or blocks changed (take_cache_changes)
--   c:<request_id>              an operator or pg_cron asked for a cache check (reconcile)
-- Redis keys (README.md, "Redis cache"):
--   mem:<agent_id>:wm:<working_id>        string: JSON of the item, TTL = time left
--   mem:<agent_id>:wmctx:<context_type>   set of working_ids of one context type
--   mem:<agent_id>:blocks                 hash: label -> JSON of the block
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Triggers: notify the cache warmer. AFTER ... FOR EACH ROW; pg_notify folds identical
-- payloads of one transaction, so a transaction sends one.
-- ---------------------------------------------------------------------------
-- What both triggers record: the old row's agent (and working item, NULL for a block)
-- unless the row is new, the new row's unless it is gone or stayed with its agent; then
-- the wake-up. OLD and NEW read as NULL where the operation has none.
CREATE OR REPLACE FUNCTION memory._cache_record_change(op text, old_agent uuid, old_item uuid, new_agent uuid, new_item uuid)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO memory.cache_changes (agent_id, working_id)
    SELECT c.agent_id, c.working_id
    FROM (VALUES (1, old_agent, old_item, op IN ('UPDATE', 'DELETE')),
                 (2, new_agent, new_item, op = 'INSERT' OR (op = 'UPDATE' AND new_agent IS DISTINCT FROM old_agent)))
        AS c (n, agent_id, working_id, due)
    WHERE c.due
    ORDER BY c.n;
    SELECT pg_catalog.pg_notify('memory_cache', 'changes');
$$;

COMMENT ON FUNCTION memory._cache_record_change(text, uuid, uuid, uuid, uuid) IS
'Private (the cache triggers, run as the owner): records in memory.cache_changes the old agent and item for an UPDATE or DELETE (op), the new ones for an INSERT or an UPDATE that moved the row to another agent, and sends pg_notify(''memory_cache'', ''changes''). Raises nothing of its own.';

-- SECURITY DEFINER (agents cannot write memory.cache_changes): each refuses to run as a
-- trigger of any other table.
CREATE OR REPLACE FUNCTION memory._cache_notify_working_memory()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._require_trigger_of('memory._cache_notify_working_memory()', TG_RELID, '{memory.working_memory}');
    PERFORM memory._cache_record_change(TG_OP, OLD.agent_id, OLD.working_id, NEW.agent_id, NEW.working_id);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._cache_notify_working_memory() IS
'Private trigger (AFTER INSERT, UPDATE, DELETE on memory.working_memory): records the item in memory.cache_changes (which only the daemon reads) and sends pg_notify(''memory_cache'', ''changes''), a payload without identifiers (folded to one per transaction). Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER working_memory_cache_notify
AFTER INSERT OR UPDATE OR DELETE ON memory.working_memory
FOR EACH ROW EXECUTE FUNCTION memory._cache_notify_working_memory();

CREATE OR REPLACE FUNCTION memory._cache_notify_blocks()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._require_trigger_of('memory._cache_notify_blocks()', TG_RELID, '{memory.blocks}');
    PERFORM memory._cache_record_change(TG_OP, OLD.agent_id, NULL, NEW.agent_id, NULL);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._cache_notify_blocks() IS
'Private trigger (AFTER INSERT, UPDATE, DELETE on memory.blocks): records the agent in memory.cache_changes (which only the daemon reads) and sends pg_notify(''memory_cache'', ''changes''), a payload without identifiers. Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER blocks_cache_notify
AFTER INSERT OR UPDATE OR DELETE ON memory.blocks
FOR EACH ROW EXECUTE FUNCTION memory._cache_notify_blocks();

-- ---------------------------------------------------------------------------
-- Redis keys: only SQL builds and reads them; the warmer passes them through.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._cache_key(agent_id uuid, kind text, item text DEFAULT NULL)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT concat_ws(':', 'mem', agent_id, kind, item)
$$;

COMMENT ON FUNCTION memory._cache_key(uuid, text, text) IS
'Private: a Redis key of the cache: mem:<agent_id>:<kind>[:<item>] (kinds wm with a working_id, wmctx with a context type, blocks without an item). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._cache_key_ids(key text, OUT agent_id uuid, OUT working_id uuid)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m[1]::uuid, m[2]::uuid
    FROM (
        SELECT regexp_match(key, '^mem:([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}):'
                                 || '(?:wm:([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})|blocks)$') AS m
    ) AS x
$$;

COMMENT ON FUNCTION memory._cache_key_ids(text) IS
'Private: the ids a key written by the cache warmer names: (agent_id, working_id) of mem:<agent_id>:wm:<working_id>, (agent_id, NULL) of mem:<agent_id>:blocks, both NULL for any other key (ids in lower-case canonical form only). Raises nothing.';

CREATE OR REPLACE FUNCTION memory.take_cache_changes(worker text, max_rows integer DEFAULT 1000)
RETURNS TABLE (agent_id uuid, working_id uuid, key text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM memory._check_worker(worker);
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_rows must be between 1 and 100000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a thousand at a time';
    END IF;
    RETURN QUERY
    WITH taken AS (
        DELETE FROM memory.cache_changes AS c
        WHERE c.change_id IN (
            SELECT x.change_id FROM memory.cache_changes AS x ORDER BY x.change_id LIMIT max_rows FOR UPDATE SKIP LOCKED
        )
        RETURNING c.agent_id, c.working_id
    )
    SELECT DISTINCT t.agent_id, t.working_id,
           memory._cache_key(t.agent_id, CASE WHEN t.working_id IS NULL THEN 'blocks' ELSE 'wm' END, t.working_id::text)
    FROM taken AS t;
END
$$;

COMMENT ON FUNCTION memory.take_cache_changes(text, integer) IS
'Worker (cache warmer): takes (deletes and returns) up to max_rows recorded changes, oldest first: (agent, working_id) for a working-memory item, (agent, NULL) for an agent''s blocks, each with its Redis key. Raises 22023 for a bad worker name or max_rows.';

CREATE OR REPLACE FUNCTION memory._cache_wm_json(w memory.working_memory)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'working_id', w.working_id, 'agent_id', w.agent_id, 'context_type', w.context_type, 'key', w.key,
        'content', w.content, 'priority', w.priority, 'updated_at', w.updated_at, 'expires_at', w.expires_at
    )::text
$$;

COMMENT ON FUNCTION memory._cache_wm_json(memory.working_memory) IS
'Private: the JSON text cached in Redis for a working-memory row (working_id, agent_id, context_type, key, content, priority, updated_at, expires_at). Raises nothing.';

-- ---------------------------------------------------------------------------
-- Worker functions (memory_worker only: agents never reach another agent's cache
-- through SQL; these take any id).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.cache_working_memory(working_ids uuid [])
RETURNS TABLE (
    working_id uuid, agent_id uuid, context_type text, payload text, ttl_ms bigint, live boolean,
    updated_at timestamptz
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.working_id, w.agent_id, w.context_type,
           CASE WHEN w.expires_at > clock_timestamp() THEN memory._cache_wm_json(w) END,
           greatest(0, floor(extract(EPOCH FROM w.expires_at - clock_timestamp()) * 1000))::bigint,
           w.expires_at > clock_timestamp(),
           w.updated_at
    FROM memory.working_memory AS w
    WHERE w.working_id = ANY (working_ids)
$$;

COMMENT ON FUNCTION memory.cache_working_memory(uuid []) IS
'Worker (cache warmer): the working-memory rows with these ids that still exist: agent, context_type, the JSON to cache (NULL when expired), milliseconds left, whether live, last update. An id absent from the result was deleted. Raises nothing.';

CREATE OR REPLACE FUNCTION memory.cache_working_memory_page(after_id uuid DEFAULT NULL, page_size integer DEFAULT 500)
RETURNS TABLE (working_id uuid, agent_id uuid, context_type text, payload text, ttl_ms bigint, key text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a few hundred rows per page';
    END IF;
    RETURN QUERY
    SELECT w.working_id, w.agent_id, w.context_type, memory._cache_wm_json(w),
           greatest(1, floor(extract(EPOCH FROM w.expires_at - clock_timestamp()) * 1000))::bigint,
           memory._cache_key(w.agent_id, 'wm', w.working_id::text)
    FROM memory.working_memory AS w
    WHERE (after_id IS NULL OR w.working_id > after_id)
      AND w.expires_at > clock_timestamp()
    ORDER BY w.working_id
    LIMIT page_size;
END
$$;

COMMENT ON FUNCTION memory.cache_working_memory_page(uuid, integer) IS
'Worker (reconciliation): the next page of live working-memory rows with working_id > after_id, in working_id order (a key range), with the JSON to cache, the milliseconds left and the Redis key. Raises 22023 for a page_size outside 1..10000.';

CREATE OR REPLACE FUNCTION memory.cache_blocks(agent_ids uuid [])
RETURNS TABLE (agent_id uuid, label text, payload text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT b.agent_id, b.label,
           jsonb_build_object(
               'value', b.value, 'description', b.description, 'char_limit', b.char_limit,
               'read_only', b.read_only, 'version', b.version, 'updated_at', b.updated_at
           )::text
    FROM memory.blocks AS b
    WHERE b.agent_id = ANY (agent_ids)
    ORDER BY b.agent_id, b.label COLLATE "C"
$$;

COMMENT ON FUNCTION memory.cache_blocks(uuid []) IS
'Worker (cache warmer): the blocks of these agents as label and the JSON to cache (value, description, char_limit, read_only, version, updated_at). An agent without rows has no blocks. Raises nothing.';

CREATE OR REPLACE FUNCTION memory.cache_block_agents_page(after_agent uuid DEFAULT NULL, page_size integer DEFAULT 200)
RETURNS TABLE (agent_id uuid, key text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a few hundred agents per page';
    END IF;
    RETURN QUERY
    SELECT a.agent_id, memory._cache_key(a.agent_id, 'blocks')
    FROM (SELECT DISTINCT b.agent_id FROM memory.blocks AS b WHERE after_agent IS NULL OR b.agent_id > after_agent) AS a
    ORDER BY a.agent_id
    LIMIT page_size;
END
$$;

COMMENT ON FUNCTION memory.cache_block_agents_page(uuid, integer) IS
'Worker (reconciliation): the next page of agents that have blocks, with agent_id > after_agent, in order, each with the Redis key of its blocks hash. Raises 22023 for a page_size outside 1..10000.';

-- ---------------------------------------------------------------------------
-- Reconciliation: the daemon reads Redis, these say what to repair, the daemon applies.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._cache_check_keys(keys text [], stamps integer [])
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF keys IS NULL THEN
        RAISE EXCEPTION 'the keys must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'pass an empty array for no keys';
    END IF;
    IF cardinality(keys) > 10000 THEN
        RAISE EXCEPTION 'at most 10000 keys per call'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', cardinality(keys)),
                  HINT = 'a few hundred keys per call';
    END IF;
    IF EXISTS (SELECT FROM unnest(stamps) AS s (n) WHERE s.n IS NOT NULL AND s.n <> cardinality(keys)) THEN
        RAISE EXCEPTION 'the arrays must have one element per key'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s keys, other lengths %s', cardinality(keys), stamps),
                  HINT = 'element i of every array describes key i';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._cache_check_keys(text [], integer []) IS
'Private (cache_diff_working_memory, cache_diff_blocks): checks the keys read from Redis: not NULL (22004), at most 10000 (22023), and every non-NULL length in stamps equal to theirs (22023).';

-- The commands a diff returns are Redis argv arrays (JSON arrays of strings and numbers),
-- run in order: the warmer applies them as they are (python/embed_daemon/cache.py).
CREATE OR REPLACE FUNCTION memory.cache_diff_working_memory(
    keys text [],
    value_sha256 bytea [] DEFAULT NULL,
    pttl_ms bigint [] DEFAULT NULL,
    cached_contexts text [] DEFAULT NULL
)
RETURNS TABLE (key text, repair text, updated_at timestamptz, commands jsonb)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    compared boolean := value_sha256 IS NOT NULL;
BEGIN
    PERFORM memory._cache_check_keys(keys, ARRAY[
        cardinality(value_sha256),
        CASE WHEN compared THEN coalesce(cardinality(pttl_ms), -1) END,
        CASE WHEN compared THEN coalesce(cardinality(cached_contexts), -1) END
    ]);
    RETURN QUERY
    WITH k AS (
        SELECT k.key, i.agent_id AS a, i.working_id AS w, k.h, k.t, k.c
        FROM unnest(keys, coalesce(value_sha256, '{}'), coalesce(pttl_ms, '{}'), coalesce(cached_contexts, '{}'))
            AS k (key, h, t, c)
        CROSS JOIN LATERAL memory._cache_key_ids(k.key) AS i
        WHERE i.working_id IS NOT NULL
    ),
    d AS (
        SELECT k.key, k.a, k.w, k.c, r.context_type AS ctx, r.payload, greatest(1, r.ttl_ms) AS ttl, r.updated_at AS u,
               CASE
                   WHEN r.working_id IS NULL OR r.agent_id <> k.a THEN
                       CASE WHEN NOT compared OR k.h IS NOT NULL THEN 'extra' END
                   WHEN NOT r.live THEN
                       CASE WHEN NOT compared OR k.h IS NOT NULL THEN 'expired' END
                   WHEN NOT compared THEN NULL
                   WHEN k.h IS NULL THEN 'missing'
                   WHEN k.h <> sha256(convert_to(r.payload, 'UTF8')) THEN 'stale'
                   WHEN k.t IS NULL OR k.t < 0 OR abs(k.t - greatest(1, r.ttl_ms)) > 1000 THEN 'ttl'
                   ELSE 'ok'
               END AS repair
        FROM k
        LEFT JOIN memory.cache_working_memory(ARRAY(SELECT k.w FROM k)) AS r ON r.working_id = k.w
    ),
    -- the context set to leave (the cached context of a stale key of another context, of
    -- an extra key; of an expired key, the row's when the cached one is unknown) and the
    -- one that should hold the id (live rows)
    s AS (
        SELECT d.key, d.a, d.w, d.repair, d.payload, d.ttl, d.u,
               CASE
                   WHEN d.repair = 'stale' AND d.c IS DISTINCT FROM d.ctx THEN d.c
                   WHEN d.repair = 'extra' THEN d.c
                   WHEN d.repair = 'expired' THEN coalesce(d.c, d.ctx)
               END AS leave,
               CASE WHEN d.repair IN ('missing', 'stale', 'ttl', 'ok') THEN d.ctx END AS ctx
        FROM d
        WHERE d.repair IS NOT NULL
    )
    SELECT s.key, s.repair, CASE WHEN s.repair IN ('missing', 'stale', 'ttl', 'ok') THEN s.u END,
           jsonb_path_query_array(jsonb_build_array(
               CASE
                   WHEN s.repair IN ('missing', 'stale') THEN jsonb_build_array('SET', s.key, s.payload, 'PX', s.ttl)
                   WHEN s.repair = 'ttl' THEN jsonb_build_array('PEXPIRE', s.key, s.ttl)
                   WHEN s.repair IN ('extra', 'expired') THEN jsonb_build_array('DEL', s.key)
               END,
               CASE WHEN s.leave IS NOT NULL THEN jsonb_build_array('SREM', memory._cache_key(s.a, 'wmctx', s.leave), s.w) END,
               -- the context type's set lives as long as its longest item
               CASE WHEN s.ctx IS NOT NULL THEN jsonb_build_array('SADD', memory._cache_key(s.a, 'wmctx', s.ctx), s.w) END,
               CASE WHEN s.ctx IS NOT NULL THEN jsonb_build_array('PEXPIRE', memory._cache_key(s.a, 'wmctx', s.ctx), s.ttl, 'NX') END,
               CASE WHEN s.ctx IS NOT NULL THEN jsonb_build_array('PEXPIRE', memory._cache_key(s.a, 'wmctx', s.ctx), s.ttl, 'GT') END
           ), 'strict $[*] ? (@.type() != "null")')
    FROM s;
END
$$;

COMMENT ON FUNCTION memory.cache_diff_working_memory(text [], bytea [], bigint [], text []) IS
'Worker (reconciliation): what to repair in Redis for the keys mem:<agent_id>:wm:<working_id> (other keys are ignored), as the Redis commands to run in order. With value_sha256 (sha256 of the cached value, NULL when the key is absent), pttl_ms (Redis PTTL) and cached_contexts (context_type in the cached JSON), one element per key: repair missing or stale (SET with the JSON and PX the milliseconds left), ttl (PEXPIRE: the TTL is over a second off), ok (nothing), each followed by SADD and PEXPIRE NX, GT of the set of the row''s context type; extra (DEL: no such row of that agent) or expired (DEL) for keys present in Redis; an SREM from the set of the cached context of a stale, extra or expired key (the row''s for an expired key whose context is unknown) when it is not the row''s. updated_at is the live row''s last update (the warmer''s sync lag). Without value_sha256 (keys found by SCAN) only extra and expired keys are returned. Keys absent from Redis and from Postgres return nothing. Raises 22004 (NULL keys), 22023 (over 10000 keys, arrays of different lengths).';

CREATE OR REPLACE FUNCTION memory.cache_diff_blocks(keys text [], blocks_sha256 bytea [] DEFAULT NULL)
RETURNS TABLE (key text, repair text, commands jsonb)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM memory._cache_check_keys(keys, ARRAY[cardinality(blocks_sha256)]);
    RETURN QUERY
    WITH k AS (
        SELECT k.key, i.agent_id AS a, k.h
        FROM unnest(keys, coalesce(blocks_sha256, '{}')) AS k (key, h)
        CROSS JOIN LATERAL memory._cache_key_ids(k.key) AS i
        WHERE i.agent_id IS NOT NULL AND i.working_id IS NULL
    ),
    -- label, JSON, label, JSON ... in label order: HSET's fields and what the stamp hashes
    wanted AS (
        SELECT b.agent_id AS a, jsonb_agg(f.x ORDER BY b.label COLLATE "C", f.n) AS fields,
               sha256(string_agg(convert_to(f.x, 'UTF8') || '\x00'::bytea, ''::bytea ORDER BY b.label COLLATE "C", f.n)) AS h
        FROM memory.cache_blocks(ARRAY(SELECT k.a FROM k)) AS b
        CROSS JOIN LATERAL (VALUES (1, b.label), (2, b.payload)) AS f (n, x)
        GROUP BY b.agent_id
    ),
    d AS (
        SELECT k.key, w.fields,
               CASE
                   WHEN w.a IS NULL THEN CASE WHEN blocks_sha256 IS NULL OR k.h IS NOT NULL THEN 'extra' END
                   WHEN blocks_sha256 IS NULL THEN NULL
                   WHEN k.h IS NULL THEN 'missing'
                   WHEN k.h <> w.h THEN 'stale'
               END AS repair
        FROM k LEFT JOIN wanted AS w ON w.a = k.a
    )
    SELECT d.key, d.repair,
           jsonb_build_array(jsonb_build_array('DEL', d.key))
           || CASE WHEN d.repair <> 'extra' THEN jsonb_build_array(jsonb_build_array('HSET', d.key) || d.fields) ELSE '[]' END
    FROM d
    WHERE d.repair IS NOT NULL;
END
$$;

COMMENT ON FUNCTION memory.cache_diff_blocks(text [], bytea []) IS
'Worker (reconciliation): what to repair in Redis for the hashes mem:<agent_id>:blocks (other keys are ignored), as the Redis commands to run in order, in one MULTI. With blocks_sha256 (one element per key: sha256 over the cached fields in label order, C collation, each label and value as UTF-8 followed by a zero byte; NULL when the hash is absent or empty): missing or stale, DEL and HSET of every label with its JSON; extra, DEL of a hash of an agent without blocks. Without blocks_sha256 (hashes found by SCAN) only extra ones are returned. Raises 22004 (NULL keys), 22023 (over 10000 keys, arrays of different lengths).';

CREATE OR REPLACE FUNCTION memory.claim_cache_reconcile(worker text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest bigint;
BEGIN
    PERFORM memory._check_worker(worker);
    -- One reconciliation answers every open request; a request claimed by a daemon that
    -- did not finish it within 30 minutes is open again.
    WITH open AS (
        SELECT r.request_id FROM memory.cache_reconcile_requests AS r
        WHERE r.finished_at IS NULL
          AND (r.claimed_at IS NULL OR r.claimed_at < now() - interval '30 minutes')
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE memory.cache_reconcile_requests AS r
        SET claimed_at = now(), claimed_by = worker
        FROM open
        WHERE r.request_id = open.request_id
        RETURNING r.request_id
    )
    SELECT max(c.request_id) INTO newest FROM claimed AS c;
    RETURN newest;
END
$$;

COMMENT ON FUNCTION memory.claim_cache_reconcile(text) IS
'Worker: claims every open reconciliation request (and those claimed over 30 minutes ago and never finished) and returns the newest id, NULL when none is open. Raises 22023 for a bad worker name.';

CREATE OR REPLACE FUNCTION memory.finish_cache_reconcile(
    worker text,
    request_id bigint,
    started_at timestamptz,
    checked bigint,
    missing bigint,
    stale bigint,
    extra bigint,
    expired bigint,
    error text DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    id bigint;
BEGIN
    PERFORM memory._check_worker(worker);
    INSERT INTO memory.cache_repairs AS c (
        request_id, worker_name, started_at, ok, checked, missing, stale, extra, expired, error
    )
    VALUES (
        request_id, worker, started_at, error IS NULL, coalesce(checked, 0), coalesce(missing, 0),
        coalesce(stale, 0), coalesce(extra, 0), coalesce(expired, 0), left(error, 2000)
    )
    RETURNING c.repair_id INTO id;
    IF error IS NULL THEN
        UPDATE memory.cache_reconcile_requests AS r SET finished_at = now()
        WHERE r.claimed_by = worker AND r.finished_at IS NULL AND r.request_id <= finish_cache_reconcile.request_id;
    ELSE
        -- a failed run (Redis down) leaves the requests open for the next attempt
        UPDATE memory.cache_reconcile_requests AS r SET claimed_at = NULL, claimed_by = NULL
        WHERE r.claimed_by = worker AND r.finished_at IS NULL;
    END IF;
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory.finish_cache_reconcile(text, bigint, timestamptz, bigint, bigint, bigint, bigint, bigint, text) IS
'Worker: records a reconciliation in memory.cache_repairs (keys checked; missing, stale, extra and expired keys repaired; the error if it failed) and closes the worker''s claimed requests up to request_id (a failed run reopens them). Returns the repair id. Raises 22023 for a bad worker name.';

CREATE OR REPLACE FUNCTION memory.cache_warmer_heartbeat(
    worker text,
    redis_connected boolean,
    events_applied bigint,
    redis_errors bigint,
    sync_lag_seconds double precision,
    last_error text DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._check_worker(worker);
    INSERT INTO memory.cache_warmers AS c (
        worker_name, redis_connected, events_applied, redis_errors, sync_lag_seconds, last_error, last_heartbeat
    )
    VALUES (worker, redis_connected, events_applied, redis_errors, sync_lag_seconds, left(last_error, 2000), now())
    ON CONFLICT (worker_name) DO UPDATE
    SET redis_connected = excluded.redis_connected, events_applied = excluded.events_applied,
        redis_errors = excluded.redis_errors, sync_lag_seconds = excluded.sync_lag_seconds,
        last_error = excluded.last_error, last_heartbeat = excluded.last_heartbeat;
END
$$;

COMMENT ON FUNCTION memory.cache_warmer_heartbeat(text, boolean, bigint, bigint, double precision, text) IS
'Worker: the cache warmer''s heartbeat: whether Redis answers, events applied and Redis errors since start, the last sync lag in seconds (commit to Redis), the last Redis error. Raises 22023 for a bad worker name.';

-- ---------------------------------------------------------------------------
-- Operators
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._health_cache()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    warmers jsonb;
    live_warmers integer;
    connected integer;
    lag double precision;
    last_repair jsonb;
    repairing_in_a_row integer;
    oldest_open double precision;
    problems text [] := '{}';
    status text := 'ok';
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'name', c.worker_name, 'redis_connected', c.redis_connected, 'events_applied', c.events_applied,
        'redis_errors', c.redis_errors, 'sync_lag_seconds', round(c.sync_lag_seconds::numeric, 3),
        'last_error', c.last_error, 'last_heartbeat', c.last_heartbeat,
        'heartbeat_age_seconds', round(extract(EPOCH FROM now() - c.last_heartbeat)::numeric, 1)
    ) ORDER BY c.last_heartbeat DESC), '[]'),
    count(*) FILTER (WHERE c.last_heartbeat > now() - interval '2 minutes'),
    count(*) FILTER (WHERE c.last_heartbeat > now() - interval '2 minutes' AND c.redis_connected),
    max(c.sync_lag_seconds) FILTER (WHERE c.last_heartbeat > now() - interval '2 minutes')
    INTO warmers, live_warmers, connected, lag
    FROM memory.cache_warmers AS c
    WHERE c.last_heartbeat > now() - interval '1 day';

    SELECT to_jsonb(r) - 'request_id' INTO last_repair
    FROM (
        SELECT c.repair_id, c.request_id, c.worker_name, c.started_at, c.finished_at, c.ok, c.checked,
               c.missing, c.stale, c.extra, c.expired, c.missing + c.stale + c.extra + c.expired AS repaired, c.error
        FROM memory.cache_repairs AS c ORDER BY c.finished_at DESC, c.repair_id DESC LIMIT 1
    ) AS r;

    -- successful reconciliations that repaired something, counted back from the last one
    SELECT count(*) INTO repairing_in_a_row
    FROM (
        SELECT c.missing + c.stale + c.extra + c.expired AS repaired,
               sum(CASE WHEN c.missing + c.stale + c.extra + c.expired = 0 THEN 1 ELSE 0 END)
                   OVER (ORDER BY c.finished_at DESC, c.repair_id DESC) AS clean_seen
        FROM memory.cache_repairs AS c
        WHERE c.ok
        ORDER BY c.finished_at DESC, c.repair_id DESC
        LIMIT 50
    ) AS x
    WHERE x.clean_seen = 0;

    SELECT extract(EPOCH FROM now() - min(r.requested_at)) INTO oldest_open
    FROM memory.cache_reconcile_requests AS r WHERE r.finished_at IS NULL;

    IF live_warmers = 0 THEN
        problems := problems || 'no live cache warmer'::text;
    ELSIF connected < live_warmers THEN
        problems := problems || format(
            'Redis is unreachable from %s of %s cache warmer(s) (SQL reads and writes are unaffected)',
            live_warmers - connected, live_warmers
        );
    END IF;
    IF repairing_in_a_row >= 2 THEN
        problems := problems || format('the last %s reconciliations all repaired keys', repairing_in_a_row);
    END IF;
    IF oldest_open > 900 THEN
        problems := problems || format('a reconciliation request waits for %s s', round(oldest_open::numeric));
    END IF;
    IF cardinality(problems) > 0 THEN
        status := 'degraded';
    END IF;

    RETURN jsonb_build_object(
        'status', status,
        'problems', to_jsonb(problems),
        'warmers', warmers,
        'sync_lag_seconds', round(lag::numeric, 3),
        'last_repair', last_repair,
        'reconciliations_repairing_in_a_row', repairing_in_a_row,
        'open_reconcile_requests', (SELECT count(*) FROM memory.cache_reconcile_requests AS r WHERE r.finished_at IS NULL),
        'oldest_open_request_age_seconds', round(oldest_open::numeric, 1)
    );
END
$$;

COMMENT ON FUNCTION memory._health_cache() IS
'Private: the cache layer of memory.health(): each cache warmer (Redis reachable, events, errors, sync lag), the last reconciliation and what it repaired, how many reconciliations in a row repaired keys, open requests; status ok or degraded (Redis never makes the memory fail). Raises nothing.';
