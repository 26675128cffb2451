-- Query embeddings: a query's vector from the embed daemons (over their Unix
-- sockets), cached in memory.query_embedding_cache; an episode's pooled vector.

-- plpython3u functions need a superuser; they are SECURITY INVOKER and granted only to
-- the roles whose functions call them (sql/functions/999-grants.sql).
RESET ROLE;

-- Load pgvector in this session (as a superuser) so that its settings (hnsw.*) are
-- known when functions pin them, here and in the files after this one (110-search.sql).
SELECT '[1]'::public.vector IS NOT NULL AS pgvector_loaded;

CREATE OR REPLACE FUNCTION memory._embed_query_remote(query text, model text, sockets text [], timeout_ms integer)
RETURNS text
LANGUAGE plpython3u
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $py$
import json
import socket
import time

deadline = time.monotonic() + max(timeout_ms, 1) / 1000.0
request = (json.dumps({"op": "embed", "model": model, "text": query}) + "\n").encode("utf-8")
errors = []
for path in sockets or []:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        errors.append("timed out")
        break
    if not path or not path.startswith("/"):
        continue
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(remaining)
        sock.connect(path)
        sock.sendall(request)
        buf = b""
        while not buf.endswith(b"\n"):
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            part = sock.recv(1 << 16)
            if not part:
                break
            buf += part
        answer = json.loads(buf.decode("utf-8"))
        if answer.get("ok"):
            return answer["vector"]
        errors.append(str(answer.get("error", "refused"))[:200])
    except socket.timeout:
        errors.append("timed out")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        errors.append(type(exc).__name__)
    finally:
        sock.close()
plpy.error(
    "the embed daemon did not embed the query",
    detail="tried %d socket(s): %s" % (len(sockets or []), "; ".join(errors) or "no live embed daemon"),
    hint="start it with scripts/daemon.sh start; memory.health() shows its heartbeat",
    sqlstate="38000",
)
$py$;

COMMENT ON FUNCTION memory._embed_query_remote(text, text, text [], integer) IS
'Private: asks the embed daemons listening on the given Unix sockets, in order, to embed a query with a model, within timeout_ms in all; returns the vector as text. Raises 38000 when none answers in time.';

SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Query embeddings
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.embed_query(query text, model text DEFAULT NULL)
RETURNS vector
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    m record;
    settings record;
    h bytea;
    v vector;
    sockets text [];
    writable boolean := NOT current_setting('transaction_read_only')::boolean;
    used timestamptz;
    failure text;
BEGIN
    IF query IS NULL OR query !~ '\S' THEN
        RAISE EXCEPTION 'query must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass the text to search for';
    END IF;
    IF char_length(query) > 100000 THEN
        RAISE EXCEPTION 'query is too long'
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('%s characters, at most 100000', char_length(query)),
                  HINT = 'search with a shorter text';
    END IF;
    SELECT md.model_id, md.name, md.dimensions INTO m
    FROM memory.embedding_models AS md
    WHERE (embed_query.model IS NULL AND md.is_serving) OR md.name = embed_query.model;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'embedding model % does not exist', coalesce(model, '(serving)')
            USING ERRCODE = 'undefined_object', HINT = 'memory.embedding_models lists the registered models';
    END IF;
    h := memory._sha256(query);
    -- the cache replicates (migration 027): a hot standby reads its copy too
    SELECT c.embedding, c.last_used_at INTO v, used FROM memory.query_embedding_cache AS c
    WHERE c.model_id = m.model_id AND c.query_sha256 = h;
    IF v IS NOT NULL THEN
        -- A hit is written down (hits, last_used_at for the expiry, and through the
        -- trigger this agent as an asker) only when the row was last used over a minute
        -- ago or this agent never asked for it, so a repeated search writes nothing. The
        -- cache is shared by every agent: the row is updated only when it can be locked
        -- at once (SKIP LOCKED), so a search never waits for another session's open
        -- transaction that searched the same text.
        IF writable AND (used < now() - interval '1 minute' OR NOT EXISTS (
            SELECT 1 FROM memory.query_embedding_askers AS a
            WHERE a.model_id = m.model_id AND a.query_sha256 = h AND a.agent_id = memory.current_agent()
        )) THEN
            PERFORM 1 FROM memory.query_embedding_cache AS c
            WHERE c.model_id = m.model_id AND c.query_sha256 = h
            FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                UPDATE memory.query_embedding_cache AS c SET hits = c.hits + 1, last_used_at = now()
                WHERE c.model_id = m.model_id AND c.query_sha256 = h;
            END IF;
        END IF;
        RETURN v;
    END IF;

    SELECT * INTO settings FROM memory.embedding_settings;
    -- Only sockets that live daemons registered (memory_worker): a session cannot
    -- point the server at a socket of its choosing.
    sockets := ARRAY(
        SELECT w.query_socket
        FROM memory.embedding_workers AS w
        WHERE w.query_socket IS NOT NULL AND w.status = 'running'
          AND w.last_heartbeat > now() - settings.worker_timeout
          AND m.name = ANY (w.models)
        ORDER BY w.last_heartbeat DESC
    );
    BEGIN
        v := memory._embed_query_remote(
            query, m.name, sockets, (extract(EPOCH FROM settings.query_timeout) * 1000)::integer
        )::vector;
    EXCEPTION
        WHEN external_routine_exception THEN
            GET STACKED DIAGNOSTICS failure = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'the embed daemon did not embed the query'
                USING ERRCODE = 'external_routine_exception',
                      DETAIL = failure,
                      HINT = 'start it with scripts/daemon.sh start; memory.health() shows its heartbeat';
    END;
    IF vector_dims(v) <> m.dimensions THEN
        RAISE EXCEPTION 'the embed daemon answered with % dimensions, model % has %', vector_dims(v), m.name, m.dimensions
            USING ERRCODE = 'data_exception', HINT = 'check the model''s source in memory.embedding_models';
    END IF;
    -- Store it unless another session is storing the same text right now (it holds the
    -- lock until its commit): an insert would wait for that session's transaction on the
    -- unique key, and the vector is already in hand.
    IF writable AND pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(
        'memory.query_cache:' || m.model_id::text || ':' || pg_catalog.encode(h, 'hex'), 0
    )) THEN
        INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)
        VALUES (m.model_id, h, v)
        ON CONFLICT (model_id, query_sha256) DO NOTHING;
    END IF;
    RETURN v;
END
$$;

COMMENT ON FUNCTION memory.embed_query(text, text) IS
'Embeds a search query with the serving model (or the named one), through a live embed daemon''s local socket within memory.embedding_settings.query_timeout; results are cached by model and sha256 of the text (a hit is recorded in hits and last_used_at only when the row was last used over a minute ago or the agent had not asked for it before, so a repeated search writes nothing; a hit or a miss never waits for another session''s transaction; on a hot standby the replicated cache is read, and neither a hit nor a miss is written). Raises 22023 (empty), 22001 (over 100,000 characters), 42704 (unknown model), 38000 (no daemon answered in time: search can fall back to full text).';

CREATE OR REPLACE FUNCTION memory.episode_embedding(episode_id uuid, model text DEFAULT NULL)
RETURNS vector
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT p.embedding
    FROM memory.pooled_embeddings AS p
    JOIN memory.embedding_models AS m ON m.model_id = p.model_id
    WHERE p.episode_id = episode_embedding.episode_id
      AND ((episode_embedding.model IS NULL AND m.is_serving) OR m.name = episode_embedding.model)
$$;

COMMENT ON FUNCTION memory.episode_embedding(uuid, text) IS
'One vector for a whole episode: the mean of its normalised chunk vectors under the serving model (or the named one); NULL while it is not embedded or not visible to the caller (row-level security).';
