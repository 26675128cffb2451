-- Semantic memory: learn_fact, invalidate_fact, link_facts. Facts are bi-temporal and
-- append-only: a changed statement is a new fact that supersedes the old one, which
-- is closed (valid_to, invalidated_at, superseded_by) and never deleted.
SET ROLE memory_owner;

-- Facts keep their history: the statement, concept, start and recording time of a
-- fact never change, and a closed fact is never reopened (except by an operator).
CREATE OR REPLACE FUNCTION memory._facts_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.pg_has_role(current_user, 'memory_admin', 'MEMBER')
       OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN NEW;
    END IF;
    IF NEW.agent_id IS DISTINCT FROM OLD.agent_id
       OR NEW.concept IS DISTINCT FROM OLD.concept
       OR NEW.statement IS DISTINCT FROM OLD.statement
       OR NEW.valid_from IS DISTINCT FROM OLD.valid_from
       OR NEW.recorded_at IS DISTINCT FROM OLD.recorded_at THEN
        RAISE EXCEPTION 'facts are append-only'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'to change what is known, learn_fact(..., supersedes => ARRAY[old_id]); the old fact is closed, not rewritten';
    END IF;
    IF (OLD.valid_to IS NOT NULL AND NEW.valid_to IS DISTINCT FROM OLD.valid_to)
       OR (OLD.invalidated_at IS NOT NULL AND NEW.invalidated_at IS DISTINCT FROM OLD.invalidated_at) THEN
        RAISE EXCEPTION 'a closed fact cannot be reopened or moved'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'learn a new fact instead';
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION memory._facts_guard() IS
'Private trigger: keeps facts append-only for agents (raises 55000); operators may correct them.';

CREATE OR REPLACE TRIGGER facts_guard
BEFORE UPDATE ON memory.facts
FOR EACH ROW EXECUTE FUNCTION memory._facts_guard();

CREATE OR REPLACE FUNCTION memory._fact_not_found(fact_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'fact not found'
        USING ERRCODE = 'no_data_found',
              DETAIL = format('no fact %s in this agent''s memory', fact_id),
              HINT = 'check the id returned by learn_fact() or search_semantic_memory()';
END
$$;

COMMENT ON FUNCTION memory._fact_not_found(uuid) IS 'Private: raises P0002 for a fact the agent does not have.';

-- the signature before idempotency_key (issue 18): one learn_fact, not two overloads
DROP FUNCTION IF EXISTS memory.learn_fact(text, text, real, uuid[], timestamptz, uuid[]);
CREATE OR REPLACE FUNCTION memory.learn_fact(
    concept text,
    statement text,
    confidence real DEFAULT 0.5,
    source_episodes uuid[] DEFAULT '{}',
    valid_from timestamptz DEFAULT now(),
    supersedes uuid[] DEFAULT '{}',
    idempotency_key text DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    new_id uuid;
    starts timestamptz := memory._check_time('valid_from', valid_from);
    missing uuid;
    old record;
BEGIN
    new_id := memory._idempotency_claim(
        'learn_fact', idempotency_key, jsonb_build_array(concept, statement, confidence, source_episodes, supersedes)
    );
    IF new_id IS NOT NULL THEN
        RETURN new_id;
    END IF;
    source_episodes := coalesce(source_episodes, '{}');
    supersedes := coalesce(supersedes, '{}');
    IF cardinality(source_episodes) > 1000 OR cardinality(supersedes) > 1000 THEN
        RAISE EXCEPTION 'too many ids'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'at most 1000 source episodes and 1000 superseded facts';
    END IF;
    SELECT s INTO missing
    FROM unnest(source_episodes) AS s
    WHERE s IS NULL OR NOT EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = s AND e.agent_id = me)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'source episode not found'
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('no episode %s in this agent''s memory', coalesce(missing::text, 'NULL')),
                  HINT = 'source_episodes must be ids of the agent''s own episodes';
    END IF;

    INSERT INTO memory.facts (agent_id, concept, statement, confidence, source_episodes, valid_from)
    VALUES (
        me,
        memory._check_text('concept', concept, 500),
        memory._check_text('statement', statement, 100000),
        memory._check_unit_interval('confidence', coalesce(confidence, 0.5)),
        ARRAY(SELECT DISTINCT s FROM unnest(source_episodes) AS s),
        starts
    )
    RETURNING fact_id INTO new_id;

    FOR old IN
        SELECT f.fact_id, f.valid_from, f.valid_to, f.invalidated_at
        FROM memory.facts AS f
        WHERE f.agent_id = me AND f.fact_id = ANY (supersedes)
        ORDER BY f.fact_id
        FOR UPDATE
    LOOP
        IF old.valid_to IS NOT NULL OR old.invalidated_at IS NOT NULL THEN
            RAISE EXCEPTION 'fact is already closed'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('fact %s was closed before', old.fact_id),
                      HINT = 'supersede only facts that are still open';
        END IF;
        IF old.valid_from > starts THEN
            RAISE EXCEPTION 'a fact cannot supersede one that starts later'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('fact %s is valid from %s, the new one from %s', old.fact_id, old.valid_from, starts),
                      HINT = 'pass a valid_from at or after the start of the facts it supersedes';
        END IF;
        UPDATE memory.facts AS f
        SET valid_to = starts, invalidated_at = now(), superseded_by = new_id
        WHERE f.fact_id = old.fact_id;
    END LOOP;
    SELECT s INTO missing
    FROM unnest(supersedes) AS s
    WHERE s IS NULL OR NOT EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = s AND f.agent_id = me)
    LIMIT 1;
    IF FOUND THEN
        PERFORM memory._fact_not_found(missing);
    END IF;
    PERFORM memory._idempotency_record(idempotency_key, new_id);
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory.learn_fact(text, text, real, uuid[], timestamptz, uuid[], text) IS
'Records a fact for the current agent and returns its id. concept: 1-500 characters; statement: 1-100,000; confidence 0..1; source_episodes: the agent''s own episode ids; valid_from: when it became true in the world (default now()); supersedes: open facts it replaces, which are closed at valid_from (valid_to), marked invalidated now and linked by superseded_by, never deleted; idempotency_key: 1-200 characters, optional: a retry with the same key and the same arguments (valid_from aside) returns the first id and stores nothing, for memory.idempotency_retention() (24 hours). Raises 42501, 22023 (empty text, too many ids, starts before a superseded fact, bad idempotency_key), 23505 (idempotency_key already used with other arguments), 22001, 22003, 22008, P0002 (unknown episode or fact), 55000 (superseding a closed fact).';

CREATE OR REPLACE FUNCTION memory.invalidate_fact(fact_id uuid, valid_to timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    ends timestamptz := memory._check_time('valid_to', valid_to);
    f record;
BEGIN
    SELECT x.fact_id, x.valid_from, x.valid_to, x.invalidated_at INTO f
    FROM memory.facts AS x
    WHERE x.fact_id = invalidate_fact.fact_id AND x.agent_id = me
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM memory._fact_not_found(invalidate_fact.fact_id);
    END IF;
    IF f.valid_to IS NOT NULL OR f.invalidated_at IS NOT NULL THEN
        RAISE EXCEPTION 'fact is already closed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'a closed fact stays as it was closed';
    END IF;
    IF ends < f.valid_from THEN
        RAISE EXCEPTION 'valid_to is before the fact''s valid_from'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('valid_from %s, valid_to %s', f.valid_from, ends),
                  HINT = 'pass a valid_to at or after valid_from';
    END IF;
    UPDATE memory.facts AS x SET valid_to = ends, invalidated_at = now() WHERE x.fact_id = f.fact_id;
END
$$;

COMMENT ON FUNCTION memory.invalidate_fact(uuid, timestamptz) IS
'Closes one of the current agent''s open facts: it stops being true at valid_to (default now()) and is marked invalidated now; it is kept for as-of queries. Raises P0002 (unknown fact), 55000 (already closed), 22023 (valid_to before valid_from), 22008.';

-- SECURITY DEFINER: agents hold no DELETE privilege on fact_links (see forget_episode);
-- every statement is scoped to the caller's own facts.
CREATE OR REPLACE FUNCTION memory.link_facts(from_fact uuid, to_fact uuid, relation text, strength real DEFAULT 1)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    s real := memory._check_unit_interval('strength', coalesce(strength, 1));
BEGIN
    IF relation IS NULL OR relation !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid relation'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'a relation is a lower-case word of up to 63 characters: a letter, then letters, digits or _ (e.g. causes, part_of)';
    END IF;
    IF from_fact IS NULL OR NOT EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = from_fact AND f.agent_id = me) THEN
        PERFORM memory._fact_not_found(from_fact);
    END IF;
    IF to_fact IS NULL OR NOT EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = to_fact AND f.agent_id = me) THEN
        PERFORM memory._fact_not_found(to_fact);
    END IF;
    IF from_fact = to_fact THEN
        RAISE EXCEPTION 'a fact cannot be linked to itself'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'link two different facts';
    END IF;
    -- Linking again replaces the strength.
    DELETE FROM memory.fact_links AS l
    WHERE l.agent_id = me AND l.from_fact = link_facts.from_fact AND l.to_fact = link_facts.to_fact
      AND l.relation = link_facts.relation;
    INSERT INTO memory.fact_links (agent_id, from_fact, to_fact, relation, strength)
    VALUES (me, from_fact, to_fact, relation, s);
END
$$;

COMMENT ON FUNCTION memory.link_facts(uuid, uuid, text, real) IS
'Links two of the current agent''s facts with a typed relation (lower-case word) and a strength 0..1; linking the same pair and relation again replaces the strength. Raises P0002 (unknown fact), 22023 (bad relation, self link), 22003 (strength).';
