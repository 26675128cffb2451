-- Working memory: short-lived context with a TTL. Postgres is the truth; Redis is a
-- cache warmed from it. Reads never return expired rows, even between expiry runs.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._priority_rank(priority text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 END
$$;

COMMENT ON FUNCTION memory._priority_rank(text) IS
'Private: sort rank of a working-memory priority, most important first (critical 0 .. low 3).';

-- SECURITY DEFINER: an upsert by key must see (and revive) an expired row of the same
-- key, which the agents' read policy hides. Every statement is scoped to the caller.
-- the signature before idempotency_key (issue 18): one set_working_memory, not two overloads
DROP FUNCTION IF EXISTS memory.set_working_memory(text, jsonb, interval, text, text);
CREATE OR REPLACE FUNCTION memory.set_working_memory(
    context_type text,
    content jsonb,
    ttl interval DEFAULT '24 hours',
    priority text DEFAULT 'normal',
    key text DEFAULT NULL,
    idempotency_key text DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    me uuid := memory._require_agent();
    id uuid;
    t0 timestamptz := clock_timestamp();
    expires timestamptz;
BEGIN
    id := memory._idempotency_claim(
        'set_working_memory', idempotency_key, jsonb_build_array(context_type, content, ttl, priority, key)
    );
    IF id IS NOT NULL THEN
        RETURN id;
    END IF;
    PERFORM memory._check_pattern('context_type', coalesce(context_type, ''), '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$',
                                  'a context_type is 1-100 letters, digits, _, . or -, e.g. conversation, task');
    PERFORM memory._check_not_null('content', content, 'pass a jsonb value, e.g. ''{"text": "..."}''');
    PERFORM memory._check_json('content', content, 1048576,
                               'working memory is for small, current context; store large texts with remember()');
    ttl := coalesce(ttl, '24 hours');
    -- Intervals compare with 30-day months, but an item lives until now + ttl: with
    -- months and days of opposite signs ('-1 month 30 days') that moment can be in the
    -- past or beyond 366 days although the interval compares within them. Both are
    -- checked (the first keeps now + ttl from overflowing).
    IF ttl > interval '0' AND ttl <= interval '366 days' THEN
        expires := t0 + ttl;
    END IF;
    IF expires IS NULL OR expires <= t0 OR expires > t0 + interval '366 days' THEN
        RAISE EXCEPTION 'ttl must be positive and at most 366 days'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', ttl),
                  HINT = 'pass e.g. interval ''30 minutes''; use clear_working_memory() to drop items';
    END IF;
    priority := coalesce(priority, 'normal');
    IF memory._priority_rank(priority) IS NULL THEN
        RAISE EXCEPTION 'unknown priority %', quote_literal(left(priority, 20))
            USING ERRCODE = 'invalid_parameter_value', HINT = 'priority is one of critical, high, normal, low';
    END IF;
    IF key IS NOT NULL AND char_length(key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'key must have 1 to 200 characters'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass NULL for an item without a key';
    END IF;

    IF key IS NULL THEN
        INSERT INTO memory.working_memory (agent_id, context_type, content, priority, expires_at)
        VALUES (me, context_type, content, priority, expires)
        RETURNING working_id INTO id;
    ELSE
        INSERT INTO memory.working_memory AS w (agent_id, context_type, key, content, priority, expires_at)
        VALUES (me, context_type, key, content, priority, expires)
        ON CONFLICT (agent_id, context_type, key) WHERE key IS NOT NULL
        DO UPDATE SET content = excluded.content,
                      priority = excluded.priority,
                      updated_at = now(),
                      expires_at = excluded.expires_at
        RETURNING w.working_id INTO id;
    END IF;
    PERFORM memory._idempotency_record(idempotency_key, id);
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory.set_working_memory(text, jsonb, interval, text, text, text) IS
'Puts an item in the current agent''s working memory for ttl (default 24 hours) and returns its id. With a key, an item of the same context_type and key is replaced (upsert). priority: critical, high, normal or low. idempotency_key: 1-200 characters, optional: a retry with the same key and the same arguments returns the first id and changes nothing (not even the expiry), for memory.idempotency_retention() (24 hours). ttl must be positive and end at most 366 days from now (an interval of months ends on the calendar). Raises 42501, 22023 (bad context_type, ttl, priority, key or idempotency_key), 23505 (idempotency_key already used with other arguments), 22004 (NULL content), 54000 (content over 1 MiB).';

CREATE OR REPLACE FUNCTION memory.get_working_memory(context_type text DEFAULT NULL)
RETURNS TABLE (
    working_id uuid,
    context_type text,
    key text,
    content jsonb,
    priority text,
    expires_at timestamptz
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.working_id, w.context_type, w.key, w.content, w.priority, w.expires_at
    FROM memory.working_memory AS w
    WHERE w.agent_id = (SELECT memory.current_agent())
      AND w.expires_at > clock_timestamp()
      AND (get_working_memory.context_type IS NULL OR w.context_type = get_working_memory.context_type)
    ORDER BY memory._priority_rank(w.priority), w.updated_at DESC, w.working_id
$$;

COMMENT ON FUNCTION memory.get_working_memory(text) IS
'The current agent''s live working-memory items (of one context_type, or all), most important first, then newest. Expired items are never returned, even before the expiry job deletes them.';

CREATE OR REPLACE FUNCTION memory.clear_working_memory(context_type text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    live integer;
BEGIN
    WITH gone AS (
        DELETE FROM memory.working_memory AS w
        WHERE w.agent_id = me
          AND (clear_working_memory.context_type IS NULL OR w.context_type = clear_working_memory.context_type)
        RETURNING w.expires_at
    )
    SELECT count(*) FILTER (WHERE gone.expires_at > clock_timestamp()) INTO live FROM gone;
    RETURN live;
END
$$;

COMMENT ON FUNCTION memory.clear_working_memory(text) IS
'Deletes the current agent''s working-memory items (of one context_type, or all) and returns how many live items were removed (expired ones are removed too, uncounted). Raises 42501 when the session is not an agent.';
