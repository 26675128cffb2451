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

-- The record types of format version 1, in the order an export writes them: the
-- table each is read from and written to (NULL: embedding, built from several tables),
-- the fields that identify a record (an export is sorted by them, an import refuses a
-- second record with the same ones) and its fields in the order they are written.
-- Each field is "key jtype", jtype one of string, number, boolean, object, array, any
-- (any JSON value), uuid, time or sha (strings of that form), with "?" when it may be
-- null, then the record type it refers to, when it holds the id of a record of the
-- export. This list is the format: the export's statement, the import's checks and its
-- inserts are generated from it.
CREATE OR REPLACE FUNCTION memory._export_record_types()
RETURNS TABLE (rtype text, rank integer, tbl text, id_fields text [], fields text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES
    ('agent_state', 1, 'agent_state', '{}'::text [],
     'agent_id uuid, current_focus string?, emotional_vector object?, working_context any?, last_heartbeat time, '
     'updated_at time'),
    ('project', 2, 'projects', '{project_id}',
     'project_id uuid, agent_id uuid, name string, dna string?, status string, description string?, metadata object, '
     'created_at time, updated_at time'),
    ('episode', 3, 'episodes', '{episode_id}',
     'episode_id uuid, agent_id uuid, content string, importance number, tags array, project_id uuid? project, '
     'session_id string?, occurred_at time, metadata object, recorded_at time, updated_at time, access_count number, '
     'last_accessed_at time?, content_sha256 sha'),
    ('fact', 4, 'facts', '{fact_id}',
     'fact_id uuid, agent_id uuid, concept string, statement string, confidence number, source_episodes array, '
     'valid_from time, valid_to time?, recorded_at time, invalidated_at time?, superseded_by uuid? fact, metadata object, '
     'content_sha256 sha'),
    ('fact_link', 5, 'fact_links', '{from_fact,to_fact,relation}',
     'agent_id uuid, from_fact uuid fact, to_fact uuid fact, relation string, strength number, created_at time'),
    ('block', 6, 'blocks', '{block_id}',
     'block_id uuid, agent_id uuid, label string, value string, description string?, char_limit number, '
     'read_only boolean, version number, created_at time, updated_at time, updated_by string'),
    ('block_version', 7, 'block_history', '{block_id,version}',
     'block_id uuid block, agent_id uuid, version number, label string, value string, description string?, '
     'char_limit number, read_only boolean, changed_at time, changed_by string'),
    ('checkpoint', 8, 'checkpoints', '{checkpoint_id}',
     'checkpoint_id uuid, agent_id uuid, kind string, state object, blocks array, identity_hash sha, '
     'continuity_score number?, created_at time, created_by string'),
    ('working_memory', 9, 'working_memory', '{working_id}',
     'working_id uuid, agent_id uuid, context_type string, key string?, content any, priority string, '
     'created_at time, updated_at time, expires_at time'),
    ('instance', 10, 'instances', '{instance_id}',
     'instance_id uuid, agent_id uuid, name string, instance_type string, location string?, capabilities object, '
     'status string, registered_at time, last_heartbeat time'),
    ('decision', 11, 'decisions', '{decision_id}',
     'decision_id uuid, agent_id uuid, topic string, proposal any, status string, created_at time, '
     'resolved_at time?, electorate number?, approvals number, rejections number'),
    ('vote', 12, 'votes', '{decision_id,instance_id}',
     'decision_id uuid decision, instance_id uuid instance, agent_id uuid, approve boolean, voted_at time'),
    ('embedding', 13, NULL, '{owner,owner_id,model}',
     'agent_id uuid, owner string, owner_id uuid, model string, content_sha256 sha, chunk_count number, '
     'pooled array, updated_at time, chunks array'),
    ('idempotency_key', 14, 'idempotency_keys', '{idempotency_key}',
     'agent_id uuid, idempotency_key string, operation string, request_sha256 sha, result_id uuid, created_at time')
$$;

COMMENT ON FUNCTION memory._export_record_types() IS
'Private (export format version 1): each record type with its rank in an export, its table (NULL for embedding), the fields that identify a record, and its fields in the order they are written ("key jtype", "?" when nullable). The single description the export and the import are generated from. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._export_fields()
RETURNS TABLE (rtype text, ord bigint, key text, jtype text, nullable boolean, refers_to text, tbl text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.rtype, f.ord, split_part(f.spec, ' ', 1), rtrim(split_part(f.spec, ' ', 2), '?'),
           split_part(f.spec, ' ', 2) LIKE '%?', nullif(split_part(f.spec, ' ', 3), ''), t.tbl
    FROM memory._export_record_types() AS t
    CROSS JOIN LATERAL regexp_split_to_table(t.fields, ',\s*') WITH ORDINALITY AS f (spec, ord)
$$;

COMMENT ON FUNCTION memory._export_fields() IS
'Private (export format version 1): every field of every record type, in the order it is written, with its JSON type (uuid, time and sha are strings of that form; any is any value), whether it may be null, the record type whose id it holds (refers_to, NULL for none), and the record type''s table. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._export_types()
RETURNS text []
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT array_agg(t.rtype ORDER BY t.rank) FROM memory._export_record_types() AS t $$;

COMMENT ON FUNCTION memory._export_types() IS
'Private (export format version 1): the record types, in the order they appear in an export. Raises nothing.';

-- The SQL of one record type's lines of an export of agent $1, read from its table
-- (the type's fields as a JSON object, in the format's order; bytea as hex), with the
-- export's sort key: its id fields joined by ':' (numbers padded to sort as numbers).
CREATE OR REPLACE FUNCTION memory._export_select_sql(record_type text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format(
        'SELECT %s, %s, %L, json_build_object(%L, %L, %s)::text, NULL::text FROM %s',
        t.rank,
        CASE WHEN cardinality(t.id_fields) = 0 THEN $q$''$q$ ELSE (
            SELECT string_agg(CASE WHEN a.atttypid = 'integer'::regtype THEN format('lpad(x.%I::text, 10, ''0'')', i.k)
                                   ELSE format('x.%I::text', i.k) END, $q$ || ':' || $q$ ORDER BY i.o)
            FROM unnest(t.id_fields) WITH ORDINALITY AS i (k, o)
            JOIN pg_catalog.pg_attribute AS a ON a.attrelid = format('memory.%I', t.tbl)::regclass AND a.attname = i.k
        ) END,
        t.rtype, 'type', t.rtype,
        (SELECT string_agg(format(CASE WHEN a.atttypid = 'bytea'::regtype THEN '%L, encode(x.%I, ''hex'')' ELSE '%L, x.%I' END,
                                  f.key, f.key), ', ' ORDER BY f.ord)
         FROM memory._export_fields() AS f
         JOIN pg_catalog.pg_attribute AS a ON a.attrelid = format('memory.%I', t.tbl)::regclass AND a.attname = f.key
         WHERE f.rtype = t.rtype),
        CASE t.rtype
            -- the copies that consolidation merged are exported as the episodes they were
            WHEN 'episode' THEN 'memory._export_episodes($1) AS x'
            WHEN 'working_memory' THEN 'memory.working_memory AS x WHERE x.agent_id = $1 AND x.expires_at > clock_timestamp()'
            -- completed keys only, so that a retry after an import still finds its write
            WHEN 'idempotency_key' THEN 'memory.idempotency_keys AS x WHERE x.agent_id = $1 AND x.result_id IS NOT NULL'
            ELSE format('memory.%I AS x WHERE x.agent_id = $1', t.tbl)
        END
    )
    FROM memory._export_record_types() AS t
    WHERE t.rtype = record_type AND t.tbl IS NOT NULL
$$;

COMMENT ON FUNCTION memory._export_select_sql(text) IS
'Private (export_agent): the SELECT of the lines of record type record_type of an export of agent $1, generated from memory._export_record_types(): rank, sort key, type, the JSON line, NULL. NULL for embedding and unknown types. Raises nothing.';

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
    EXECUTE 'INSERT INTO pg_temp.export_lines '
        || (SELECT string_agg(memory._export_select_sql(t.rtype), ' UNION ALL ' ORDER BY t.rank)
            FROM memory._export_record_types() AS t WHERE t.tbl IS NOT NULL)
        || $sql$ UNION ALL
    -- vectors of the current text only: a pooled vector and its chunks with the hash
    -- of the owner's text as it is now
    SELECT 13, o.owner || ':' || o.owner_id || ':' || m.name, 'embedding', json_build_object(
        'type', 'embedding', 'agent_id', $1, 'owner', o.owner, 'owner_id', o.owner_id, 'model', m.name,
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
    WHERE p.agent_id = $1
      AND p.content_sha256 = o.sha
      AND p.chunk_count = (
          SELECT count(*) FROM memory.chunks AS c
          WHERE c.model_id = p.model_id AND c.content_sha256 = p.content_sha256
            AND (c.episode_id = p.episode_id OR c.fact_id = p.fact_id)
      )
$sql$ USING me;

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
