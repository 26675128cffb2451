-- Instances and decisions: a registry of an agent's running instances with
-- heartbeats, and proposals resolved by a majority of its live instances.
--
-- PostgreSQL (one primary) is the arbiter: every vote is a row written in one
-- serialized transaction on the primary, and the outcome is whatever that transaction
-- computes. This is majority voting recorded in a transactional database. It is NOT
-- Byzantine fault tolerance: an instance that lies, or an agent that writes its own
-- instances' heartbeats, is believed. See docs/decisions.md ("Instances and decisions").
SET ROLE memory_owner;

-- The one liveness threshold, used by votes, the electorate and the
-- memory-instance-liveness job. A function rather than a setting: a setting could be
-- changed by any session (SET), and an agent must not be able to revive its stale
-- instances by widening the window.
CREATE OR REPLACE FUNCTION memory.instance_liveness_threshold()
RETURNS interval
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '2 minutes' $$;

COMMENT ON FUNCTION memory.instance_liveness_threshold() IS
'The liveness threshold of instances: 2 minutes. An instance is live when its status is active and its last heartbeat is at most this old; instances should call instance_heartbeat about every 30 seconds. The memory-instance-liveness job marks older ones offline. Raises nothing.';

-- Private: is an instance (status, last heartbeat) live now?
CREATE OR REPLACE FUNCTION memory._instance_is_live(status text, last_heartbeat timestamptz)
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT status = 'active' AND last_heartbeat >= now() - memory.instance_liveness_threshold()
$$;

COMMENT ON FUNCTION memory._instance_is_live(text, timestamptz) IS
'Private: true when status is active and last_heartbeat is within memory.instance_liveness_threshold() of now(). Raises nothing.';

CREATE OR REPLACE FUNCTION memory.register_instance(
    name text,
    instance_type text DEFAULT 'primary',
    location text DEFAULT NULL,
    capabilities jsonb DEFAULT '{}'
)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    me uuid := memory._require_agent();
    the_id uuid;
BEGIN
    PERFORM memory._check_not_null('name', register_instance.name, 'name the instance, e.g. nexus-terminal-1');
    PERFORM memory._check_not_null('instance_type', register_instance.instance_type, 'omit it for primary');
    PERFORM memory._check_not_null('capabilities', register_instance.capabilities, 'omit it for {}');
    PERFORM memory._check_pattern('name', register_instance.name, '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$',
                                  'a letter or digit followed by up to 99 letters, digits, _ . : or - (e.g. nexus-terminal-1)');
    IF register_instance.instance_type NOT IN ('primary', 'worker', 'specialized', 'replica') THEN
        RAISE EXCEPTION 'unknown instance_type'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', left(quote_literal(register_instance.instance_type), 80)),
                  HINT = 'one of primary, worker, specialized, replica';
    END IF;
    PERFORM memory._check_length('location', register_instance.location, 200, 'shorten the location');
    PERFORM memory._check_json_object('capabilities', register_instance.capabilities, 'e.g. {"gpu": false, "tools": ["psql"]}');
    PERFORM memory._check_json('capabilities', register_instance.capabilities, 65536, 'describe capabilities briefly');
    -- Re-registering a name (an instance that restarts) keeps its id and revives it.
    INSERT INTO memory.instances AS i (agent_id, name, instance_type, location, capabilities, status, last_heartbeat)
    VALUES (me, register_instance.name, register_instance.instance_type, register_instance.location,
            register_instance.capabilities, 'active', now())
    ON CONFLICT (agent_id, name) DO UPDATE
        SET instance_type = excluded.instance_type,
            location = excluded.location,
            capabilities = excluded.capabilities,
            status = 'active',
            last_heartbeat = now()
    RETURNING i.instance_id INTO the_id;
    RETURN the_id;
END
$$;

COMMENT ON FUNCTION memory.register_instance(text, text, text, jsonb) IS
'Registers a running instance of the current agent (or re-registers one of the same name: same id, new type, location and capabilities, status active, fresh heartbeat) and returns its id. instance_type is one of primary, worker, specialized, replica. Raises 42501 (not an agent), 22004 (NULL name, instance_type or capabilities), 22023 (bad name, unknown instance_type, capabilities not an object), 22001 (location over 200 characters), 54000 (capabilities over 64 kB).';

CREATE OR REPLACE FUNCTION memory.instance_heartbeat(instance_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_not_null('instance_id', instance_heartbeat.instance_id, 'pass the id register_instance returned');
    -- An offline instance that beats again is active again; standby stays standby.
    UPDATE memory.instances AS i
    SET last_heartbeat = now(),
        status = CASE WHEN i.status = 'offline' THEN 'active' ELSE i.status END
    WHERE i.instance_id = instance_heartbeat.instance_id AND i.agent_id = me;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'instance not found'
            USING ERRCODE = 'no_data_found',
                  HINT = 'register the instance first with memory.register_instance(name)';
    END IF;
END
$$;

COMMENT ON FUNCTION memory.instance_heartbeat(uuid) IS
'Records a heartbeat of the current agent''s instance instance_id (send one about every 30 seconds; after memory.instance_liveness_threshold() without one an instance is not live); an offline instance becomes active again. Raises 42501 (not an agent), 22004 (NULL id), P0002 (no such instance of this agent: another agent''s instance gives the very same error).';

CREATE OR REPLACE FUNCTION memory.propose_decision(topic text, proposal jsonb)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    new_id uuid;
BEGIN
    PERFORM memory._check_not_null('topic', propose_decision.topic, 'say in a few words what is to be decided');
    PERFORM memory._check_not_null('proposal', propose_decision.proposal, 'pass a JSON proposal, e.g. {"action": "..."}');
    PERFORM memory._check_length('topic', propose_decision.topic, 1000, 'put the details in proposal');
    IF propose_decision.topic !~ '\S' THEN
        RAISE EXCEPTION 'topic must not be blank'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'say in a few words what is to be decided';
    END IF;
    PERFORM memory._check_json('proposal', propose_decision.proposal, 1048576, 'reference large material instead of embedding it');
    INSERT INTO memory.decisions (agent_id, topic, proposal, electorate)
    VALUES (
        me, propose_decision.topic, propose_decision.proposal,
        (SELECT count(*) FROM memory.instances AS i
         WHERE i.agent_id = me AND memory._instance_is_live(i.status, i.last_heartbeat))
    )
    RETURNING decision_id INTO new_id;
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory.propose_decision(text, jsonb) IS
'Opens a decision of the current agent on topic with proposal (JSON up to 1 MB) and returns its id; its instances then vote with memory.vote. SECURITY DEFINER: agents cannot write decisions directly. Raises 42501 (not an agent), 22004 (NULL topic or proposal), 22023 (blank topic), 22001 (topic over 1000 characters), 54000 (proposal over 1 MB).';

CREATE OR REPLACE FUNCTION memory.vote(decision_id uuid, instance_id uuid, approve boolean)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    d memory.decisions;
    inst memory.instances;
    n_electorate integer;
    n_yes integer;
    n_no integer;
    new_status text;
BEGIN
    PERFORM memory._check_not_null('decision_id', vote.decision_id, 'pass the id propose_decision returned');
    PERFORM memory._check_not_null('instance_id', vote.instance_id, 'pass the id register_instance returned');
    PERFORM memory._check_not_null('approve', vote.approve, 'approve is true (for) or false (against)');
    -- Another agent's decision or instance is not found, exactly like a missing one.
    -- The row lock serializes the votes on one decision.
    SELECT dd.* INTO d FROM memory.decisions AS dd
    WHERE dd.decision_id = vote.decision_id AND dd.agent_id = me
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'decision not found'
            USING ERRCODE = 'no_data_found',
                  HINT = 'SELECT decision_id, topic, status FROM memory.decisions lists your decisions';
    END IF;
    SELECT ii.* INTO inst FROM memory.instances AS ii
    WHERE ii.instance_id = vote.instance_id AND ii.agent_id = me;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'instance not found'
            USING ERRCODE = 'no_data_found',
                  HINT = 'vote with one of your instances (memory.register_instance returns their ids)';
    END IF;
    IF d.status <> 'open' THEN
        RAISE EXCEPTION 'decision is already %', d.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('resolved at %s', d.resolved_at),
                  HINT = 'votes are taken only on open decisions; propose a new decision to revisit it';
    END IF;
    IF NOT memory._instance_is_live(inst.status, inst.last_heartbeat) THEN
        RAISE EXCEPTION 'instance is not live'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('status %s, last heartbeat %s', inst.status, inst.last_heartbeat),
                  HINT = format('send memory.instance_heartbeat(instance_id) first; an instance is live for %s after a heartbeat',
                                memory.instance_liveness_threshold());
    END IF;
    IF EXISTS (SELECT 1 FROM memory.votes AS v WHERE v.decision_id = d.decision_id AND v.instance_id = inst.instance_id) THEN
        RAISE EXCEPTION 'instance has already voted on this decision'
            USING ERRCODE = 'unique_violation', HINT = 'each instance votes once per decision; a vote cannot be changed';
    END IF;

    INSERT INTO memory.votes (decision_id, instance_id, agent_id, approve)
    VALUES (d.decision_id, inst.instance_id, me, vote.approve);

    -- The electorate: the agent's live instances, plus the instances that already
    -- voted (a vote once cast stands even if its instance goes quiet).
    SELECT count(*) INTO n_electorate
    FROM memory.instances AS i
    WHERE i.agent_id = me
      AND (memory._instance_is_live(i.status, i.last_heartbeat)
           OR EXISTS (SELECT 1 FROM memory.votes AS v WHERE v.decision_id = d.decision_id AND v.instance_id = i.instance_id));
    SELECT count(*) FILTER (WHERE v.approve), count(*) FILTER (WHERE NOT v.approve)
    INTO n_yes, n_no
    FROM memory.votes AS v
    WHERE v.decision_id = d.decision_id;

    -- Approved by a strict majority; rejected as soon as the approvals plus every vote
    -- still outstanding can no longer be a strict majority (2 * rejections >= electorate).
    new_status := CASE
        WHEN 2 * n_yes > n_electorate THEN 'approved'
        WHEN 2 * n_no >= n_electorate THEN 'rejected'
        ELSE 'open'
    END;
    UPDATE memory.decisions AS dd
    SET status = new_status,
        approvals = n_yes,
        rejections = n_no,
        electorate = n_electorate,
        resolved_at = CASE WHEN new_status <> 'open' THEN now() END
    WHERE dd.decision_id = d.decision_id;
    RETURN new_status;
END
$$;

COMMENT ON FUNCTION memory.vote(uuid, uuid, boolean) IS
'Casts the vote of the current agent''s instance instance_id on its open decision decision_id (approve true = for) and returns the decision''s status after the vote: approved when approvals > electorate / 2, rejected as soon as a majority of approvals is out of reach (rejections >= electorate / 2), else open. The electorate is the agent''s live instances (status active, heartbeat within memory.instance_liveness_threshold()) plus those that already voted. PostgreSQL is the arbiter; this is not Byzantine fault tolerance. SECURITY DEFINER. Raises 42501 (not an agent), 22004 (NULL argument), P0002 (no such decision or instance of this agent: another agent''s id gives the very same error), 55000 (decision already resolved; instance not live), 23505 (the instance already voted).';
