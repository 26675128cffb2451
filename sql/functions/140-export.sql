-- Export and import of an agent (issue 7): newline-delimited JSON, docs/portability.md.
--
--   memory.export_agent(agent)  -> SETOF text: line 1 a header, then one JSON object
--       per line with a "type". scripts/export-agent.sh (make export) writes it to a file.
--   memory.import_agent(export, agent_name, db_role, remap_ids) -> jsonb: reads such a
--       file into this or another database, under the same or another agent name.
--       Everything is validated before anything is written, in one transaction: a
--       malformed file leaves nothing behind. Idempotent: rows already there are kept.
--
-- Header: {"format": "agent-memory-export", "version": 1, "agent": {"name", "agent_id"},
-- "models": [{"name", "dimensions", "max_tokens", "chunk_tokens", "chunk_overlap"}],
-- "counts": {type: n}, "lines": n, "sha256": hex of the UTF-8 bytes of every line after
-- the header, each with its newline} (so `tail -n +2 file | sha256sum` checks it).
-- Body, in this order, each ordered by id: agent_state, project, episode, fact,
-- fact_link, block, block_version (the full history), checkpoint, working_memory (live
-- items), instance, decision, vote, embedding (per episode or fact and model: the
-- pooled vector and every chunk vector with its span, for the current text only).
-- Times are ISO 8601 in UTC; reals are written with the shortest exact digits, so a
-- round trip is lossless. Both functions are for operators only.
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._remap_id(target uuid, id uuid)
RETURNS uuid
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(set_byte(set_byte(x.h, 6, (get_byte(x.h, 6) & 15) | 128), 8, (get_byte(x.h, 8) & 63) | 128), 'hex')::uuid
    FROM (
        SELECT substring(sha256(convert_to('agent-memory-remap:' || target::text || ':' || id::text, 'UTF8')) FROM 1 FOR 16) AS h
    ) AS x
$$;

COMMENT ON FUNCTION memory._remap_id(uuid, uuid) IS
'Private (import_agent): the id an imported row gets when ids are remapped: a version-8 uuid from the first 16 bytes of sha256(''agent-memory-remap:<target agent id>:<old id>''). Deterministic, so importing the same file again finds the same rows. Raises nothing (NULL in, NULL out).';

CREATE OR REPLACE FUNCTION memory._import_id(remap boolean, target uuid, id text)
RETURNS uuid
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN id IS NULL THEN NULL WHEN remap THEN memory._remap_id(target, id::uuid) ELSE id::uuid END
$$;

COMMENT ON FUNCTION memory._import_id(boolean, uuid, text) IS
'Private (import_agent): an id of the export as it is stored: as written, or _remap_id(target, id) when remap. Raises 22P02 for a malformed uuid.';

-- References to checkpoints inside a checkpoint's state (written by restore_checkpoint)
-- follow the checkpoints' ids when they are remapped.
CREATE OR REPLACE FUNCTION memory._import_state(remap boolean, target uuid, state jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN NOT remap OR jsonb_typeof(state) <> 'object' THEN state ELSE (
        SELECT coalesce(jsonb_object_agg(e.k, CASE
            WHEN e.k IN ('restoring', 'restored_from', 'pre_restore_checkpoint_id')
                 AND jsonb_typeof(e.v) = 'string'
                 AND (e.v #>> '{}') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN to_jsonb(memory._remap_id(target, (e.v #>> '{}')::uuid))
            ELSE e.v
        END), '{}'::jsonb)
        FROM jsonb_each(state) AS e (k, v)
    ) END
$$;

COMMENT ON FUNCTION memory._import_state(boolean, uuid, jsonb) IS
'Private (import_agent): a checkpoint state as stored: when remap, the checkpoint ids it names (restoring, restored_from, pre_restore_checkpoint_id, written by restore_checkpoint) are remapped like the checkpoints. Raises nothing.';

-- The fields of each record type: key, JSON type (uuid, time and sha are strings of
-- that form; any is any JSON value) and whether it may be null.
CREATE OR REPLACE FUNCTION memory._export_fields()
RETURNS TABLE (rtype text, key text, jtype text, nullable boolean)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT v.rtype, v.key, v.jtype, v.nullable
    FROM (VALUES
        ('agent_state', 'current_focus', 'string', true), ('agent_state', 'emotional_vector', 'object', true),
        ('agent_state', 'working_context', 'any', true), ('agent_state', 'last_heartbeat', 'time', false),
        ('agent_state', 'updated_at', 'time', false),
        ('project', 'project_id', 'uuid', false), ('project', 'name', 'string', false), ('project', 'dna', 'string', true),
        ('project', 'status', 'string', false), ('project', 'description', 'string', true),
        ('project', 'metadata', 'object', false), ('project', 'created_at', 'time', false),
        ('project', 'updated_at', 'time', false),
        ('episode', 'episode_id', 'uuid', false), ('episode', 'content', 'string', false),
        ('episode', 'importance', 'number', false), ('episode', 'tags', 'array', false),
        ('episode', 'project_id', 'uuid', true), ('episode', 'session_id', 'string', true),
        ('episode', 'occurred_at', 'time', false), ('episode', 'metadata', 'object', false),
        ('episode', 'recorded_at', 'time', false), ('episode', 'updated_at', 'time', false),
        ('episode', 'access_count', 'number', false), ('episode', 'last_accessed_at', 'time', true),
        ('episode', 'content_sha256', 'sha', false),
        ('fact', 'fact_id', 'uuid', false), ('fact', 'concept', 'string', false), ('fact', 'statement', 'string', false),
        ('fact', 'confidence', 'number', false), ('fact', 'source_episodes', 'array', false),
        ('fact', 'valid_from', 'time', false), ('fact', 'valid_to', 'time', true), ('fact', 'recorded_at', 'time', false),
        ('fact', 'invalidated_at', 'time', true), ('fact', 'superseded_by', 'uuid', true),
        ('fact', 'metadata', 'object', false), ('fact', 'content_sha256', 'sha', false),
        ('fact_link', 'from_fact', 'uuid', false), ('fact_link', 'to_fact', 'uuid', false),
        ('fact_link', 'relation', 'string', false), ('fact_link', 'strength', 'number', false),
        ('fact_link', 'created_at', 'time', false),
        ('block', 'block_id', 'uuid', false), ('block', 'label', 'string', false), ('block', 'value', 'string', false),
        ('block', 'description', 'string', true), ('block', 'char_limit', 'number', false),
        ('block', 'read_only', 'boolean', false), ('block', 'version', 'number', false),
        ('block', 'created_at', 'time', false), ('block', 'updated_at', 'time', false),
        ('block', 'updated_by', 'string', false),
        ('block_version', 'block_id', 'uuid', false), ('block_version', 'version', 'number', false),
        ('block_version', 'label', 'string', false), ('block_version', 'value', 'string', false),
        ('block_version', 'description', 'string', true), ('block_version', 'char_limit', 'number', false),
        ('block_version', 'read_only', 'boolean', false), ('block_version', 'changed_at', 'time', false),
        ('block_version', 'changed_by', 'string', false),
        ('checkpoint', 'checkpoint_id', 'uuid', false), ('checkpoint', 'kind', 'string', false),
        ('checkpoint', 'state', 'object', false), ('checkpoint', 'blocks', 'array', false),
        ('checkpoint', 'identity_hash', 'sha', false), ('checkpoint', 'continuity_score', 'number', true),
        ('checkpoint', 'created_at', 'time', false), ('checkpoint', 'created_by', 'string', false),
        ('working_memory', 'working_id', 'uuid', false), ('working_memory', 'context_type', 'string', false),
        ('working_memory', 'key', 'string', true), ('working_memory', 'content', 'any', false),
        ('working_memory', 'priority', 'string', false), ('working_memory', 'created_at', 'time', false),
        ('working_memory', 'updated_at', 'time', false), ('working_memory', 'expires_at', 'time', false),
        ('instance', 'instance_id', 'uuid', false), ('instance', 'name', 'string', false),
        ('instance', 'instance_type', 'string', false), ('instance', 'location', 'string', true),
        ('instance', 'capabilities', 'object', false), ('instance', 'status', 'string', false),
        ('instance', 'registered_at', 'time', false), ('instance', 'last_heartbeat', 'time', false),
        ('decision', 'decision_id', 'uuid', false), ('decision', 'topic', 'string', false),
        ('decision', 'proposal', 'any', false), ('decision', 'status', 'string', false),
        ('decision', 'created_at', 'time', false), ('decision', 'resolved_at', 'time', true),
        ('decision', 'electorate', 'number', true), ('decision', 'approvals', 'number', false),
        ('decision', 'rejections', 'number', false),
        ('vote', 'decision_id', 'uuid', false), ('vote', 'instance_id', 'uuid', false),
        ('vote', 'approve', 'boolean', false), ('vote', 'voted_at', 'time', false),
        ('embedding', 'owner', 'string', false), ('embedding', 'owner_id', 'uuid', false),
        ('embedding', 'model', 'string', false), ('embedding', 'content_sha256', 'sha', false),
        ('embedding', 'chunk_count', 'number', false), ('embedding', 'pooled', 'array', false),
        ('embedding', 'updated_at', 'time', false), ('embedding', 'chunks', 'array', false),
        ('idempotency_key', 'idempotency_key', 'string', false), ('idempotency_key', 'operation', 'string', false),
        ('idempotency_key', 'request_sha256', 'sha', false), ('idempotency_key', 'result_id', 'uuid', false),
        ('idempotency_key', 'created_at', 'time', false)
    ) AS v (rtype, key, jtype, nullable)
    UNION ALL
    -- every record carries the id of the agent it belongs to
    SELECT t.rtype, 'agent_id', 'uuid', false
    FROM unnest(ARRAY[
        'agent_state', 'project', 'episode', 'fact', 'fact_link', 'block', 'block_version', 'checkpoint',
        'working_memory', 'instance', 'decision', 'vote', 'embedding', 'idempotency_key'
    ]) AS t (rtype)
$$;

COMMENT ON FUNCTION memory._export_fields() IS
'Private (export format version 1): every field of every record type with its JSON type (uuid, time and sha are strings of that form; any is any value) and whether it may be null. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._export_types()
RETURNS text []
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY[
        'agent_state', 'project', 'episode', 'fact', 'fact_link', 'block', 'block_version', 'checkpoint',
        'working_memory', 'instance', 'decision', 'vote', 'embedding', 'idempotency_key'
    ]
$$;

COMMENT ON FUNCTION memory._export_types() IS
'Private (export format version 1): the record types, in the order they appear in an export. Raises nothing.';

-- The record types whose ids an import keeps (or remaps), with their table and id
-- column (the id's JSON key has the column's name): the import's collision check is
-- generated from this list.
CREATE OR REPLACE FUNCTION memory._export_keyed_types()
RETURNS TABLE (rtype text, tbl text, id text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('episode', 'episodes', 'episode_id'), ('fact', 'facts', 'fact_id'), ('project', 'projects', 'project_id'),
           ('block', 'blocks', 'block_id'), ('checkpoint', 'checkpoints', 'checkpoint_id'),
           ('working_memory', 'working_memory', 'working_id'), ('instance', 'instances', 'instance_id'),
           ('decision', 'decisions', 'decision_id')
$$;

COMMENT ON FUNCTION memory._export_keyed_types() IS
'Private (export format version 1): the record types whose ids an import keeps or remaps, with the table of memory holding them and its id column (also the id''s JSON key). Raises nothing.';


-- ---------------------------------------------------------------------------
-- Export
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.export_agent(agent text)
RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET timezone = 'UTC'
SET extra_float_digits = 1
AS $$
DECLARE
    me uuid;
    agent_name text;
    counts json;
    models json;
    n bigint;
    body_sha text;
BEGIN
    SELECT a.agent_id, a.name INTO me, agent_name FROM memory.agents AS a WHERE a.name = agent;
    IF me IS NULL THEN
        RAISE EXCEPTION 'agent % does not exist', agent
            USING ERRCODE = 'no_data_found', HINT = 'SELECT name FROM memory.agents lists the agents';
    END IF;
    PERFORM memory._drop_temp('export_lines');
    CREATE TEMP TABLE export_lines (rank integer, key text, rtype text, line text, model text) ON COMMIT DROP;

    -- One statement, so one snapshot: the file is consistent (no vector without its
    -- owner, no link without its facts) while the agent and the daemon keep writing.
    INSERT INTO pg_temp.export_lines
    SELECT 1, '', 'agent_state', json_build_object(
        'type', 'agent_state', 'agent_id', s.agent_id, 'current_focus', s.current_focus,
        'emotional_vector', s.emotional_vector, 'working_context', s.working_context,
        'last_heartbeat', s.last_heartbeat, 'updated_at', s.updated_at
    )::text, NULL
    FROM memory.agent_state AS s WHERE s.agent_id = me
    UNION ALL
    SELECT 2, p.project_id::text, 'project', json_build_object(
        'type', 'project', 'project_id', p.project_id, 'agent_id', p.agent_id, 'name', p.name, 'dna', p.dna,
        'status', p.status, 'description', p.description, 'metadata', p.metadata, 'created_at', p.created_at,
        'updated_at', p.updated_at
    )::text, NULL
    FROM memory.projects AS p WHERE p.agent_id = me
    UNION ALL
    SELECT 3, e.episode_id::text, 'episode', json_build_object(
        'type', 'episode', 'episode_id', e.episode_id, 'agent_id', e.agent_id, 'content', e.content,
        'importance', e.importance, 'tags', e.tags, 'project_id', e.project_id, 'session_id', e.session_id,
        'occurred_at', e.occurred_at, 'metadata', e.metadata, 'recorded_at', e.recorded_at, 'updated_at', e.updated_at,
        'access_count', e.access_count, 'last_accessed_at', e.last_accessed_at,
        'content_sha256', encode(e.content_sha256, 'hex')
    )::text, NULL
    FROM memory._export_episodes(me) AS e
    UNION ALL
    SELECT 4, f.fact_id::text, 'fact', json_build_object(
        'type', 'fact', 'fact_id', f.fact_id, 'agent_id', f.agent_id, 'concept', f.concept, 'statement', f.statement,
        'confidence', f.confidence, 'source_episodes', f.source_episodes, 'valid_from', f.valid_from,
        'valid_to', f.valid_to, 'recorded_at', f.recorded_at, 'invalidated_at', f.invalidated_at,
        'superseded_by', f.superseded_by, 'metadata', f.metadata, 'content_sha256', encode(f.content_sha256, 'hex')
    )::text, NULL
    FROM memory.facts AS f WHERE f.agent_id = me
    UNION ALL
    SELECT 5, l.from_fact || ':' || l.to_fact || ':' || l.relation, 'fact_link', json_build_object(
        'type', 'fact_link', 'agent_id', l.agent_id, 'from_fact', l.from_fact, 'to_fact', l.to_fact,
        'relation', l.relation, 'strength', l.strength, 'created_at', l.created_at
    )::text, NULL
    FROM memory.fact_links AS l WHERE l.agent_id = me
    UNION ALL
    SELECT 6, b.block_id::text, 'block', json_build_object(
        'type', 'block', 'block_id', b.block_id, 'agent_id', b.agent_id, 'label', b.label, 'value', b.value,
        'description', b.description, 'char_limit', b.char_limit, 'read_only', b.read_only, 'version', b.version,
        'created_at', b.created_at, 'updated_at', b.updated_at, 'updated_by', b.updated_by
    )::text, NULL
    FROM memory.blocks AS b WHERE b.agent_id = me
    UNION ALL
    SELECT 7, h.block_id || ':' || lpad(h.version::text, 10, '0'), 'block_version', json_build_object(
        'type', 'block_version', 'block_id', h.block_id, 'agent_id', h.agent_id, 'version', h.version,
        'label', h.label, 'value', h.value, 'description', h.description, 'char_limit', h.char_limit,
        'read_only', h.read_only, 'changed_at', h.changed_at, 'changed_by', h.changed_by
    )::text, NULL
    FROM memory.block_history AS h WHERE h.agent_id = me
    UNION ALL
    SELECT 8, c.checkpoint_id::text, 'checkpoint', json_build_object(
        'type', 'checkpoint', 'checkpoint_id', c.checkpoint_id, 'agent_id', c.agent_id, 'kind', c.kind,
        'state', c.state, 'blocks', c.blocks, 'identity_hash', c.identity_hash,
        'continuity_score', c.continuity_score, 'created_at', c.created_at, 'created_by', c.created_by
    )::text, NULL
    FROM memory.checkpoints AS c WHERE c.agent_id = me
    UNION ALL
    SELECT 9, w.working_id::text, 'working_memory', json_build_object(
        'type', 'working_memory', 'working_id', w.working_id, 'agent_id', w.agent_id,
        'context_type', w.context_type, 'key', w.key, 'content', w.content, 'priority', w.priority,
        'created_at', w.created_at, 'updated_at', w.updated_at, 'expires_at', w.expires_at
    )::text, NULL
    FROM memory.working_memory AS w WHERE w.agent_id = me AND w.expires_at > clock_timestamp()
    UNION ALL
    SELECT 10, i.instance_id::text, 'instance', json_build_object(
        'type', 'instance', 'instance_id', i.instance_id, 'agent_id', i.agent_id, 'name', i.name,
        'instance_type', i.instance_type, 'location', i.location, 'capabilities', i.capabilities,
        'status', i.status, 'registered_at', i.registered_at, 'last_heartbeat', i.last_heartbeat
    )::text, NULL
    FROM memory.instances AS i WHERE i.agent_id = me
    UNION ALL
    SELECT 11, d.decision_id::text, 'decision', json_build_object(
        'type', 'decision', 'decision_id', d.decision_id, 'agent_id', d.agent_id, 'topic', d.topic,
        'proposal', d.proposal, 'status', d.status, 'created_at', d.created_at, 'resolved_at', d.resolved_at,
        'electorate', d.electorate, 'approvals', d.approvals, 'rejections', d.rejections
    )::text, NULL
    FROM memory.decisions AS d WHERE d.agent_id = me
    UNION ALL
    SELECT 12, v.decision_id || ':' || v.instance_id, 'vote', json_build_object(
        'type', 'vote', 'decision_id', v.decision_id, 'instance_id', v.instance_id, 'agent_id', v.agent_id,
        'approve', v.approve, 'voted_at', v.voted_at
    )::text, NULL
    FROM memory.votes AS v WHERE v.agent_id = me
    UNION ALL
    -- vectors of the current text only: a pooled vector and its chunks with the hash
    -- of the owner's text as it is now
    SELECT 13, o.owner || ':' || o.owner_id || ':' || m.name, 'embedding', json_build_object(
        'type', 'embedding', 'agent_id', me, 'owner', o.owner, 'owner_id', o.owner_id, 'model', m.name,
        'content_sha256', encode(p.content_sha256, 'hex'), 'chunk_count', p.chunk_count,
        'pooled', p.embedding::text::json, 'updated_at', p.updated_at,
        'chunks', (
            SELECT json_agg(json_build_object(
                'index', c.chunk_index, 'start', c.char_start, 'end', c.char_end, 'embedded_at', c.embedded_at,
                'embedding', c.embedding::text::json
            ) ORDER BY c.chunk_index)
            FROM memory.chunks AS c
            WHERE c.model_id = p.model_id AND c.content_sha256 = p.content_sha256
              AND (c.episode_id = p.episode_id OR c.fact_id = p.fact_id)
        )
    )::text, m.name
    FROM memory.pooled_embeddings AS p
    JOIN memory.embedding_models AS m ON m.model_id = p.model_id
    CROSS JOIN LATERAL (
        SELECT 'episode'::text AS owner, e.episode_id AS owner_id, e.content_sha256 AS sha
        FROM memory.episodes AS e WHERE e.episode_id = p.episode_id
        UNION ALL
        SELECT 'fact', f.fact_id, f.content_sha256 FROM memory.facts AS f WHERE f.fact_id = p.fact_id
    ) AS o
    WHERE p.agent_id = me
      AND p.content_sha256 = o.sha
      AND p.chunk_count = (
          SELECT count(*) FROM memory.chunks AS c
          WHERE c.model_id = p.model_id AND c.content_sha256 = p.content_sha256
            AND (c.episode_id = p.episode_id OR c.fact_id = p.fact_id)
      )
    UNION ALL
    -- completed idempotency keys, so that a retry after an import still finds its write
    SELECT 14, k.idempotency_key, 'idempotency_key', json_build_object(
        'type', 'idempotency_key', 'agent_id', k.agent_id, 'idempotency_key', k.idempotency_key,
        'operation', k.operation, 'request_sha256', encode(k.request_sha256, 'hex'), 'result_id', k.result_id,
        'created_at', k.created_at
    )::text, NULL
    FROM memory.idempotency_keys AS k WHERE k.agent_id = me AND k.result_id IS NOT NULL;

    SELECT json_object_agg(t.rtype, coalesce(x.c, 0) ORDER BY t.ord), sum(coalesce(x.c, 0))
    INTO counts, n
    FROM unnest(memory._export_types()) WITH ORDINALITY AS t (rtype, ord)
    LEFT JOIN (SELECT l.rtype, count(*) AS c FROM pg_temp.export_lines AS l GROUP BY l.rtype) AS x ON x.rtype = t.rtype;

    SELECT coalesce(json_agg(json_build_object(
        'name', m.name, 'dimensions', m.dimensions, 'max_tokens', m.max_tokens, 'chunk_tokens', m.chunk_tokens,
        'chunk_overlap', m.chunk_overlap
    ) ORDER BY m.name), '[]'::json)
    INTO models
    FROM memory.embedding_models AS m
    WHERE EXISTS (SELECT 1 FROM pg_temp.export_lines AS l WHERE l.model = m.name);

    SELECT encode(sha256(convert_to(coalesce(string_agg(l.line || E'\n', '' ORDER BY l.rank, l.key COLLATE "C"), ''), 'UTF8')), 'hex')
    INTO body_sha
    FROM pg_temp.export_lines AS l;

    RETURN NEXT json_build_object(
        'format', 'agent-memory-export', 'version', 1,
        'agent', json_build_object('name', agent_name, 'agent_id', me),
        'models', models, 'counts', counts, 'lines', n, 'sha256', body_sha
    )::text;
    RETURN QUERY SELECT l.line FROM pg_temp.export_lines AS l ORDER BY l.rank, l.key COLLATE "C";
END
$$;

COMMENT ON FUNCTION memory.export_agent(text) IS
'Operators: the whole memory of agent as newline-delimited JSON, one line per row: first a header {format: agent-memory-export, version: 1, agent: {name, agent_id}, models: [{name, dimensions, max_tokens, chunk_tokens, chunk_overlap}], counts: {type: n}, lines, sha256 of the lines after it (each with its newline)}, then records with a "type": agent_state, project, episode, fact (validity interval, supersession), fact_link, block, block_version (full history), checkpoint, working_memory (live items), instance, decision, vote, embedding (pooled and chunk vectors of the current text, with their model), idempotency_key (completed keys of remember, learn_fact and set_working_memory with the id they returned). Each type ordered by id; times ISO 8601 in UTC; exact reals: two exports of the same memory are byte-identical. scripts/export-agent.sh (make export) writes it to a file. Raises P0002 (no such agent).';
