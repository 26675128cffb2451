-- Idempotent writes (issue 18): remember, learn_fact and set_working_memory take an
-- optional idempotency_key. The first call with a key claims it (a row of
-- memory.idempotency_keys in the same transaction as the write); a retry with the same
-- key and the same arguments gets the first call's id and stores nothing; the same key
-- with other arguments is refused (23505). A concurrent retry waits on the primary key
-- until the first commits (then reads its id) or rolls back (then claims the key).
-- SECURITY INVOKER: row-level security keeps agents to their own keys; set_working_memory
-- (SECURITY DEFINER) calls these as memory_owner, and every statement names the agent.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.idempotency_retention()
RETURNS interval
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT interval '24 hours'
$$;

COMMENT ON FUNCTION memory.idempotency_retention() IS
'How long an idempotency key is kept (24 hours): a retry within it returns the first id; after it (the job memory-prune-idempotency-keys deletes older keys every hour) the same key is a new write. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._idempotency_claim(operation text, claimed_key text, request jsonb)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid;
    sha bytea;
    prior record;
BEGIN
    -- most writes claim no key: nothing to look up (remember() skips the call then)
    IF claimed_key IS NULL THEN
        RETURN NULL;
    END IF;
    me := memory._require_agent();
    IF char_length(claimed_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'idempotency_key must have 1 to 200 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass NULL for a write without a key; a UUID made once per write and reused by its retries is a good key';
    END IF;
    sha := sha256(convert_to(jsonb_build_array(operation, request)::text, 'UTF8'));
    LOOP
        INSERT INTO memory.idempotency_keys AS k (agent_id, idempotency_key, operation, request_sha256)
        VALUES (me, claimed_key, operation, sha)
        ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING;
        IF FOUND THEN
            RETURN NULL;  -- claimed: the caller writes, then _idempotency_record
        END IF;
        SELECT k.operation, k.request_sha256, k.result_id, k.created_at INTO prior
        FROM memory.idempotency_keys AS k
        WHERE k.agent_id = me AND k.idempotency_key = claimed_key;
        EXIT WHEN FOUND;  -- else pruned in between: claim again
    END LOOP;
    IF prior.request_sha256 <> sha THEN
        RAISE EXCEPTION 'idempotency key already used with other arguments'
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('key %s was used by %s at %s', quote_literal(left(claimed_key, 60)), prior.operation,
                                  prior.created_at),
                  HINT = 'a retry repeats the same call with the same arguments; a new write needs a new key';
    END IF;
    RETURN prior.result_id;
END
$$;

COMMENT ON FUNCTION memory._idempotency_claim(text, text, jsonb) IS
'Private (remember, learn_fact, set_working_memory): claims claimed_key for operation and the sha256 of its request for the current agent and returns NULL, or returns the id stored by the call that claimed it first with the same request. Raises 22023 (key not 1-200 characters), 23505 (key used with another request or operation), 42501.';

CREATE OR REPLACE FUNCTION memory._idempotency_record(claimed_key text, result_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- most writes claim no key: nothing to do (PL/pgSQL: no statement planned for them)
    IF claimed_key IS NULL THEN
        RETURN;
    END IF;
    UPDATE memory.idempotency_keys AS k
    SET result_id = _idempotency_record.result_id
    WHERE k.agent_id = memory._require_agent() AND k.idempotency_key = claimed_key AND k.result_id IS NULL;
END
$$;

COMMENT ON FUNCTION memory._idempotency_record(text, uuid) IS
'Private: stores the id a write returned with the key it claimed (nothing for a NULL key). Raises 42501.';
