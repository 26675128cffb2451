-- The embedding pipeline: chunking, enqueue triggers, the queue API of the embed
-- daemon, the model registry, query embeddings, search by vector, health details.
-- Queue functions are SECURITY DEFINER (the daemon's role memory_worker has no table
-- privileges); agent-facing ones are SECURITY INVOKER and rely on row-level security.

-- plpython3u functions need a superuser; they are SECURITY INVOKER and granted only to
-- the roles whose functions call them (sql/functions/999-grants.sql).
RESET ROLE;

-- Load pgvector in this session so that its settings (hnsw.*) are known when
-- functions below pin them.
SELECT '[1]'::public.vector IS NOT NULL AS pgvector_loaded;

CREATE OR REPLACE FUNCTION memory._split_text(content text, chunk_tokens integer, overlap_tokens integer)
RETURNS TABLE (chunk_index integer, char_start integer, char_end integer, chunk_text text)
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
ROWS 4
SET search_path = pg_catalog, pg_temp
AS $py$
# memory.chunk_text() checks first with its own messages; this guards direct calls
if chunk_tokens < 8 or overlap_tokens < 0 or overlap_tokens > chunk_tokens // 2:
    plpy.error(
        "chunk_tokens must be at least 8 and overlap_tokens between 0 and half of it",
        sqlstate="22023",
    )
split = SD.get("split")
if split is None:
    import bisect
    import re

    word_re = re.compile(r"[^\W\d_]+|\d+|\S")
    seps = (
        re.compile(r"\n[ \t\r\f\v]*\n\s*"),          # paragraphs
        re.compile(r"\n\s*"),                         # lines
        re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])[\"'\u201d\u2019)\]]*\s+"),  # sentences
        re.compile(r"\s+"),                           # words
    )

    def cost(w):
        # estimated word pieces of one word (calibrated against BERT's uncased
        # vocabulary on English, Spanish, code and markdown: rarely under)
        n = len(w)
        if n == 1:
            return 1.0
        if w.isdigit():
            return float((n + 1) // 2)
        if w.isascii():
            return 1.0 + max(0, n - 3) / 3.0
        if any(ord(c) >= 0x2E80 for c in w):
            return float(n)
        return 1.0 + (n - 1) / 2.0

    def split(text, budget, overlap):
        starts = []
        cum = [0.0]
        for m in word_re.finditer(text):
            starts.append(m.start())
            cum.append(cum[-1] + cost(m.group()))

        def est(s, e):
            return cum[bisect.bisect_left(starts, e)] - cum[bisect.bisect_left(starts, s)]

        pieces = []

        def rec(s, e, level):
            # Paragraphs, lines and sentences are always separated (so that neighbours
            # can overlap by a sentence or two); words and characters only when a
            # sentence alone is over the budget.
            t = est(s, e)
            if t <= budget and level >= 3:
                pieces.append((s, e, t))
                return
            if level == len(seps):
                # no separator left: windows of `budget` characters (a character is
                # at most one word piece)
                for p in range(s, e, budget):
                    q = min(e, p + budget)
                    pieces.append((p, q, float(q - p)))
                return
            pos = s
            for m in seps[level].finditer(text, s, e):
                cut = m.end()
                if pos < cut < e:
                    rec(pos, cut, level + 1)
                    pos = cut
            rec(pos, e, level + 1)

        if est(0, len(text)) <= budget:
            return [(0, len(text))]
        rec(0, len(text), 0)
        chunks = []
        cur = []
        total = 0.0
        for p in pieces:
            if cur and total + p[2] > budget:
                chunks.append((cur[0][0], cur[-1][1]))
                while cur and (total > overlap or total + p[2] > budget):
                    total -= cur.pop(0)[2]
                if not cur:
                    total = 0.0
            cur.append(p)
            total += p[2]
        if cur:
            chunks.append((cur[0][0], cur[-1][1]))
        return chunks

    SD["split"] = split

return [(i, s, e, content[s:e]) for i, (s, e) in enumerate(split(content, chunk_tokens, overlap_tokens))]
$py$;

COMMENT ON FUNCTION memory._split_text(text, integer, integer) IS
'Private: the splitter behind memory.chunk_text(), which checks its arguments with its own messages; raises 22023 for bad sizes when called directly.';

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
-- Chunking
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.chunk_text(content text, chunk_tokens integer DEFAULT 200, overlap_tokens integer DEFAULT 32)
RETURNS TABLE (chunk_index integer, char_start integer, char_end integer, chunk_text text)
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
ROWS 4
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF chunk_tokens < 8 THEN
        RAISE EXCEPTION 'chunk_tokens must be at least 8'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'the model''s window in word pieces, less a margin';
    END IF;
    -- chunk_tokens / 2, not overlap_tokens * 2: the product overflows an integer (22003)
    IF overlap_tokens < 0 OR overlap_tokens > chunk_tokens / 2 THEN
        RAISE EXCEPTION 'overlap_tokens must be between 0 and half of chunk_tokens'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a sentence or two: 32 for chunks of 200';
    END IF;
    RETURN QUERY SELECT s.chunk_index, s.char_start, s.char_end, s.chunk_text
    FROM memory._split_text(content, chunk_tokens, overlap_tokens) AS s;
END
$$;

COMMENT ON FUNCTION memory.chunk_text(text, integer, integer) IS
'Splits a text for embedding. A text within chunk_tokens estimated word pieces is one chunk; a longer one is split at paragraphs, lines and sentences (words, then characters, only inside an over-long sentence) and the pieces are packed into chunks of at most chunk_tokens, neighbours sharing up to overlap_tokens. Pure Python (plpython3u), no model. Spans are 0-based character offsets [char_start, char_end); every character is in at least one chunk, nothing is dropped. Raises 22023 for bad sizes.';

-- ---------------------------------------------------------------------------
-- Private helpers
-- ---------------------------------------------------------------------------
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
BEGIN
    -- The payload is a model id, never content: any session may LISTEN. Identical
    -- payloads in one transaction are delivered once, at commit. Only when a daemon
    -- sleeps (the wake-up handshake above): a notifying commit serialises.
    PERFORM pg_notify('memory_embed', x.m::text)
    FROM (SELECT DISTINCT unnest(model_ids) AS m) AS x
    WHERE x.m IS NOT NULL AND NOT pg_try_advisory_xact_lock_shared(1162691140, x.m);
END
$$;

COMMENT ON FUNCTION memory._notify_embed(smallint []) IS
'Private: wakes the embed daemons about new work of these models: per model, pg_notify(''memory_embed'', model_id) (delivered at commit) when a daemon sleeps on it, else a shared hold of the model''s wake-up lock until commit, so that a daemon going to sleep waits for this commit and then sees the work (memory.embedding_worker_sleep). Raises nothing.';

-- Models that new or changed text is embedded with: the active and the serving one.
CREATE OR REPLACE FUNCTION memory._embedding_targets()
RETURNS smallint []
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(m.model_id ORDER BY m.model_id), '{}')
    FROM memory.embedding_models AS m
    WHERE m.is_active OR m.is_serving
$$;

COMMENT ON FUNCTION memory._embedding_targets() IS
'Private: ids of the models new text is embedded with (the active and the serving model).';

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
BEGIN
    IF TG_RELID <> 'memory.episodes'::regclass THEN
        RAISE EXCEPTION 'memory._enqueue_new_episodes() runs only as a trigger of memory.episodes'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    -- on every write: inline, no helper calls
    SELECT array_agg(m.model_id) INTO targets FROM memory.embedding_models AS m WHERE m.is_active OR m.is_serving;
    INSERT INTO memory.embedding_jobs (agent_id, episode_id, model_id, priority, content_sha256)
    SELECT n.agent_id, n.episode_id, t.model_id, n.importance, n.content_sha256
    FROM new_episodes AS n CROSS JOIN unnest(targets) AS t (model_id);
    IF FOUND THEN
        -- memory._notify_embed() inlined: notify only the models a daemon sleeps on
        PERFORM pg_notify('memory_embed', t.model_id::text) FROM unnest(targets) AS t (model_id)
        WHERE NOT pg_try_advisory_xact_lock_shared(1162691140, t.model_id);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._enqueue_new_episodes() IS
'Private statement trigger (AFTER INSERT on memory.episodes): queues an embedding job per inserted episode and target model, then wakes the daemons as memory._notify_embed() does. Raises 42501 when fired on any other table.';

CREATE OR REPLACE FUNCTION memory._enqueue_new_facts()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    targets smallint [];
BEGIN
    IF TG_RELID <> 'memory.facts'::regclass THEN
        RAISE EXCEPTION 'memory._enqueue_new_facts() runs only as a trigger of memory.facts'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    -- on every write: inline, no helper calls
    SELECT array_agg(m.model_id) INTO targets FROM memory.embedding_models AS m WHERE m.is_active OR m.is_serving;
    INSERT INTO memory.embedding_jobs (agent_id, fact_id, model_id, priority, content_sha256)
    SELECT n.agent_id, n.fact_id, t.model_id, n.confidence, n.content_sha256
    FROM new_facts AS n CROSS JOIN unnest(targets) AS t (model_id);
    IF FOUND THEN
        -- memory._notify_embed() inlined: notify only the models a daemon sleeps on
        PERFORM pg_notify('memory_embed', t.model_id::text) FROM unnest(targets) AS t (model_id)
        WHERE NOT pg_try_advisory_xact_lock_shared(1162691140, t.model_id);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._enqueue_new_facts() IS
'Private statement trigger (AFTER INSERT on memory.facts): queues an embedding job per inserted fact and target model, then wakes the daemons as memory._notify_embed() does. Raises 42501 when fired on any other table.';

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
BEGIN
    PERFORM memory._check_worker(worker);
    IF lease_ids IS NULL OR chunk_indexes IS NULL OR embeddings IS NULL
       OR cardinality(lease_ids) <> cardinality(chunk_indexes) OR cardinality(lease_ids) <> cardinality(embeddings) THEN
        RAISE EXCEPTION 'lease_ids, chunk_indexes and embeddings must be arrays of the same length'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'one element per chunk: its lease, its index, its vector';
    END IF;

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
'Worker: stores the vectors of a claimed batch in one call (one element per chunk: lease, chunk index, vector), replacing the owner''s previous vectors of that model, and marks the jobs done. A lease the worker no longer holds, or whose text changed since the claim, is discarded (outcome stale): the newer job stands. Returns per lease the outcome and seconds from enqueue to embedded. Raises 22023 (bad arrays, a missing chunk), 22000 (wrong dimension).';

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

-- ---------------------------------------------------------------------------
-- Operators: leases, dead jobs, models, re-embedding.
-- ---------------------------------------------------------------------------
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
    -- its own partial HNSW index over the cast to its dimension
    EXECUTE format(
        'CREATE INDEX %I ON memory.chunks USING hnsw ((embedding::public.vector(%s)) public.vector_cosine_ops) WHERE model_id = %s',
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
    -- The cache is shared by every agent: a hit is counted only when the row can be
    -- locked at once (SKIP LOCKED), so a search never waits for another session's open
    -- transaction that searched the same text; it reads the vector without a lock then.
    IF writable THEN
        SELECT c.embedding INTO v FROM memory.query_embedding_cache AS c
        WHERE c.model_id = m.model_id AND c.query_sha256 = h
        FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            UPDATE memory.query_embedding_cache AS c SET hits = c.hits + 1, last_used_at = now()
            WHERE c.model_id = m.model_id AND c.query_sha256 = h;
        END IF;
    END IF;
    -- the cache is UNLOGGED: a hot standby cannot read it (and asks the daemon instead)
    IF v IS NULL AND NOT pg_catalog.pg_is_in_recovery() THEN
        SELECT c.embedding INTO v FROM memory.query_embedding_cache AS c
        WHERE c.model_id = m.model_id AND c.query_sha256 = h;
    END IF;
    IF v IS NOT NULL THEN
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
'Embeds a search query with the serving model (or the named one), through a live embed daemon''s local socket within memory.embedding_settings.query_timeout; results are cached by model and sha256 of the text (a hit or a miss never waits for another session''s transaction; on a hot standby the cache, UNLOGGED, is neither read nor written). Raises 22023 (empty), 22001 (over 100,000 characters), 42704 (unknown model), 38000 (no daemon answered in time: search can fall back to full text).';

CREATE OR REPLACE FUNCTION memory.prune_query_cache()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM memory.query_embedding_cache AS c
    USING memory.embedding_settings AS s
    WHERE c.last_used_at < now() - s.query_cache_ttl;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.prune_query_cache() IS
'Operators and pg_cron (memory-prune-query-cache, hourly): deletes cached query embeddings unused for longer than memory.embedding_settings.query_cache_ttl; returns how many.';

-- ---------------------------------------------------------------------------
-- Search by vector (the seed's signature) and pooled vectors. SECURITY INVOKER: an
-- agent sees only its own chunks and episodes (row-level security).
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
    -- id are literals so that the planner can match it), then the best chunk per
    -- episode. Iterative scans keep going when row-level security filters neighbours out.
    -- An agent with few chunks is ranked exactly instead, as in search_episodic_memory(text)
    -- (memory._rank_exactly): the shared graph can strand a small agent's neighbours.
    RETURN QUERY EXECUTE format(
        $q$
        WITH nearest AS MATERIALIZED (
            SELECT c.episode_id, c.embedding::vector(%1$s) <=> $1::vector(%1$s) AS distance
            FROM memory.chunks AS c
            WHERE c.model_id = %2$s AND c.episode_id IS NOT NULL%3$s
            ORDER BY (c.embedding::vector(%1$s) <=> $1::vector(%1$s))%4$s
            LIMIT $2
        ),
        -- exact ranking when the shared HNSW graph yields fewer rows than asked for (as
        -- in memory._search_episodes)
        nearest_all AS (
            SELECT * FROM nearest
            UNION ALL
            SELECT * FROM (
                SELECT c.episode_id, c.embedding::vector(%1$s) <=> $1::vector(%1$s) AS distance
                FROM memory.chunks AS c
                WHERE c.model_id = %2$s AND c.episode_id IS NOT NULL%3$s
                ORDER BY (c.embedding::vector(%1$s) <=> $1::vector(%1$s)) + 0
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
        CASE WHEN me IS NOT NULL AND memory._rank_exactly(me, m.model_id) THEN ' + 0' ELSE '' END,
        CASE WHEN me IS NOT NULL AND NOT memory._rank_exactly(me, m.model_id) THEN 'TRUE' ELSE 'FALSE' END
    ) USING query_embedding, greatest(100, limit_results * 10), similarity_threshold, limit_results, me;
END
$$;

COMMENT ON FUNCTION memory.search_episodic_memory(vector, integer, double precision) IS
'The seed''s vector search: the current agent''s episodes nearest to query_embedding (a vector of the serving model, e.g. from memory.embed_query(text)), best chunk per episode, cosine similarity at least similarity_threshold, at most limit_results. SECURITY INVOKER: row-level security keeps each agent to its own episodes. A vector too small for single precision matches nothing. Raises 22023 (NULL, zero or wrong-dimension vector, bad limits), 55000 (no serving model); the vector type itself refuses NaN or infinite elements (22000) and over 16,000 dimensions (54000).';

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
