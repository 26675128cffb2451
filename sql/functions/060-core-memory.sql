-- Core memory and identity: labelled blocks with history, the identity hash,
-- checkpoints and restore, the agent's heartbeat. Decisions are in docs/decisions.md
-- ("Core memory and identity").
--
-- Who may change what:
--   * an agent changes its own blocks (set_block, or a direct INSERT/UPDATE through
--     RLS); a read-only block is changed only by an admin: a session whose login role
--     (session_user) is a superuser or a member of memory_admin. The rule is a BEFORE
--     UPDATE trigger on memory.blocks, so no function and no direct UPDATE goes round it.
--   * every change (insert or update that changes something) is a full snapshot in
--     memory.block_history, written by an AFTER trigger (SECURITY DEFINER: agents have
--     no INSERT on block_history), with the version the BEFORE trigger set.
--   * checkpoints are written only by SECURITY DEFINER functions (agents have no
--     INSERT on memory.checkpoints), so every checkpoint is a true copy of the blocks.
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Private helpers
-- ---------------------------------------------------------------------------

-- Is the session an administrator? Identity is the login role (session_user), like
-- memory.current_agent(): SET ROLE cannot make an agent an admin.
CREATE OR REPLACE FUNCTION memory._is_admin()
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user), FALSE)
        OR pg_catalog.pg_has_role(session_user, 'memory_admin', 'MEMBER')
$$;

COMMENT ON FUNCTION memory._is_admin() IS
'Private: true when the login role of the session (session_user) is a superuser or a member of memory_admin. Raises nothing.';

-- The identity hash of a block array (the format of memory.checkpoints.blocks and of
-- memory._blocks_snapshot). The serialization is fixed and documented in
-- docs/decisions.md: the blocks sorted by label in byte order (COLLATE "C"), each
-- written as two netstrings, <bytes>:<label>,<bytes>:<value>, where <bytes> is the
-- decimal length in UTF-8 bytes; the sha256 of the UTF-8 bytes of the concatenation,
-- in lower-case hex. No blocks: the sha256 of the empty string.
CREATE OR REPLACE FUNCTION memory._identity_hash(blocks jsonb)
RETURNS text
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to(coalesce(string_agg(
            octet_length(pg_catalog.convert_to(b.elem ->> 'label', 'UTF8'))::text || ':' || (b.elem ->> 'label') || ','
            || octet_length(pg_catalog.convert_to(b.elem ->> 'value', 'UTF8'))::text || ':' || (b.elem ->> 'value') || ',',
            '' ORDER BY (b.elem ->> 'label') COLLATE "C"
        ), ''), 'UTF8')),
        'hex'
    )
    FROM jsonb_array_elements(blocks) AS b (elem)
$$;

COMMENT ON FUNCTION memory._identity_hash(jsonb) IS
'Private: sha256 (lower-case hex) of a block array: blocks in label byte order (COLLATE "C"), each serialized as the netstrings <utf8 bytes>:<label>,<utf8 bytes>:<value>, concatenated; no blocks gives the sha256 of the empty string. Only label and value are identity; description, char_limit, read_only and version are not. Raises nothing (NULL in, NULL out).';

-- The blocks of an agent as a jsonb array sorted by label (the stored form of a
-- checkpoint). SECURITY INVOKER: an agent sees only its own blocks through RLS.
CREATE OR REPLACE FUNCTION memory._blocks_snapshot(agent uuid)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        jsonb_agg(
            jsonb_build_object(
                'label', b.label, 'value', b.value, 'description', b.description,
                'char_limit', b.char_limit, 'read_only', b.read_only, 'version', b.version
            )
            ORDER BY b.label COLLATE "C"
        ),
        '[]'::jsonb
    )
    FROM memory.blocks AS b
    WHERE b.agent_id = agent
$$;

COMMENT ON FUNCTION memory._blocks_snapshot(uuid) IS
'Private: the blocks of agent as a jsonb array of {label, value, description, char_limit, read_only, version}, sorted by label (COLLATE "C"); [] when none. Runs with the caller''s rights (RLS applies). Raises nothing.';

-- Serializes checkpoints and restores of one agent (two concurrent restores would
-- otherwise interleave their writes).
CREATE OR REPLACE FUNCTION memory._lock_identity(agent uuid)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('memory.identity:' || agent::text, 0))
$$;

COMMENT ON FUNCTION memory._lock_identity(uuid) IS
'Private: takes a transaction-level advisory lock on the identity (blocks and checkpoints) of agent. Raises nothing.';

-- Writes a checkpoint of agent's current blocks. Not granted to agents (it takes any
-- agent id): agents reach it through create_checkpoint / restore_checkpoint, which
-- run as memory_owner; operators through auto_checkpoint.
CREATE OR REPLACE FUNCTION memory._take_checkpoint(agent uuid, kind text, state jsonb, continuity real)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    snap jsonb := memory._blocks_snapshot(agent);
    new_id uuid;
BEGIN
    -- clock_timestamp: several checkpoints of one transaction (pre_restore, restored)
    -- keep their order, and "the last checkpoint" is well defined.
    INSERT INTO memory.checkpoints (agent_id, kind, state, blocks, identity_hash, continuity_score, created_at)
    VALUES (agent, kind, state, snap, memory._identity_hash(snap), continuity, clock_timestamp())
    RETURNING checkpoint_id INTO new_id;
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory._take_checkpoint(uuid, text, jsonb, real) IS
'Private: inserts a checkpoint of kind for agent with its current blocks, their identity hash, state and continuity (may be NULL). Returns the checkpoint id. Raises the table''s constraint errors (23514) on a bad kind or state.';

-- ---------------------------------------------------------------------------
-- Triggers on memory.blocks
-- ---------------------------------------------------------------------------

-- BEFORE INSERT OR UPDATE: versions, timestamps, author, the read-only rule, and
-- no-op updates skipped. SECURITY INVOKER: it only reads the catalogue.
CREATE OR REPLACE FUNCTION memory._blocks_before_write()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.block_id IS DISTINCT FROM OLD.block_id
            OR NEW.agent_id IS DISTINCT FROM OLD.agent_id
            OR NEW.label IS DISTINCT FROM OLD.label THEN
            RAISE EXCEPTION 'the id, agent and label of a block cannot change'
                USING ERRCODE = 'check_violation',
                      DETAIL = format('block %s', OLD.label),
                      HINT = 'create a new block with memory.set_block(label, value) instead';
        END IF;
        -- Only value, description, char_limit and read_only are content; an update
        -- that changes none of them is skipped: no new version, no history row.
        IF NEW.value IS NOT DISTINCT FROM OLD.value
            AND NEW.description IS NOT DISTINCT FROM OLD.description
            AND NEW.char_limit IS NOT DISTINCT FROM OLD.char_limit
            AND NEW.read_only IS NOT DISTINCT FROM OLD.read_only THEN
            RETURN NULL;
        END IF;
        IF OLD.read_only AND NOT memory._is_admin() THEN
            RAISE EXCEPTION 'block % is read-only', OLD.label
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'a read-only block can be changed (or made writable) only by an operator',
                      HINT = 'ask an operator (a member of memory_admin) to change it, or keep the change in another block';
        END IF;
        NEW.version := OLD.version + 1;
        NEW.created_at := OLD.created_at;
    ELSE
        NEW.version := 1;
        NEW.created_at := now();
    END IF;
    NEW.updated_at := now();
    NEW.updated_by := session_user;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION memory._blocks_before_write() IS
'Trigger (BEFORE INSERT OR UPDATE on memory.blocks): sets version (1, then +1 per change), created_at, updated_at, updated_by (session_user); skips an update that changes none of value, description, char_limit, read_only; refuses a change of a read-only block unless the session is an admin (42501) and a change of block_id, agent_id or label (23514).';

-- AFTER INSERT OR UPDATE: a full snapshot of the new version. SECURITY DEFINER
-- because agents cannot insert into block_history; it copies NEW and nothing else, so
-- it refuses to run as a trigger of any other table (NEW could be anything there).
-- Firing needs no EXECUTE privilege; agents hold none (999-grants.sql).
CREATE OR REPLACE FUNCTION memory._blocks_record_history()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._require_trigger_of('memory._blocks_record_history()', TG_RELID, '{memory.blocks}');
    IF TG_OP = 'INSERT' OR NEW.version IS DISTINCT FROM OLD.version THEN
        INSERT INTO memory.block_history
            (block_id, version, agent_id, label, value, description, char_limit, read_only, changed_at, changed_by)
        VALUES
            (NEW.block_id, NEW.version, NEW.agent_id, NEW.label, NEW.value, NEW.description, NEW.char_limit,
             NEW.read_only, NEW.updated_at, NEW.updated_by);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._blocks_record_history() IS
'Trigger (AFTER INSERT OR UPDATE on memory.blocks, SECURITY DEFINER): writes the new version of the block as a full snapshot to memory.block_history, changed_by = the session_user that made the change. Raises 23505 if a version is written twice, 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER blocks_before_write
BEFORE INSERT OR UPDATE ON memory.blocks
FOR EACH ROW EXECUTE FUNCTION memory._blocks_before_write();

CREATE OR REPLACE TRIGGER blocks_record_history
AFTER INSERT OR UPDATE ON memory.blocks
FOR EACH ROW EXECUTE FUNCTION memory._blocks_record_history();

-- ---------------------------------------------------------------------------
-- Blocks: set_block, get_blocks, block_history
-- ---------------------------------------------------------------------------

-- Argument checks shared by set_block (and usable by operators' tools).
CREATE OR REPLACE FUNCTION memory._check_block_label(label text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._check_not_null('label', label, 'a label is a lower-case letter followed by up to 62 lower-case letters, digits or _ (e.g. persona)');
    PERFORM memory._check_pattern('label', label, '^[a-z][a-z0-9_]{0,62}$',
                                  'a label is a lower-case letter followed by up to 62 lower-case letters, digits or _ (e.g. persona)');
END
$$;

COMMENT ON FUNCTION memory._check_block_label(text) IS
'Private: raises 22004 for a NULL label and 22023 for a label not matching ^[a-z][a-z0-9_]{0,62}$.';

CREATE OR REPLACE FUNCTION memory.set_block(
    label text,
    value text,
    description text DEFAULT NULL,
    char_limit integer DEFAULT 5000,
    read_only boolean DEFAULT FALSE
)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    me uuid := memory._require_agent();
    new_version integer;
BEGIN
    PERFORM memory._check_block_label(set_block.label);
    PERFORM memory._check_not_null('value', set_block.value, 'pass the block''s text; an empty string is allowed');
    PERFORM memory._check_count('char_limit', set_block.char_limit, 1, 100000);
    PERFORM memory._check_not_null('read_only', set_block.read_only, 'pass true or false, or omit it (false)');
    IF char_length(set_block.value) > set_block.char_limit THEN
        RAISE EXCEPTION 'value of block % exceeds its char_limit', set_block.label
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('the value has %s characters, the limit is %s', char_length(set_block.value), set_block.char_limit),
                  HINT = 'shorten the value, or pass a larger char_limit (at most 100000); nothing is truncated';
    END IF;
    PERFORM memory._check_length('description', set_block.description, 2000, 'shorten the description');

    -- Upsert; the triggers set the version, refuse a change of a read-only block
    -- (42501) and skip an update that changes nothing (then no row comes back).
    INSERT INTO memory.blocks AS b (agent_id, label, value, description, char_limit, read_only)
    VALUES (me, set_block.label, set_block.value, set_block.description, set_block.char_limit, set_block.read_only)
    ON CONFLICT (agent_id, label) DO UPDATE
        SET value = excluded.value,
            description = coalesce(excluded.description, b.description),
            char_limit = excluded.char_limit,
            read_only = excluded.read_only
    RETURNING b.version INTO new_version;
    IF new_version IS NULL THEN
        SELECT b.version INTO new_version FROM memory.blocks AS b WHERE b.agent_id = me AND b.label = set_block.label;
    END IF;
    RETURN new_version;
END
$$;

COMMENT ON FUNCTION memory.set_block(text, text, text, integer, boolean) IS
'Creates or changes the current agent''s block label (upsert) and returns its version (1 for a new block, +1 per change; unchanged when nothing changes). value is the whole text (no truncation); description NULL keeps the current description (pass '''' to clear it); char_limit (1..100000, default 5000) and read_only (default false) are set as given. Raises 42501 (not an agent; the block is read-only: only an operator can change it), 22004 (NULL label, value or read_only), 22023 (bad label, char_limit out of range), 22001 (value over char_limit, description over 2000 characters).';

CREATE OR REPLACE FUNCTION memory.get_blocks()
RETURNS TABLE (
    label text,
    value text,
    description text,
    char_limit integer,
    read_only boolean,
    version integer,
    updated_at timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    RETURN QUERY
    SELECT b.label, b.value, b.description, b.char_limit, b.read_only, b.version, b.updated_at
    FROM memory.blocks AS b
    WHERE b.agent_id = me
    ORDER BY b.label COLLATE "C";
END
$$;

COMMENT ON FUNCTION memory.get_blocks() IS
'The current agent''s core memory blocks, sorted by label (COLLATE "C"). Raises 42501 when the session is not an agent.';

CREATE OR REPLACE FUNCTION memory.block_history(label text)
RETURNS TABLE (
    version integer,
    value text,
    changed_at timestamptz,
    changed_by text
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    the_block uuid;
BEGIN
    PERFORM memory._check_block_label(block_history.label);
    SELECT b.block_id INTO the_block FROM memory.blocks AS b WHERE b.agent_id = me AND b.label = block_history.label;
    IF the_block IS NULL THEN
        RAISE EXCEPTION 'no block labelled %', block_history.label
            USING ERRCODE = 'no_data_found',
                  HINT = 'memory.get_blocks() lists your blocks';
    END IF;
    RETURN QUERY
    SELECT h.version, h.value, h.changed_at, h.changed_by
    FROM memory.block_history AS h
    WHERE h.block_id = the_block AND h.agent_id = me
    ORDER BY h.version;
END
$$;

COMMENT ON FUNCTION memory.block_history(text) IS
'Every version of the current agent''s block label, oldest first: version, the full value, when, and the login role that made the change. Raises 42501 (not an agent), 22004 (NULL label), 22023 (malformed label), P0002 (no such block).';

-- ---------------------------------------------------------------------------
-- Identity and checkpoints
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION memory.identity_hash()
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    RETURN memory._identity_hash(memory._blocks_snapshot(me));
END
$$;

COMMENT ON FUNCTION memory.identity_hash() IS
'sha256 (64 lower-case hex digits) of the current agent''s blocks: sorted by label (COLLATE "C"), each serialized as the netstrings <utf8 bytes>:<label>,<utf8 bytes>:<value>, concatenated; see docs/decisions.md. Equal blocks give an equal hash in any session. Raises 42501 when the session is not an agent.';

CREATE OR REPLACE FUNCTION memory.create_checkpoint(kind text DEFAULT 'manual', state jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_not_null('kind', create_checkpoint.kind, 'omit it for kind ''manual''');
    PERFORM memory._check_not_null('state', create_checkpoint.state, 'omit it for an empty state');
    PERFORM memory._check_pattern('kind', create_checkpoint.kind, '^[a-z][a-z0-9_]{0,49}$',
                                  'a kind is a lower-case letter followed by up to 49 lower-case letters, digits or _ (e.g. manual)');
    IF create_checkpoint.kind IN ('auto', 'pre_restore', 'restored') THEN
        RAISE EXCEPTION 'checkpoint kind % is reserved', create_checkpoint.kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'auto, pre_restore and restored are written by the system; use another kind such as manual';
    END IF;
    PERFORM memory._check_json_object('state', create_checkpoint.state, 'wrap the value in an object, e.g. {"note": ...}');
    PERFORM memory._check_json('state', create_checkpoint.state, 1048576, 'keep large material in episodes and reference it');
    PERFORM memory._lock_identity(me);
    RETURN memory._take_checkpoint(me, create_checkpoint.kind, create_checkpoint.state, NULL);
END
$$;

COMMENT ON FUNCTION memory.create_checkpoint(text, jsonb) IS
'Snapshots the current agent''s blocks with their identity hash and the given state (a JSON object, up to 1 MB) as a checkpoint of kind (default manual). Returns the checkpoint id. SECURITY DEFINER: agents cannot write checkpoints directly. Raises 42501 (not an agent), 22004 (NULL kind or state), 22023 (malformed or reserved kind: auto, pre_restore, restored; state not an object), 54000 (state over 1 MB).';

CREATE OR REPLACE FUNCTION memory.restore_checkpoint(checkpoint_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    cp memory.checkpoints;
    admin boolean := memory._is_admin();
    b record;
    cur memory.blocks;
    changed text[] := '{}';
    skipped text[] := '{}';
    extra text[];
    pre_id uuid;
    record_id uuid;
    now_blocks jsonb;
    now_hash text;
    matching integer;
    total integer;
    score numeric;
BEGIN
    PERFORM memory._check_not_null('checkpoint_id', restore_checkpoint.checkpoint_id, 'pass the id create_checkpoint returned');
    -- Another agent's checkpoint is not found, exactly like a missing one.
    SELECT c.* INTO cp FROM memory.checkpoints AS c
    WHERE c.checkpoint_id = restore_checkpoint.checkpoint_id AND c.agent_id = me;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'checkpoint not found'
            USING ERRCODE = 'no_data_found',
                  HINT = 'SELECT checkpoint_id, kind, created_at FROM memory.checkpoints lists your checkpoints';
    END IF;

    PERFORM memory._lock_identity(me);
    PERFORM 1 FROM memory.blocks AS bl WHERE bl.agent_id = me FOR UPDATE;
    pre_id := memory._take_checkpoint(me, 'pre_restore', jsonb_build_object('restoring', cp.checkpoint_id), NULL);

    FOR b IN
        SELECT x.label, x.value, x.description, x.char_limit, x.read_only
        FROM jsonb_to_recordset(cp.blocks) AS x (label text, value text, description text, char_limit integer, read_only boolean)
        ORDER BY x.label COLLATE "C"
    LOOP
        SELECT bl.* INTO cur FROM memory.blocks AS bl WHERE bl.agent_id = me AND bl.label = b.label;
        IF NOT FOUND THEN
            INSERT INTO memory.blocks (agent_id, label, value, description, char_limit, read_only)
            VALUES (me, b.label, b.value, b.description, b.char_limit, b.read_only);
            changed := changed || b.label;
        ELSIF (cur.value, cur.description, cur.char_limit, cur.read_only)
            IS NOT DISTINCT FROM (b.value, b.description, b.char_limit, b.read_only) THEN
            NULL;  -- already as checkpointed
        ELSIF cur.read_only AND NOT admin THEN
            -- Not a loophole: a read-only block stays as it is (the trigger would refuse
            -- anyway); the mismatch shows in continuity_score and skipped_read_only.
            skipped := skipped || b.label;
        ELSE
            UPDATE memory.blocks AS bl
            SET value = b.value, description = b.description, char_limit = b.char_limit, read_only = b.read_only
            WHERE bl.block_id = cur.block_id;
            changed := changed || b.label;
        END IF;
    END LOOP;

    -- Blocks created after the checkpoint are kept (deleting one would delete its
    -- history); they lower the continuity score.
    SELECT coalesce(array_agg(bl.label ORDER BY bl.label COLLATE "C"), '{}') INTO extra
    FROM memory.blocks AS bl
    WHERE bl.agent_id = me
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(cp.blocks) AS e (elem) WHERE e.elem ->> 'label' = bl.label);

    now_blocks := memory._blocks_snapshot(me);
    now_hash := memory._identity_hash(now_blocks);
    -- continuity_score: 1 when the identity hash equals the checkpoint's; otherwise
    -- the share of labels, over the union of the checkpoint's and the current labels,
    -- whose value equals the checkpointed one.
    SELECT count(*) FILTER (WHERE c.elem ->> 'value' IS NOT DISTINCT FROM n.elem ->> 'value' AND c.elem IS NOT NULL AND n.elem IS NOT NULL),
           count(*)
    INTO matching, total
    FROM jsonb_array_elements(cp.blocks) AS c (elem)
    FULL JOIN jsonb_array_elements(now_blocks) AS n (elem) ON c.elem ->> 'label' = n.elem ->> 'label';
    IF now_hash = cp.identity_hash OR total = 0 THEN
        score := 1;
    ELSE
        score := round(matching::numeric / total, 4);
    END IF;

    record_id := memory._take_checkpoint(
        me, 'restored',
        jsonb_build_object(
            'restored_from', cp.checkpoint_id, 'pre_restore_checkpoint_id', pre_id,
            'changed_blocks', to_jsonb(changed), 'skipped_read_only', to_jsonb(skipped), 'extra_blocks', to_jsonb(extra)
        ),
        score::real
    );

    RETURN jsonb_build_object(
        'continuity_score', score,
        'identity_hash', now_hash,
        'restored_blocks', matching,
        'checkpoint_identity_hash', cp.identity_hash,
        'changed_blocks', to_jsonb(changed),
        'skipped_read_only', to_jsonb(skipped),
        'extra_blocks', to_jsonb(extra),
        'pre_restore_checkpoint_id', pre_id,
        'restore_checkpoint_id', record_id,
        'state', cp.state
    );
END
$$;

COMMENT ON FUNCTION memory.restore_checkpoint(uuid) IS
'Returns the current agent''s blocks to the values (value, description, char_limit, read_only) of its checkpoint checkpoint_id. First writes a pre_restore checkpoint, afterwards a restored checkpoint recording the outcome; every block write is versioned in block_history. A read-only block is never changed by a restore (an operator must do it), and blocks created after the checkpoint are kept: both lower the score. Returns {continuity_score: 1 when the identity hash after the restore equals the checkpoint''s, else matching labels / union of labels (4 decimals), identity_hash: after the restore, restored_blocks: number of checkpointed blocks now holding the checkpointed value, checkpoint_identity_hash, changed_blocks, skipped_read_only, extra_blocks, pre_restore_checkpoint_id, restore_checkpoint_id, state: the checkpoint''s state}. SECURITY DEFINER (writes checkpoints). Raises 42501 (not an agent), 22004 (NULL id), P0002 (no such checkpoint of this agent: another agent''s checkpoint gives the very same error).';

-- The agent's own checkpoints, newest first (the MCP server's list_checkpoints).
-- SECURITY INVOKER: row-level security and the explicit agent filter both apply.
CREATE OR REPLACE FUNCTION memory.list_checkpoints(k integer DEFAULT 20)
RETURNS TABLE (
    checkpoint_id uuid,
    kind text,
    state jsonb,
    identity_hash text,
    continuity_score real,
    block_count integer,
    created_at timestamptz,
    created_by text
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_count('k', list_checkpoints.k, 1, 1000);
    RETURN QUERY
    SELECT c.checkpoint_id, c.kind, c.state, c.identity_hash, c.continuity_score,
           jsonb_array_length(c.blocks), c.created_at, c.created_by
    FROM memory.checkpoints AS c
    WHERE c.agent_id = me
    ORDER BY c.created_at DESC, c.checkpoint_id
    LIMIT list_checkpoints.k;
END
$$;

COMMENT ON FUNCTION memory.list_checkpoints(integer) IS
'The current agent''s checkpoints, newest first, at most k (1..1000, default 20): id, kind, state, identity hash, continuity score, number of blocks, when and by which login role. Raises 42501 (not an agent), 22023 (k NULL or outside 1..1000).';

-- ---------------------------------------------------------------------------
-- Agent state
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION memory.heartbeat(
    focus text DEFAULT NULL,
    emotional_vector jsonb DEFAULT NULL,
    working_context jsonb DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_length('focus', heartbeat.focus, 10000, 'summarise the focus; keep details in working memory or episodes');
    PERFORM memory._check_json_object('emotional_vector', heartbeat.emotional_vector,
                                      'e.g. {"curiosity": 0.8, "calm": 0.6}; NULL keeps the current one');
    PERFORM memory._check_json('working_context', heartbeat.working_context, 1048576,
                               'keep large material in working memory or episodes and reference it');
    INSERT INTO memory.agent_state AS s (agent_id, current_focus, emotional_vector, working_context, last_heartbeat, updated_at)
    VALUES (me, heartbeat.focus, heartbeat.emotional_vector, heartbeat.working_context, now(), now())
    ON CONFLICT (agent_id) DO UPDATE
        SET current_focus = coalesce(excluded.current_focus, s.current_focus),
            emotional_vector = coalesce(excluded.emotional_vector, s.emotional_vector),
            working_context = coalesce(excluded.working_context, s.working_context),
            last_heartbeat = now(),
            updated_at = CASE
                WHEN num_nonnulls(heartbeat.focus, heartbeat.emotional_vector, heartbeat.working_context) > 0 THEN now()
                ELSE s.updated_at
            END;
END
$$;

COMMENT ON FUNCTION memory.heartbeat(text, jsonb, jsonb) IS
'Records that the current agent is alive (agent_state.last_heartbeat = now()) and sets its focus (up to 10000 characters), emotional_vector (a JSON object) and working_context (JSON up to 1 MB); a NULL argument keeps the current value. Raises 42501 (not an agent), 22001 (focus too long), 22023 (emotional_vector not an object), 54000 (working_context over 1 MB).';
