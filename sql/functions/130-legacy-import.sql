-- Legacy import (issue 7): the old brain's tables, read live through postgres_fdw,
-- mapped onto the memory model of one agent. docs/portability.md has the mapping and
-- the procedure; scripts/import-legacy.sh sets up the foreign server and loops.
--
--   memory.import_legacy(server, agent, ...)  one batch per call, in the caller's
--       transaction: call it until it returns done (the script does, one transaction
--       per call). Each batch reads the next batch_size rows of the current phase by the
--       old primary key, writes them with INSERT ... ON CONFLICT DO NOTHING (old ids are
--       kept) and moves memory.legacy_imports.last_key forward in the same transaction:
--       a killed import resumes after its last committed batch, and a rerun writes
--       nothing twice.
--   memory.legacy_import_report(server, agent)  the verification: old versus new per
--       table, ids missing on either side, checksum and field differences, duplicates,
--       embedding coverage.
--
-- Old embeddings stay behind (never read); every imported episode and fact is queued
-- for the active model by the ordinary enqueue triggers, in the batch's transaction.
-- Functions run as memory_owner (SECURITY DEFINER for the two entry points, which only
-- operators may call); memory_owner reads the old database through its own user mapping.
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Mapping helpers: each old value to the new one. Used by the import and by the
-- report, so the report compares exactly what the import wrote.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._legacy_unit(val double precision, fallback real)
RETURNS real
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN val IS NULL OR val = 'NaN'::double precision THEN fallback
        ELSE least(1, greatest(0, val))::real
    END
$$;

COMMENT ON FUNCTION memory._legacy_unit(double precision, real) IS
'Private (legacy import): an old score as real in [0, 1] (clamped); NULL or NaN gives fallback. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_tags(tags text [])
RETURNS text []
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(t.tag ORDER BY t.n) FILTER (WHERE t.n <= 64), '{}')
    FROM (
        SELECT x.tag, row_number() OVER (ORDER BY x.ord) AS n
        FROM unnest(tags) WITH ORDINALITY AS x (tag, ord)
        WHERE x.tag IS NOT NULL AND char_length(x.tag) BETWEEN 1 AND 100
    ) AS t
$$;

COMMENT ON FUNCTION memory._legacy_tags(text []) IS
'Private (legacy import): the old tags that are valid new tags (1-100 characters, not NULL), in order, at most 64; NULL gives {}. The original array goes to metadata when anything was dropped (_legacy_episode_metadata). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_object(val jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN val IS NULL OR jsonb_typeof(val) = 'null' THEN '{}'::jsonb
        WHEN jsonb_typeof(val) = 'object' THEN val
        ELSE jsonb_build_object('legacy_value', val)
    END
$$;

COMMENT ON FUNCTION memory._legacy_object(jsonb) IS
'Private (legacy import): an old jsonb as a JSON object: NULL gives {}, a non-object v gives {"legacy_value": v}. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_episode_metadata(metadata jsonb, tags text [])
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory._legacy_object(metadata)
        || CASE
            WHEN tags IS NOT NULL AND memory._legacy_tags(tags) IS DISTINCT FROM tags
                THEN jsonb_build_object('legacy_tags', to_jsonb(tags))
            ELSE '{}'::jsonb
        END
$$;

COMMENT ON FUNCTION memory._legacy_episode_metadata(jsonb, text []) IS
'Private (legacy import): the metadata of an imported episode: the old metadata as an object (_legacy_object), plus legacy_tags (the original array) when some old tags were not valid new tags. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_importable(content text, max_chars integer)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT content IS NOT NULL AND content ~ '\S' AND char_length(content) <= max_chars
$$;

COMMENT ON FUNCTION memory._legacy_importable(text, integer) IS
'Private (legacy import): whether an old text can be stored (not blank, at most max_chars characters). Texts that cannot are never cut: the report lists their ids. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_project_name(name text, project_id uuid)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN name IS NULL AND project_id IS NULL THEN NULL
        WHEN name IS NULL OR name !~ '\S' THEN 'legacy project ' || coalesce(project_id::text, '')
        WHEN char_length(name) > 200 THEN left(name, 191) || ' ' || left(md5(name), 8)
        ELSE name
    END
$$;

COMMENT ON FUNCTION memory._legacy_project_name(text, uuid) IS
'Private (legacy import): the new name of an old project (projects are matched by name): the old name; a blank one becomes "legacy project <id>", one over 200 characters is shortened with an md5 suffix. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_fact_statement(concept text, definition text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN definition IS NULL OR definition !~ '\S' THEN concept ELSE definition END
$$;

COMMENT ON FUNCTION memory._legacy_fact_statement(text, text) IS
'Private (legacy import): the statement of an imported fact: the old definition, or the concept itself when the definition is missing or blank (noted in metadata). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_fact_metadata(
    definition text, relationships jsonb, updated_at timestamptz, source_count integer
)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'legacy_updated_at', updated_at,
        'legacy_relationships', relationships,
        'legacy_definition_missing', CASE WHEN definition IS NULL OR definition !~ '\S' THEN true END,
        'legacy_source_episodes_dropped', CASE WHEN source_count > 1000 THEN source_count - 1000 END
    ))
$$;

COMMENT ON FUNCTION memory._legacy_fact_metadata(text, jsonb, timestamptz, integer) IS
'Private (legacy import): the metadata of an imported fact: legacy_updated_at, legacy_relationships (the old JSON, kept whole), legacy_definition_missing, legacy_source_episodes_dropped (beyond 1000). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_relationships(relationships jsonb)
RETURNS TABLE (concept text, relation text, strength real)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- {"related_concepts": [...], "strength": s}
    SELECT c.value, 'related_to', memory._legacy_unit((relationships ->> 'strength')::double precision, 1)
    FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(relationships -> 'related_concepts') = 'array'
             THEN relationships -> 'related_concepts' ELSE '[]'::jsonb END
    ) AS c (value)
    WHERE jsonb_typeof(relationships) = 'object'
      AND coalesce(jsonb_typeof(relationships -> 'strength'), 'number') = 'number'
    UNION ALL
    -- [{"concept": c, "relation": r, "strength": s}, ...]
    SELECT e.value ->> 'concept',
           CASE WHEN (e.value ->> 'relation') ~ '^[a-z][a-z0-9_]{0,62}$' THEN e.value ->> 'relation' ELSE 'related_to' END,
           memory._legacy_unit(
               CASE WHEN jsonb_typeof(e.value -> 'strength') = 'number' THEN (e.value ->> 'strength')::double precision END, 1
           )
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(relationships) = 'array' THEN relationships ELSE '[]'::jsonb END) AS e (value)
    WHERE jsonb_typeof(e.value) = 'object' AND jsonb_typeof(e.value -> 'concept') = 'string'
$$;

COMMENT ON FUNCTION memory._legacy_relationships(jsonb) IS
'Private (legacy import): the entries of an old relationships value, in either format the old brain wrote: {"related_concepts": [names], "strength": s} (relation related_to) or [{"concept", "relation", "strength"}] (a relation that is not a lower-case word becomes related_to). Strength clamped to [0, 1], default 1. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_label(label text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN label ~ '^[a-z][a-z0-9_]{0,62}$' THEN label
        ELSE left(
            regexp_replace(
                regexp_replace(lower(coalesce(label, '')), '[^a-z0-9_]+', '_', 'g'),
                '^([^a-z]|$)', 'b_\1'
            ),
            55
        ) || '_' || left(md5(coalesce(label, '')), 6)
    END
$$;

COMMENT ON FUNCTION memory._legacy_label(text) IS
'Private (legacy import): the new label of an old block: the old label when it is a valid label; otherwise lower-cased, other characters as _, prefixed b_ when it does not start with a letter (or is empty), and suffixed with 6 hex digits of its md5, so that two old labels never meet (e.g. "Current Mission" -> current_mission_<md5>). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_kind(kind text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN kind ~ '^[a-z][a-z0-9_]{0,49}$' THEN kind
        ELSE left(regexp_replace(regexp_replace(lower(coalesce(kind, '')), '[^a-z0-9_]+', '_', 'g'), '^([^a-z]|$)', 'legacy_\1'), 50)
    END
$$;

COMMENT ON FUNCTION memory._legacy_kind(text) IS
'Private (legacy import): the kind of an imported checkpoint: the old checkpoint_type when it is a valid kind, else lower-cased with other characters as _ (the original is kept in the state). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_identity_hash(old_hash text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN lower(old_hash) ~ '^[0-9a-f]{64}$' THEN lower(old_hash)
        ELSE memory._identity_hash('[]'::jsonb)
    END
$$;

COMMENT ON FUNCTION memory._legacy_identity_hash(text) IS
'Private (legacy import): the identity hash of an imported checkpoint: the old one (lower-case) when it is 64 hex digits, else the hash of no blocks (the old value is kept in the state). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_checkpoint_state(state jsonb, metadata jsonb, kind text, old_hash text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory._legacy_object(state)
        || jsonb_strip_nulls(jsonb_build_object(
            'legacy_metadata', metadata,
            'legacy_checkpoint_type', CASE WHEN memory._legacy_kind(kind) IS DISTINCT FROM kind THEN kind END,
            'legacy_identity_hash', CASE WHEN memory._legacy_identity_hash(old_hash) IS DISTINCT FROM old_hash THEN old_hash END
        ))
$$;

COMMENT ON FUNCTION memory._legacy_checkpoint_state(jsonb, jsonb, text, text) IS
'Private (legacy import): the state of an imported checkpoint: the old state_data as an object, plus legacy_metadata, legacy_checkpoint_type and legacy_identity_hash when the old values could not be kept as they were. Old checkpoints have no block snapshot: blocks is []. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_context_type(context_type text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN context_type IS NULL OR context_type !~ '[A-Za-z0-9]' THEN 'legacy'
        WHEN context_type ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' THEN context_type
        ELSE left(regexp_replace(regexp_replace(context_type, '[^A-Za-z0-9_.-]+', '_', 'g'), '^[^A-Za-z0-9]+', ''), 100)
    END
$$;

COMMENT ON FUNCTION memory._legacy_context_type(text) IS
'Private (legacy import): the context_type of an imported working-memory item: the old one when valid, legacy when NULL, else with other characters as _. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_priority(priority text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN lower(priority) IN ('critical', 'high', 'normal', 'low') THEN lower(priority) ELSE 'normal' END
$$;

COMMENT ON FUNCTION memory._legacy_priority(text) IS
'Private (legacy import): an old priority as critical, high, normal or low (anything else is normal). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_expires_at(expires_at timestamptz, created_at timestamptz, ttl_seconds integer)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        expires_at,
        created_at + make_interval(secs => coalesce(ttl_seconds, 86400))
    )
$$;

COMMENT ON FUNCTION memory._legacy_expires_at(timestamptz, timestamptz, integer) IS
'Private (legacy import): when an old working-memory item expires: expires_at, else created_at + ttl_seconds (default a day). Items already expired are not imported. Raises nothing.';

-- ---------------------------------------------------------------------------
-- Foreign tables
-- ---------------------------------------------------------------------------

-- The old tables: foreign table suffix, which schema option holds it, old table name,
-- the columns read (the old embedding is declared as text and only ever counted), and
-- whether the import needs it.
CREATE OR REPLACE FUNCTION memory._legacy_tables()
RETURNS TABLE (suffix text, in_core boolean, remote_table text, columns text, required boolean)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES
        ('projects', false, 'projects',
         'project_id uuid, project_name text, project_dna text, description text, status text, metadata jsonb, created_at timestamptz, updated_at timestamptz',
         true),
        ('episodes', false, 'zep_episodic_memory',
         'episode_id uuid, "timestamp" timestamptz, content text, importance_score double precision, tags text[], embedding text, project_id uuid, metadata jsonb, created_at timestamptz',
         true),
        ('facts', false, 'zep_semantic_memory',
         'semantic_id uuid, concept text, definition text, relationships jsonb, embedding text, confidence_score double precision, source_episodes uuid[], created_at timestamptz, updated_at timestamptz',
         false),
        ('working', false, 'zep_working_memory',
         'working_id uuid, context_type text, active_content jsonb, priority text, ttl_seconds integer, expires_at timestamptz, created_at timestamptz',
         false),
        ('blocks', true, 'memory_blocks',
         'block_id uuid, label text, description text, value text, read_only boolean, version integer, created_at timestamptz, updated_at timestamptz',
         false),
        ('checkpoints', true, 'consciousness_checkpoints',
         'checkpoint_id uuid, checkpoint_type text, state_data jsonb, identity_hash text, continuity_score double precision, created_at timestamptz, metadata jsonb',
         false),
        ('state', true, 'consciousness_state',
         'state_id uuid, current_focus text, emotional_vector jsonb, working_context jsonb, active_projects text[], last_heartbeat timestamptz, metadata jsonb',
         false),
        ('instances', true, 'instance_network', 'instance_id uuid', false),
        ('consensus', true, 'distributed_consensus', 'consensus_id uuid', false)
$$;

COMMENT ON FUNCTION memory._legacy_tables() IS
'Private (legacy import): the old tables read: foreign table suffix, whether it lives in the core schema (nexus_memory) or the main one (public), its old name, the columns read, whether it is required. Raises nothing.';

-- The foreign table of server for suffix, or NULL when the old database has no such table.
CREATE OR REPLACE FUNCTION memory._legacy_ft(server text, suffix text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN to_regclass(format('memory_legacy.%I', server || '__' || suffix)) IS NOT NULL
                THEN format('memory_legacy.%I', server || '__' || suffix) END
$$;

COMMENT ON FUNCTION memory._legacy_ft(text, text) IS
'Private (legacy import): the quoted name of the foreign table memory_legacy.<server>__<suffix>, NULL when it does not exist. Raises nothing.';

-- Where each old table may be (the seeds show several layouts of the old brain), and
-- the other names its columns went by. Candidates are tried in order; the schema of a
-- candidate is the remote_schema or core_schema argument, or a literal schema.
--   architecture-v2:  public.zep_episodic_memory (episode_id, "timestamp", importance_score, ...)
--   orchestrator:     nexus_memory.zep_episodic_memory (uuid, content, importance_score, created_at)
--   audit-chatgpt:    memory_system.episodes (id, content, importance, occurred_at, ...), the
--                     table the old code queried
CREATE OR REPLACE FUNCTION memory._legacy_locations()
RETURNS TABLE (suffix text, pos integer, schema_of text, remote_table text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.suffix, 0, CASE WHEN t.in_core THEN 'core' ELSE 'remote' END, t.remote_table
    FROM memory._legacy_tables() AS t
    UNION ALL
    VALUES ('episodes', 1, 'core', 'zep_episodic_memory'),
           ('episodes', 2, 'memory_system', 'episodes')
$$;

COMMENT ON FUNCTION memory._legacy_locations() IS
'Private (legacy import): where each old table may be, in the order tried: suffix, position, schema (remote, core, or a literal schema name), table. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_synonyms()
RETURNS TABLE (suffix text, column_name text, synonyms text [])
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('episodes', 'episode_id', ARRAY['uuid', 'id']),
           ('episodes', 'timestamp', ARRAY['occurred_at', 'event_time']),
           ('episodes', 'importance_score', ARRAY['importance']),
           ('episodes', 'project_id', ARRAY['project']),
           ('projects', 'project_name', ARRAY['name'])
$$;

COMMENT ON FUNCTION memory._legacy_synonyms() IS
'Private (legacy import): other names of old columns (suffix, the name the import reads, its synonyms). Raises nothing.';

-- The columns of each old table the import reads: name, type, synonyms, and whether the
-- import cannot do without it (the key, and an episode's content).
CREATE OR REPLACE FUNCTION memory._legacy_columns(suffix text)
RETURNS TABLE (pos integer, column_name text, column_type text, synonyms text [], required boolean)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.pos::integer, c.name, c.typ, coalesce(s.synonyms, '{}'),
           c.pos = 1 OR (_legacy_columns.suffix = 'episodes' AND c.name = 'content')
    FROM memory._legacy_tables() AS t
    CROSS JOIN LATERAL unnest(string_to_array(t.columns, ', ')) WITH ORDINALITY AS d (decl, pos)
    CROSS JOIN LATERAL (SELECT d.pos, trim(BOTH '"' FROM split_part(d.decl, ' ', 1)) AS name,
                               substr(d.decl, strpos(d.decl, ' ') + 1) AS typ) AS c
    LEFT JOIN memory._legacy_synonyms() AS s ON s.suffix = t.suffix AND s.column_name = c.name
    WHERE t.suffix = _legacy_columns.suffix
    ORDER BY c.pos
$$;

COMMENT ON FUNCTION memory._legacy_columns(text) IS
'Private (legacy import): the columns read from one old table (from memory._legacy_tables), with their synonyms and whether they are required. Raises nothing.';

-- Checks an operator's column mapping: {"<suffix>": {"table": "schema.table",
-- "<column>": "<old column>", ...}, ...} with known suffixes and columns only.
CREATE OR REPLACE FUNCTION memory._legacy_check_map(column_map jsonb)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    c text;
BEGIN
    IF column_map IS NULL THEN
        RETURN '{}';
    END IF;
    IF jsonb_typeof(column_map) <> 'object' THEN
        RAISE EXCEPTION 'column_map must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'e.g. {"episodes": {"table": "old.episodes", "episode_id": "id", "content": "body"}}';
    END IF;
    FOR k IN SELECT jsonb_object_keys(column_map) LOOP
        IF NOT EXISTS (SELECT 1 FROM memory._legacy_tables() AS t WHERE t.suffix = k)
           OR jsonb_typeof(column_map -> k) <> 'object' THEN
            RAISE EXCEPTION 'column_map has an unknown table or a value that is not an object'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('key %s', k),
                      HINT = 'keys: projects, episodes, facts, working, blocks, checkpoints, state; each an object';
        END IF;
        FOR c IN SELECT jsonb_object_keys(column_map -> k) LOOP
            IF (c <> 'table' AND NOT EXISTS (SELECT 1 FROM memory._legacy_columns(k) AS x WHERE x.column_name = c))
               OR jsonb_typeof(column_map -> k -> c) <> 'string'
               OR (c = 'table' AND (column_map -> k ->> c) !~ '^[^.]+\.[^.]+$') THEN
                RAISE EXCEPTION 'column_map names an unknown column or a value that is not a name'
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('%s.%s', k, c),
                          HINT = 'each column the import reads (memory._legacy_columns) maps to an old column name; "table" is "schema.table"';
            END IF;
        END LOOP;
    END LOOP;
    RETURN column_map;
END
$$;

COMMENT ON FUNCTION memory._legacy_check_map(jsonb) IS
'Private (legacy import): returns the column mapping (an empty object for NULL) when it names known tables and columns with string values. Raises 22023 otherwise.';

-- Creates, for each old table present on server, a foreign table of the columns found
-- (memory_legacy.<server>__<suffix>__r, each column under the name the import reads,
-- mapped to the old name by the operator's column_map, the name itself or a synonym) and
-- a view memory_legacy.<server>__<suffix> with every column the import reads (NULL for
-- an optional column the old table lacks). A table whose required columns are missing is
-- an unknown layout: the error names them, before anything is written. Again when
-- refresh or when missing.
DROP FUNCTION IF EXISTS memory._legacy_attach(text, text, text, boolean);  -- before column_map (issue 20)
CREATE OR REPLACE FUNCTION memory._legacy_attach(
    server text, remote_schema text, core_schema text, refresh boolean, column_map jsonb DEFAULT '{}'
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    srv record;
    t record;
    c record;
    cat text := format('memory_legacy.%I', server || '__catalog');
    cols text := format('memory_legacy.%I', server || '__columns');
    loc text [];
    have_cols text [];
    remote text;
    decls text [];
    sel text [];
    missing text [];
    present boolean;
BEGIN
    SELECT s.oid, s.srvname, w.fdwname INTO srv
    FROM pg_catalog.pg_foreign_server AS s JOIN pg_catalog.pg_foreign_data_wrapper AS w ON w.oid = s.srvfdw
    WHERE s.srvname = server;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'foreign server % does not exist', server
            USING ERRCODE = 'undefined_object',
                  HINT = 'set it up with scripts/import-legacy.sh (make import-legacy), or as a superuser: CREATE SERVER ... FOREIGN DATA WRAPPER postgres_fdw, GRANT USAGE ON FOREIGN SERVER ... TO memory_owner, CREATE USER MAPPING FOR memory_owner ...';
    END IF;
    IF srv.fdwname <> 'postgres_fdw' THEN
        RAISE EXCEPTION 'foreign server % does not use postgres_fdw', server
            USING ERRCODE = 'wrong_object_type', HINT = 'a legacy database is read through postgres_fdw';
    END IF;
    IF NOT pg_catalog.has_server_privilege(srv.oid, 'USAGE')
       OR NOT EXISTS (
           SELECT 1 FROM pg_catalog.pg_user_mappings AS m
           WHERE m.srvid = srv.oid AND (m.umuser = 0 OR m.usename = current_user)
       ) THEN
        RAISE EXCEPTION 'memory_owner cannot use foreign server %', server
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'as a superuser: GRANT USAGE ON FOREIGN SERVER ... TO memory_owner and CREATE USER MAPPING FOR memory_owner SERVER ... OPTIONS (user ..., password ...); scripts/import-legacy.sh does both';
    END IF;

    IF NOT refresh AND to_regclass(format('memory_legacy.%I', server || '__episodes')) IS NOT NULL THEN
        RETURN;  -- attached already
    END IF;
    -- views first: they depend on the foreign tables
    FOR t IN SELECT c2.relname, c2.relkind FROM pg_catalog.pg_class AS c2
             WHERE c2.relnamespace = 'memory_legacy'::regnamespace AND c2.relkind IN ('v', 'f')
               AND c2.relname LIKE replace(server, '_', '\_') || '\_\_%'
             ORDER BY c2.relkind DESC
    LOOP
        EXECUTE format('DROP %s memory_legacy.%I', CASE t.relkind WHEN 'v' THEN 'VIEW' ELSE 'FOREIGN TABLE' END, t.relname);
    END LOOP;

    EXECUTE format(
        'CREATE FOREIGN TABLE %s (schemaname name, tablename name) SERVER %I '
        'OPTIONS (schema_name %L, table_name %L)', cat, server, 'pg_catalog', 'pg_tables'
    );
    EXECUTE format(
        'CREATE FOREIGN TABLE %s (table_schema text, table_name text, column_name text, ordinal_position integer) '
        'SERVER %I OPTIONS (schema_name %L, table_name %L)', cols, server, 'information_schema', 'columns'
    );
    FOR t IN SELECT * FROM memory._legacy_tables() LOOP
        -- where: the operator's table, else the first candidate that exists
        IF column_map -> t.suffix ? 'table' THEN
            loc := ARRAY[split_part(column_map -> t.suffix ->> 'table', '.', 1),
                         split_part(column_map -> t.suffix ->> 'table', '.', 2)];
        ELSE
            loc := NULL;
            FOR c IN SELECT CASE l.schema_of WHEN 'remote' THEN remote_schema WHEN 'core' THEN core_schema
                            ELSE l.schema_of END AS sch, l.remote_table
                     FROM memory._legacy_locations() AS l WHERE l.suffix = t.suffix ORDER BY l.pos
            LOOP
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE schemaname = $1 AND tablename = $2)', cat)
                INTO present USING c.sch, c.remote_table;
                IF present THEN
                    loc := ARRAY[c.sch, c.remote_table];
                    EXIT;
                END IF;
            END LOOP;
        END IF;
        IF loc IS NULL THEN
            IF t.required THEN
                RAISE EXCEPTION 'the legacy database has no table %.% (nor any other known place of it)',
                                remote_schema, t.remote_table
                    USING ERRCODE = 'undefined_table',
                          DETAIL = (SELECT string_agg(l.schema_of || '.' || l.remote_table, ', ' ORDER BY l.pos)
                                    FROM memory._legacy_locations() AS l WHERE l.suffix = t.suffix),
                          HINT = 'check the server''s dbname and remote_schema, or name the table: column_map => {"'
                                 || t.suffix || '": {"table": "schema.table"}}';
            END IF;
            IF t.suffix = 'projects' THEN
                -- the episodes read their project's name through it: an empty one will do
                EXECUTE format('CREATE VIEW memory_legacy.%I AS SELECT %s WHERE false', server || '__projects',
                               (SELECT string_agg(format('NULL::%s AS %I', x.column_type, x.column_name), ', '
                                                  ORDER BY x.pos) FROM memory._legacy_columns('projects') AS x));
            END IF;
            CONTINUE;
        END IF;
        EXECUTE format('SELECT array_agg(column_name::text ORDER BY ordinal_position) FROM %s WHERE table_schema = $1 AND table_name = $2', cols)
        INTO have_cols USING loc[1], loc[2];
        decls := '{}';
        sel := '{}';
        missing := '{}';
        FOR c IN SELECT * FROM memory._legacy_columns(t.suffix) ORDER BY pos LOOP
            remote := coalesce(
                column_map -> t.suffix ->> c.column_name,
                (SELECT n FROM unnest(c.column_name || c.synonyms) WITH ORDINALITY AS u (n, o)
                 WHERE n = ANY (have_cols) ORDER BY o LIMIT 1)
            );
            IF remote IS NULL OR NOT remote = ANY (coalesce(have_cols, '{}')) THEN
                IF c.required THEN
                    missing := missing || (c.column_name || coalesce(' (or ' || nullif(array_to_string(c.synonyms, ', '), '') || ')', ''));
                END IF;
                sel := sel || format('NULL::%s AS %I', c.column_type, c.column_name);
            ELSE
                decls := decls || format('%I %s OPTIONS (column_name %L)', c.column_name, c.column_type, remote);
                sel := sel || format('r.%I', c.column_name);
            END IF;
        END LOOP;
        IF cardinality(missing) > 0 THEN
            RAISE EXCEPTION 'unknown layout of the legacy table %.%: no column %', loc[1], loc[2], array_to_string(missing, '; ')
                USING ERRCODE = 'undefined_column',
                      DETAIL = format('its columns: %s', coalesce(array_to_string(have_cols, ', '), '(none visible)')),
                      HINT = format('map them: column_map => {"%s": {"%s": "<old column>"}}', t.suffix,
                                    split_part(missing[1], ' ', 1));
        END IF;
        EXECUTE format(
            'CREATE FOREIGN TABLE memory_legacy.%I (%s) SERVER %I OPTIONS (schema_name %L, table_name %L, fetch_size %L)',
            server || '__' || t.suffix || '__r', array_to_string(decls, ', '), server, loc[1], loc[2], '500'
        );
        EXECUTE format('CREATE VIEW memory_legacy.%I AS SELECT %s FROM memory_legacy.%I AS r',
                       server || '__' || t.suffix, array_to_string(sel, ', '), server || '__' || t.suffix || '__r');
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory._legacy_attach(text, text, text, boolean, jsonb) IS
'Private (legacy import): for each old table found on server (at the place column_map names, else its first known place: memory._legacy_locations), a foreign table memory_legacy.<server>__<suffix>__r of the columns found (by column_map, their own name or a synonym: memory._legacy_synonyms) and a view memory_legacy.<server>__<suffix> of every column the import reads (NULL where an optional one is missing); drops the previous ones; without refresh, does nothing when they exist. Raises 42704 (no such server), 42809 (not postgres_fdw), 42501 (memory_owner has no usage or user mapping), 42P01 (no episodes table anywhere known), 42703 (an unknown layout: the required columns it lacks are named), and the connection errors of postgres_fdw (08001).';

-- Drops a temporary table of this session if it exists (quietly: DROP ... IF EXISTS
-- notices when the session has no temporary schema yet). Also used by 140-export-import.
CREATE OR REPLACE FUNCTION memory._drop_temp(tbl text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass(format('pg_temp.%I', tbl)) IS NOT NULL THEN
        EXECUTE format('DROP TABLE pg_temp.%I', tbl);
    END IF;
END
$$;

COMMENT ON FUNCTION memory._drop_temp(text) IS
'Private: drops the temporary table pg_temp.<tbl> when it exists. Raises nothing.';

-- Fails the batch when some of its old ids belong to another agent (ids are kept, so a
-- legacy database goes into one agent).
CREATE OR REPLACE FUNCTION memory._legacy_check_owner(what text, foreign_rows bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF foreign_rows > 0 THEN
        RAISE EXCEPTION 'legacy % ids already belong to another agent', what
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('%s old %s id(s) exist under another agent', foreign_rows, what),
                  HINT = 'old ids are kept, so a legacy database is imported into one agent only; SELECT * FROM memory.legacy_imports shows which';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._legacy_check_owner(text, bigint) IS
'Private (legacy import): raises 23505 when foreign_rows > 0 (old ids of what that belong to another agent). Raises nothing otherwise.';

-- ---------------------------------------------------------------------------
-- One batch of each phase. Each returns the rows read from the old table, the rows
-- written and the last old key read (the next batch starts after it).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._legacy_step_projects(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._drop_temp('legacy_projects');
    CREATE TEMP TABLE legacy_projects (
        project_id uuid, project_name text, project_dna text, description text, status text, metadata jsonb,
        created_at timestamptz, updated_at timestamptz
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_projects SELECT p.project_id, p.project_name, p.project_dna, p.description, p.status, '
        'p.metadata, p.created_at, p.updated_at FROM %s AS p WHERE ($1::uuid IS NULL OR p.project_id > $1) '
        'ORDER BY p.project_id LIMIT $2', memory._legacy_ft(server, 'projects')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT b.project_id INTO last_key FROM pg_temp.legacy_projects AS b ORDER BY b.project_id DESC LIMIT 1;

    -- Matched by name: a project the agent already has keeps its id; an old id taken
    -- by another project gets a new one (episodes follow the name).
    INSERT INTO memory.projects (project_id, agent_id, name, dna, status, description, metadata, created_at, updated_at)
    SELECT CASE WHEN EXISTS (SELECT 1 FROM memory.projects AS q WHERE q.project_id = b.project_id)
                THEN gen_random_uuid() ELSE b.project_id END,
           me,
           memory._legacy_project_name(b.project_name, b.project_id),
           left(b.project_dna, 200),
           CASE WHEN b.status IN ('active', 'paused', 'completed', 'archived') THEN b.status ELSE 'active' END,
           b.description,
           memory._legacy_object(b.metadata)
               || CASE WHEN b.status IS NOT NULL AND b.status NOT IN ('active', 'paused', 'completed', 'archived')
                       THEN jsonb_build_object('legacy_status', b.status) ELSE '{}'::jsonb END
               || CASE WHEN char_length(b.project_dna) > 200
                       THEN jsonb_build_object('legacy_dna', b.project_dna) ELSE '{}'::jsonb END,
           coalesce(b.created_at, now()),
           coalesce(b.updated_at, b.created_at, now())
    FROM pg_temp.legacy_projects AS b
    ORDER BY b.project_id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_projects(text, uuid, uuid, integer) IS
'Private (legacy import): imports the next lim old projects after key after into agent me (matched by name; id kept when free). Raises the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_episodes(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    theirs bigint;
BEGIN
    PERFORM memory._drop_temp('legacy_episodes');
    CREATE TEMP TABLE legacy_episodes (
        episode_id uuid, occurred timestamptz, content text, importance_score double precision, tags text [],
        metadata jsonb, created_at timestamptz, project_id uuid, project_name text
    ) ON COMMIT DROP;
    -- One remote query: the join with the old projects runs in the old database.
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_episodes SELECT e.episode_id, e."timestamp", e.content, e.importance_score, e.tags, '
        'e.metadata, e.created_at, e.project_id, p.project_name FROM %s AS e LEFT JOIN %s AS p ON p.project_id = e.project_id '
        'WHERE ($1::uuid IS NULL OR e.episode_id > $1) ORDER BY e.episode_id LIMIT $2',
        memory._legacy_ft(server, 'episodes'), memory._legacy_ft(server, 'projects')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT b.episode_id INTO last_key FROM pg_temp.legacy_episodes AS b ORDER BY b.episode_id DESC LIMIT 1;

    SELECT count(*) INTO theirs
    FROM pg_temp.legacy_episodes AS b JOIN memory.episodes AS e ON e.episode_id = b.episode_id
    WHERE e.agent_id <> me;
    PERFORM memory._legacy_check_owner('episode', theirs);

    INSERT INTO memory.episodes (
        episode_id, agent_id, content, importance, tags, project_id, occurred_at, metadata, recorded_at, updated_at
    )
    SELECT b.episode_id, me, b.content,
           memory._legacy_unit(b.importance_score, 0.5),
           memory._legacy_tags(b.tags),
           (SELECT p.project_id FROM memory.projects AS p
            WHERE p.agent_id = me AND p.name = memory._legacy_project_name(b.project_name, b.project_id)),
           coalesce(b.occurred, b.created_at, now()),
           memory._legacy_episode_metadata(b.metadata, b.tags),
           coalesce(b.created_at, b.occurred, now()),
           coalesce(b.created_at, b.occurred, now())
    FROM pg_temp.legacy_episodes AS b
    WHERE memory._legacy_importable(b.content, 500000)
    ORDER BY b.episode_id
    ON CONFLICT (episode_id) DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_episodes(text, uuid, uuid, integer) IS
'Private (legacy import): imports the next lim old episodes after key after into agent me, ids and timestamps kept (timestamp -> occurred_at, created_at -> recorded_at), project by name; the enqueue trigger queues their embeddings. Raises 23505 when an old id belongs to another agent, and the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_facts(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    theirs bigint;
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'facts') IS NULL THEN
        RETURN;
    END IF;
    PERFORM memory._drop_temp('legacy_facts');
    CREATE TEMP TABLE legacy_facts (
        semantic_id uuid, concept text, definition text, relationships jsonb, confidence_score double precision,
        source_episodes uuid [], created_at timestamptz, updated_at timestamptz
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_facts SELECT f.semantic_id, f.concept, f.definition, f.relationships, f.confidence_score, '
        'f.source_episodes, f.created_at, f.updated_at FROM %s AS f WHERE ($1::uuid IS NULL OR f.semantic_id > $1) '
        'ORDER BY f.semantic_id LIMIT $2', memory._legacy_ft(server, 'facts')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT b.semantic_id INTO last_key FROM pg_temp.legacy_facts AS b ORDER BY b.semantic_id DESC LIMIT 1;

    SELECT count(*) INTO theirs
    FROM pg_temp.legacy_facts AS b JOIN memory.facts AS f ON f.fact_id = b.semantic_id
    WHERE f.agent_id <> me;
    PERFORM memory._legacy_check_owner('fact', theirs);

    INSERT INTO memory.facts (
        fact_id, agent_id, concept, statement, confidence, source_episodes, valid_from, recorded_at, metadata
    )
    SELECT b.semantic_id, me, b.concept,
           memory._legacy_fact_statement(b.concept, b.definition),
           memory._legacy_unit(b.confidence_score, 0.5),
           coalesce(b.source_episodes[1:1000], '{}'),
           coalesce(b.created_at, now()),
           coalesce(b.created_at, now()),
           memory._legacy_fact_metadata(b.definition, b.relationships, b.updated_at, cardinality(b.source_episodes))
    FROM pg_temp.legacy_facts AS b
    WHERE memory._legacy_importable(b.concept, 500)
      AND memory._legacy_importable(memory._legacy_fact_statement(b.concept, b.definition), 100000)
      AND array_position(b.source_episodes, NULL) IS NULL
    ORDER BY b.semantic_id
    ON CONFLICT (fact_id) DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_facts(text, uuid, uuid, integer) IS
'Private (legacy import): imports the next lim old semantic memories after key after as open facts of agent me (semantic_id -> fact_id, definition -> statement, created_at -> valid_from and recorded_at; relationships kept in metadata and linked in the fact_links phase). Raises 23505 when an old id belongs to another agent, and the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_fact_links(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'facts') IS NULL THEN
        RETURN;
    END IF;
    PERFORM memory._drop_temp('legacy_links');
    CREATE TEMP TABLE legacy_links (semantic_id uuid, relationships jsonb, created_at timestamptz) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_links SELECT f.semantic_id, f.relationships, f.created_at FROM %s AS f '
        'WHERE ($1::uuid IS NULL OR f.semantic_id > $1) ORDER BY f.semantic_id LIMIT $2', memory._legacy_ft(server, 'facts')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT b.semantic_id INTO last_key FROM pg_temp.legacy_links AS b ORDER BY b.semantic_id DESC LIMIT 1;

    INSERT INTO memory.fact_links (agent_id, from_fact, to_fact, relation, strength, created_at)
    SELECT DISTINCT ON (l.from_fact, l.to_fact, l.relation) me, l.from_fact, l.to_fact, l.relation, l.strength, l.created_at
    FROM (
        SELECT b.semantic_id AS from_fact, t.fact_id AS to_fact, r.relation, r.strength, coalesce(b.created_at, now()) AS created_at
        FROM pg_temp.legacy_links AS b
        CROSS JOIN LATERAL memory._legacy_relationships(b.relationships) AS r
        CROSS JOIN LATERAL (
            SELECT f.fact_id FROM memory.facts AS f
            WHERE f.agent_id = me AND lower(f.concept) = lower(r.concept)
            ORDER BY f.recorded_at DESC, f.fact_id
            LIMIT 1
        ) AS t
        WHERE EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = b.semantic_id AND f.agent_id = me)
          AND t.fact_id <> b.semantic_id
    ) AS l
    ORDER BY l.from_fact, l.to_fact, l.relation, l.strength DESC
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_fact_links(text, uuid, uuid, integer) IS
'Private (legacy import): links the imported facts of the next lim old semantic memories to the facts whose concept (case-insensitively) their relationships name; names that match no fact stay in the fact''s metadata. Raises the errors of postgres_fdw.';

-- Puts the old timestamps and author on a block the import just created (and on its
-- first history row). The block triggers always set now() and session_user: this runs
-- with triggers off (session_replication_role = replica, pinned to this function;
-- memory_owner holds SET on it, migration 010) and touches that one block only.
CREATE OR REPLACE FUNCTION memory._legacy_block_times(block uuid, created timestamptz, updated timestamptz, author text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
SET session_replication_role = replica
AS $$
    UPDATE memory.blocks AS b SET created_at = created, updated_at = updated, updated_by = author
    WHERE b.block_id = block AND b.version = 1;
    UPDATE memory.block_history AS h SET changed_at = updated, changed_by = author
    WHERE h.block_id = block AND h.version = 1;
$$;

COMMENT ON FUNCTION memory._legacy_block_times(uuid, timestamptz, timestamptz, text) IS
'Private (legacy import): sets created_at, updated_at and updated_by of a just-imported block (version 1) and changed_at, changed_by of its history row, with triggers off for this function only. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_step_blocks(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b record;
    cur memory.blocks;
    lbl text;
    new_block uuid;
    ro boolean;
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'blocks') IS NULL THEN
        RETURN;
    END IF;
    PERFORM memory._drop_temp('legacy_blocks');
    CREATE TEMP TABLE legacy_blocks (
        block_id uuid, label text, description text, value text, read_only boolean, created_at timestamptz,
        updated_at timestamptz
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_blocks SELECT b.block_id, b.label, b.description, b.value, b.read_only, b.created_at, '
        'b.updated_at FROM %s AS b WHERE ($1::uuid IS NULL OR b.block_id > $1) ORDER BY b.block_id LIMIT $2',
        memory._legacy_ft(server, 'blocks')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT x.block_id INTO last_key FROM pg_temp.legacy_blocks AS x ORDER BY x.block_id DESC LIMIT 1;

    -- Through the ordinary block path, so history is kept: a new label is a new block
    -- (version 1, old timestamps); a label the agent has already, with another value,
    -- gets the old value as a new version (the current one stays in block_history).
    FOR b IN SELECT * FROM pg_temp.legacy_blocks AS x WHERE char_length(x.value) <= 100000 ORDER BY x.block_id LOOP
        lbl := memory._legacy_label(b.label);
        ro := coalesce(b.read_only, false);
        SELECT x.* INTO cur FROM memory.blocks AS x WHERE x.agent_id = me AND x.label = lbl;
        IF NOT FOUND THEN
            INSERT INTO memory.blocks (block_id, agent_id, label, value, description, char_limit, read_only)
            VALUES (
                CASE WHEN EXISTS (SELECT 1 FROM memory.blocks AS x WHERE x.block_id = b.block_id)
                     THEN gen_random_uuid() ELSE b.block_id END,
                me, lbl, b.value, left(b.description, 2000), greatest(5000, char_length(b.value)), ro
            )
            RETURNING block_id INTO new_block;
            PERFORM memory._legacy_block_times(
                new_block, coalesce(b.created_at, now()), coalesce(b.updated_at, b.created_at, now()), 'legacy:' || server
            );
            rows_written := rows_written + 1;
        ELSIF cur.value IS DISTINCT FROM b.value OR cur.read_only IS DISTINCT FROM ro
              OR (b.description IS NOT NULL AND cur.description IS DISTINCT FROM left(b.description, 2000)) THEN
            UPDATE memory.blocks AS x
            SET value = b.value,
                description = coalesce(left(b.description, 2000), cur.description),
                char_limit = greatest(cur.char_limit, char_length(b.value)),
                read_only = ro
            WHERE x.block_id = cur.block_id;
            rows_written := rows_written + 1;
        END IF;
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_blocks(text, uuid, uuid, integer) IS
'Private (legacy import): imports the next lim old memory blocks after key after into agent me through the block triggers (history kept): a new label becomes a block with the old id and timestamps; an existing label with another value or flag gets the old one as a new version. Labels that are not valid become _legacy_label(label). Values over 100,000 characters are not imported (the report lists them). Raises the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_checkpoints(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    theirs bigint;
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'checkpoints') IS NULL THEN
        RETURN;
    END IF;
    PERFORM memory._drop_temp('legacy_checkpoints');
    CREATE TEMP TABLE legacy_checkpoints (
        checkpoint_id uuid, checkpoint_type text, state_data jsonb, identity_hash text,
        continuity_score double precision, created_at timestamptz, metadata jsonb
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_checkpoints SELECT c.checkpoint_id, c.checkpoint_type, c.state_data, c.identity_hash, '
        'c.continuity_score, c.created_at, c.metadata FROM %s AS c WHERE ($1::uuid IS NULL OR c.checkpoint_id > $1) '
        'ORDER BY c.checkpoint_id LIMIT $2', memory._legacy_ft(server, 'checkpoints')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT x.checkpoint_id INTO last_key FROM pg_temp.legacy_checkpoints AS x ORDER BY x.checkpoint_id DESC LIMIT 1;

    SELECT count(*) INTO theirs
    FROM pg_temp.legacy_checkpoints AS b JOIN memory.checkpoints AS c ON c.checkpoint_id = b.checkpoint_id
    WHERE c.agent_id <> me;
    PERFORM memory._legacy_check_owner('checkpoint', theirs);

    INSERT INTO memory.checkpoints (
        checkpoint_id, agent_id, kind, state, blocks, identity_hash, continuity_score, created_at, created_by
    )
    SELECT b.checkpoint_id, me, memory._legacy_kind(b.checkpoint_type),
           memory._legacy_checkpoint_state(b.state_data, b.metadata, b.checkpoint_type, b.identity_hash),
           '[]'::jsonb,
           memory._legacy_identity_hash(b.identity_hash),
           CASE WHEN b.continuity_score BETWEEN 0 AND 1 THEN b.continuity_score::real END,
           coalesce(b.created_at, now()),
           'legacy:' || server
    FROM pg_temp.legacy_checkpoints AS b
    WHERE octet_length(b.state_data::text) <= 1048576  -- the JSON text, as the API measures it
    ORDER BY b.checkpoint_id
    ON CONFLICT (checkpoint_id) DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_checkpoints(text, uuid, uuid, integer) IS
'Private (legacy import): imports the next lim old consciousness checkpoints after key after as checkpoints of agent me (id, time, identity hash and continuity kept; no block snapshot: blocks []; state per _legacy_checkpoint_state). Raises 23505 when an old id belongs to another agent, and the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_working_memory(
    server text, me uuid, after uuid, lim integer, OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    theirs bigint;
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'working') IS NULL THEN
        RETURN;
    END IF;
    PERFORM memory._drop_temp('legacy_working');
    CREATE TEMP TABLE legacy_working (
        working_id uuid, context_type text, active_content jsonb, priority text, ttl_seconds integer,
        expires_at timestamptz, created_at timestamptz
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.legacy_working SELECT w.working_id, w.context_type, w.active_content, w.priority, w.ttl_seconds, '
        'w.expires_at, w.created_at FROM %s AS w WHERE ($1::uuid IS NULL OR w.working_id > $1) ORDER BY w.working_id LIMIT $2',
        memory._legacy_ft(server, 'working')
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    SELECT x.working_id INTO last_key FROM pg_temp.legacy_working AS x ORDER BY x.working_id DESC LIMIT 1;

    SELECT count(*) INTO theirs
    FROM pg_temp.legacy_working AS b JOIN memory.working_memory AS w ON w.working_id = b.working_id
    WHERE w.agent_id <> me;
    PERFORM memory._legacy_check_owner('working-memory', theirs);

    -- Expired items are skipped: they are no longer on anyone's mind.
    INSERT INTO memory.working_memory (
        working_id, agent_id, context_type, content, priority, created_at, updated_at, expires_at
    )
    SELECT b.working_id, me, memory._legacy_context_type(b.context_type), b.active_content,
           memory._legacy_priority(b.priority),
           coalesce(b.created_at, now()), coalesce(b.created_at, now()),
           memory._legacy_expires_at(b.expires_at, coalesce(b.created_at, now()), b.ttl_seconds)
    FROM pg_temp.legacy_working AS b
    WHERE memory._legacy_expires_at(b.expires_at, coalesce(b.created_at, now()), b.ttl_seconds) > clock_timestamp()
      AND memory._legacy_expires_at(b.expires_at, coalesce(b.created_at, now()), b.ttl_seconds) > coalesce(b.created_at, now())
      AND b.active_content IS NOT NULL
      AND octet_length(b.active_content::text) <= 1048576  -- the JSON text, as the table constraint measures it
    ORDER BY b.working_id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_working_memory(text, uuid, uuid, integer) IS
'Private (legacy import): imports the live items (not yet expired) of the next lim old working-memory rows after key after into agent me (id, content, times kept; context_type and priority per their helpers). Raises 23505 when an old id belongs to another agent, and the errors of postgres_fdw.';

CREATE OR REPLACE FUNCTION memory._legacy_step_agent_state(
    server text, me uuid, OUT rows_read integer, OUT rows_written integer
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
BEGIN
    rows_read := 0;
    rows_written := 0;
    IF memory._legacy_ft(server, 'state') IS NULL THEN
        RETURN;
    END IF;
    -- The latest heartbeat wins; an agent that already has a state keeps it.
    EXECUTE format(
        'SELECT s.current_focus, s.emotional_vector, s.working_context, s.active_projects, s.last_heartbeat FROM %s AS s '
        'ORDER BY s.last_heartbeat DESC NULLS LAST, s.state_id LIMIT 1', memory._legacy_ft(server, 'state')
    ) INTO s;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    IF rows_read = 0 THEN
        RETURN;
    END IF;
    INSERT INTO memory.agent_state (agent_id, current_focus, emotional_vector, working_context, last_heartbeat, updated_at)
    VALUES (
        me,
        left(s.current_focus, 10000),
        CASE WHEN jsonb_typeof(s.emotional_vector) = 'object' THEN s.emotional_vector END,
        CASE WHEN cardinality(s.active_projects) > 0
             THEN memory._legacy_object(s.working_context) || jsonb_build_object('legacy_active_projects', to_jsonb(s.active_projects))
             ELSE s.working_context END,
        coalesce(s.last_heartbeat, now()),
        coalesce(s.last_heartbeat, now())
    )
    ON CONFLICT (agent_id) DO NOTHING;
    GET DIAGNOSTICS rows_written = ROW_COUNT;
END
$$;

COMMENT ON FUNCTION memory._legacy_step_agent_state(text, uuid) IS
'Private (legacy import): the old consciousness_state with the latest heartbeat becomes agent me''s state, unless it has one (active_projects go into working_context as legacy_active_projects). Raises the errors of postgres_fdw.';

-- ---------------------------------------------------------------------------
-- The entry points
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._legacy_agent(agent text)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id uuid;
BEGIN
    SELECT a.agent_id INTO id FROM memory.agents AS a WHERE a.name = agent;
    IF id IS NULL THEN
        RAISE EXCEPTION 'agent % does not exist', agent
            USING ERRCODE = 'no_data_found',
                  HINT = 'create it first with memory.create_agent(name, db_role), or pass --role to scripts/import-legacy.sh';
    END IF;
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory._legacy_agent(text) IS 'Private: the id of the agent named agent; raises P0002 when there is none.';

CREATE OR REPLACE FUNCTION memory._legacy_check_server(server text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF server IS NULL OR server !~ '^[a-z][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'invalid server name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', coalesce(left(quote_literal(server), 60), 'NULL')),
                  HINT = 'a foreign server name of 1-40 lower-case letters, digits or _, starting with a letter (e.g. legacy_brain)';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._legacy_check_server(text) IS 'Private: raises 22023 unless server is a lower-case name of 1-40 characters.';

-- column_map was added (issue 20): the old signature would make calls ambiguous.
DROP FUNCTION IF EXISTS memory.import_legacy(text, text, integer, text, text, boolean);
CREATE OR REPLACE FUNCTION memory.import_legacy(
    server text,
    agent text,
    batch_size integer DEFAULT 500,
    remote_schema text DEFAULT 'public',
    core_schema text DEFAULT 'nexus_memory',
    restart boolean DEFAULT false,
    column_map jsonb DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid;
    prog memory.legacy_imports;
    step record;
    done_phase text;
    next_phase text;
    theirs bigint;
    phases constant text [] := ARRAY[
        'projects', 'episodes', 'facts', 'fact_links', 'blocks', 'checkpoints', 'working_memory', 'agent_state', 'done'
    ];
BEGIN
    PERFORM memory._legacy_check_server(server);
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'batch_size must be between 1 and 10000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a few hundred rows per transaction, e.g. 500';
    END IF;
    IF coalesce(remote_schema, '') !~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$' OR coalesce(core_schema, '') !~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$' THEN
        RAISE EXCEPTION 'invalid schema name'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'remote_schema (default public) and core_schema (default nexus_memory) name schemas of the old database';
    END IF;
    column_map := memory._legacy_check_map(column_map);
    me := memory._legacy_agent(agent);
    -- One import per server at a time; a second caller waits and then sees the progress.
    PERFORM pg_advisory_xact_lock(hashtextextended('memory.legacy_import:' || server, 0));

    SELECT * INTO prog FROM memory.legacy_imports AS l WHERE l.server_name = server FOR UPDATE;
    IF FOUND AND prog.agent_id <> me THEN
        RAISE EXCEPTION 'legacy server % is being imported into another agent', server
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'old ids are kept, so a legacy database goes into one agent; SELECT * FROM memory.legacy_imports shows which';
    END IF;
    IF NOT FOUND THEN
        INSERT INTO memory.legacy_imports (server_name, agent_id, remote_schema, core_schema, column_map)
        VALUES (server, me, remote_schema, core_schema, column_map)
        RETURNING * INTO prog;
        PERFORM memory._legacy_attach(server, remote_schema, core_schema, true, column_map);
        -- Before anything is written: old episodes another agent holds already (the
        -- same old database imported through another server name) stop the import.
        EXECUTE format(
            'SELECT count(*) FROM %s AS o WHERE EXISTS (SELECT 1 FROM memory.episodes AS e '
            'WHERE e.episode_id = o.episode_id AND e.agent_id <> $1)', memory._legacy_ft(server, 'episodes')
        ) INTO theirs USING me;
        PERFORM memory._legacy_check_owner('episode', theirs);
    ELSIF prog.remote_schema IS DISTINCT FROM remote_schema OR prog.core_schema IS DISTINCT FROM core_schema
          OR (column_map <> '{}' AND prog.column_map IS DISTINCT FROM column_map) THEN
        UPDATE memory.legacy_imports AS l
        SET remote_schema = import_legacy.remote_schema, core_schema = import_legacy.core_schema,
            column_map = CASE WHEN import_legacy.column_map = '{}' THEN l.column_map ELSE import_legacy.column_map END
        WHERE l.server_name = server
        RETURNING * INTO prog;
        PERFORM memory._legacy_attach(server, remote_schema, core_schema, true, prog.column_map);
    END IF;
    IF restart AND prog.phase = 'done' THEN
        UPDATE memory.legacy_imports AS l
        SET phase = 'projects', last_key = NULL, passes = l.passes + 1, finished_at = NULL, updated_at = now()
        WHERE l.server_name = server
        RETURNING * INTO prog;
    END IF;

    done_phase := prog.phase;
    IF done_phase = 'done' THEN
        RETURN jsonb_build_object(
            'server', server, 'agent', agent, 'phase', 'done', 'rows_read', 0, 'rows_written', 0,
            'next_phase', 'done', 'done', true, 'batches', prog.batches, 'counts', prog.counts
        );
    END IF;
    PERFORM memory._legacy_attach(server, prog.remote_schema, prog.core_schema, false, prog.column_map);

    CASE done_phase
        WHEN 'projects' THEN SELECT * INTO step FROM memory._legacy_step_projects(server, me, prog.last_key, batch_size);
        WHEN 'episodes' THEN SELECT * INTO step FROM memory._legacy_step_episodes(server, me, prog.last_key, batch_size);
        WHEN 'facts' THEN SELECT * INTO step FROM memory._legacy_step_facts(server, me, prog.last_key, batch_size);
        WHEN 'fact_links' THEN SELECT * INTO step FROM memory._legacy_step_fact_links(server, me, prog.last_key, batch_size);
        WHEN 'blocks' THEN SELECT * INTO step FROM memory._legacy_step_blocks(server, me, prog.last_key, batch_size);
        WHEN 'checkpoints' THEN SELECT * INTO step FROM memory._legacy_step_checkpoints(server, me, prog.last_key, batch_size);
        WHEN 'working_memory' THEN
            SELECT * INTO step FROM memory._legacy_step_working_memory(server, me, prog.last_key, batch_size);
        WHEN 'agent_state' THEN
            SELECT s.rows_read, s.rows_written, NULL::uuid AS last_key INTO step
            FROM memory._legacy_step_agent_state(server, me) AS s;
    END CASE;

    -- A short batch ends its phase.
    IF done_phase = 'agent_state' OR step.rows_read < batch_size THEN
        next_phase := phases[array_position(phases, done_phase) + 1];
    ELSE
        next_phase := done_phase;
    END IF;
    UPDATE memory.legacy_imports AS l
    SET phase = next_phase,
        last_key = CASE WHEN next_phase = done_phase THEN step.last_key END,
        batches = l.batches + 1,
        counts = l.counts || jsonb_build_object(done_phase, coalesce((l.counts ->> done_phase)::bigint, 0) + step.rows_written),
        updated_at = now(),
        finished_at = CASE WHEN next_phase = 'done' THEN now() END
    WHERE l.server_name = server
    RETURNING * INTO prog;

    RETURN jsonb_build_object(
        'server', server, 'agent', agent, 'phase', done_phase, 'rows_read', step.rows_read,
        'rows_written', step.rows_written, 'next_phase', next_phase, 'done', next_phase = 'done',
        'batches', prog.batches, 'counts', prog.counts
    );
END
$$;

COMMENT ON FUNCTION memory.import_legacy(text, text, integer, text, text, boolean, jsonb) IS
'Operators: imports the next batch (batch_size old rows, default 500) of the legacy database behind foreign server server (postgres_fdw) into agent agent, in the caller''s transaction, and returns {phase, rows_read, rows_written, next_phase, done, batches, counts}. Call it until done is true, one transaction per call (scripts/import-legacy.sh does): progress is kept in memory.legacy_imports, so a killed import resumes after its last committed batch. Phases: projects, episodes, facts, fact_links, blocks, checkpoints, working_memory, agent_state. Old ids and timestamps are kept; rows are written with ON CONFLICT DO NOTHING, so nothing is written twice; old embeddings are left behind and fresh ones queued. After done, a call changes nothing unless restart is true (a full second pass, which writes only what is missing). remote_schema (default public) holds zep_* and projects, core_schema (default nexus_memory) memory_blocks and consciousness_*; the episodes are also looked for in the other known layouts (core_schema.zep_episodic_memory keyed by uuid, memory_system.episodes) and old columns by their known synonyms; column_map ({"episodes": {"table": "schema.table", "content": "body", ...}}) names what is elsewhere, and is kept for the following calls. Raises 22023 (bad server name, batch_size, schema or column_map), P0002 (no such agent), 42704 (no such foreign server), 42501 (memory_owner cannot use it), 42P01 (old tables missing), 42703 (an unknown layout: the required columns it lacks are named, before anything is written), 55000 (the server is imported into another agent), 23505 (old ids belong to another agent), 08001 (cannot connect).';

CREATE OR REPLACE FUNCTION memory.legacy_import_report(server text, agent text)
RETURNS TABLE (
    item text,
    old_rows bigint,
    new_rows bigint,
    missing_in_new bigint,
    extra_in_new bigint,
    duplicated bigint,
    checksum_diffs bigint,
    field_diffs bigint,
    embedded bigint,
    coverage numeric,
    missing_ids text [],
    extra_ids text [],
    note text
)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    me uuid;
    prog memory.legacy_imports;
    serving smallint;
    ft text;
    n_unimportable bigint;
    n_old_vectors bigint;
    n_rows bigint;
BEGIN
    PERFORM memory._legacy_check_server(server);
    me := memory._legacy_agent(agent);
    SELECT * INTO prog FROM memory.legacy_imports AS l WHERE l.server_name = server;
    IF NOT FOUND OR prog.agent_id <> me THEN
        RAISE EXCEPTION 'legacy server % has not been imported into agent %', server, agent
            USING ERRCODE = 'no_data_found', HINT = 'run memory.import_legacy(server, agent) first (make import-legacy)';
    END IF;
    PERFORM memory._legacy_attach(server, prog.remote_schema, prog.core_schema, false, prog.column_map);
    SELECT m.model_id INTO serving FROM memory.embedding_models AS m WHERE m.is_serving;

    -- ---------------------------------------------------------------- episodes
    PERFORM memory._drop_temp('r_old_episodes');
    CREATE TEMP TABLE r_old_episodes (
        id uuid, content text, occurred timestamptz, created_at timestamptz, importance_score double precision,
        tags text [], metadata jsonb, project_id uuid, project_name text
    ) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.r_old_episodes SELECT e.episode_id, e.content, e."timestamp", e.created_at, e.importance_score, '
        'e.tags, e.metadata, e.project_id, p.project_name FROM %s AS e LEFT JOIN %s AS p ON p.project_id = e.project_id',
        memory._legacy_ft(server, 'episodes'), memory._legacy_ft(server, 'projects')
    );
    EXECUTE format('SELECT count(e.embedding) FROM %s AS e', memory._legacy_ft(server, 'episodes')) INTO n_old_vectors;
    SELECT count(*) INTO n_unimportable FROM pg_temp.r_old_episodes AS o WHERE NOT memory._legacy_importable(o.content, 500000);
    RETURN QUERY
    WITH o AS (
        SELECT x.*, memory._sha256(x.content) AS sha FROM pg_temp.r_old_episodes AS x
    ),
    n AS (
        SELECT e.*, p.name AS project_name_new,
               EXISTS (
                   SELECT 1 FROM memory.embedding_jobs AS j
                   JOIN memory.pooled_embeddings AS pe ON pe.episode_id = j.episode_id AND pe.model_id = j.model_id
                   WHERE j.episode_id = e.episode_id AND j.model_id = serving AND j.state = 'done'
                     AND j.embedded_sha256 = e.content_sha256 AND pe.content_sha256 = e.content_sha256
               ) AS is_embedded
        FROM memory.episodes AS e LEFT JOIN memory.projects AS p ON p.project_id = e.project_id
        WHERE e.agent_id = me
    ),
    dup AS (
        SELECT coalesce(sum(greatest(nn.c - coalesce(oo.c, 0), 0)), 0)::bigint AS d
        FROM (SELECT n.content_sha256, n.occurred_at, count(*) AS c FROM n GROUP BY 1, 2) AS nn
        LEFT JOIN (
            SELECT o.sha, coalesce(o.occurred, o.created_at) AS occurred_at, count(*) AS c FROM o GROUP BY 1, 2
        ) AS oo ON oo.sha = nn.content_sha256 AND oo.occurred_at = nn.occurred_at
    )
    SELECT 'episodes'::text,
           (SELECT count(*) FROM o),
           (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.episode_id = o.id)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.episode_id)),
           (SELECT dup.d FROM dup),
           (SELECT count(*) FROM o JOIN n ON n.episode_id = o.id WHERE n.content_sha256 <> o.sha),
           (SELECT count(*) FROM o JOIN n ON n.episode_id = o.id
            WHERE n.occurred_at IS DISTINCT FROM coalesce(o.occurred, o.created_at, n.occurred_at)
               OR n.recorded_at IS DISTINCT FROM coalesce(o.created_at, o.occurred, n.recorded_at)
               OR n.importance IS DISTINCT FROM memory._legacy_unit(o.importance_score, 0.5)
               OR n.tags IS DISTINCT FROM memory._legacy_tags(o.tags)
               OR n.metadata IS DISTINCT FROM memory._legacy_episode_metadata(o.metadata, o.tags)
               OR n.project_name_new IS DISTINCT FROM memory._legacy_project_name(o.project_name, o.project_id)),
           (SELECT count(*) FROM n WHERE n.is_embedded),
           (SELECT CASE WHEN count(*) = 0 THEN 100 ELSE round(100.0 * count(*) FILTER (WHERE n.is_embedded) / count(*), 2) END FROM n),
           ARRAY(SELECT o.id::text FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.episode_id = o.id) ORDER BY o.id LIMIT 20),
           ARRAY(SELECT n.episode_id::text FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.episode_id)
                 ORDER BY n.episode_id LIMIT 20),
           concat_ws('; ',
               format('%s old embedding(s) left behind; fresh ones are queued for the active model', n_old_vectors),
               CASE WHEN n_unimportable > 0 THEN format('%s old episode(s) with a blank or over-500,000-character text cannot be stored', n_unimportable) END
           );

    -- ---------------------------------------------------------------- projects
    PERFORM memory._drop_temp('r_old_projects');
    CREATE TEMP TABLE r_old_projects (id uuid, name text, dna text, description text, status text) ON COMMIT DROP;
    EXECUTE format(
        'INSERT INTO pg_temp.r_old_projects SELECT p.project_id, p.project_name, p.project_dna, p.description, p.status FROM %s AS p',
        memory._legacy_ft(server, 'projects')
    );
    RETURN QUERY
    WITH o AS (SELECT x.*, memory._legacy_project_name(x.name, x.id) AS new_name FROM pg_temp.r_old_projects AS x),
    n AS (SELECT p.* FROM memory.projects AS p WHERE p.agent_id = me)
    SELECT 'projects'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.name = o.new_name)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.new_name = n.name)),
           0::bigint,
           (SELECT count(*) FROM o JOIN n ON n.name = o.new_name
            WHERE n.dna IS DISTINCT FROM left(o.dna, 200) OR n.description IS DISTINCT FROM o.description),
           (SELECT count(*) FROM o JOIN n ON n.name = o.new_name
            WHERE n.status IS DISTINCT FROM CASE WHEN o.status IN ('active', 'paused', 'completed', 'archived') THEN o.status ELSE 'active' END),
           NULL::bigint, NULL::numeric,
           ARRAY(SELECT o.new_name FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.name = o.new_name) ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.name FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.new_name = n.name) ORDER BY 1 LIMIT 20),
           'matched by name'::text;

    -- ---------------------------------------------------------------- facts and their links
    ft := memory._legacy_ft(server, 'facts');
    PERFORM memory._drop_temp('r_old_facts');
    CREATE TEMP TABLE r_old_facts (
        id uuid, concept text, definition text, relationships jsonb, confidence_score double precision,
        source_episodes uuid [], created_at timestamptz
    ) ON COMMIT DROP;
    IF ft IS NOT NULL THEN
        EXECUTE format(
            'INSERT INTO pg_temp.r_old_facts SELECT f.semantic_id, f.concept, f.definition, f.relationships, f.confidence_score, '
            'f.source_episodes, f.created_at FROM %s AS f', ft
        );
    END IF;
    RETURN QUERY
    WITH o AS (
        SELECT x.*, memory._sha256(x.concept || E'\n' || memory._legacy_fact_statement(x.concept, x.definition)) AS sha
        FROM pg_temp.r_old_facts AS x
    ),
    n AS (
        SELECT f.*, EXISTS (
            SELECT 1 FROM memory.embedding_jobs AS j
            WHERE j.fact_id = f.fact_id AND j.model_id = serving AND j.state = 'done' AND j.embedded_sha256 = f.content_sha256
        ) AS is_embedded
        FROM memory.facts AS f WHERE f.agent_id = me
    )
    SELECT 'facts'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.fact_id = o.id)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.fact_id)),
           (SELECT coalesce(sum(greatest(nn.c - coalesce(oo.c, 0), 0)), 0)::bigint
            FROM (SELECT n.content_sha256, count(*) AS c FROM n GROUP BY 1) AS nn
            LEFT JOIN (SELECT o.sha, count(*) AS c FROM o GROUP BY 1) AS oo ON oo.sha = nn.content_sha256),
           (SELECT count(*) FROM o JOIN n ON n.fact_id = o.id WHERE n.content_sha256 <> o.sha),
           (SELECT count(*) FROM o JOIN n ON n.fact_id = o.id
            WHERE n.confidence IS DISTINCT FROM memory._legacy_unit(o.confidence_score, 0.5)
               OR n.valid_from IS DISTINCT FROM coalesce(o.created_at, n.valid_from)
               OR n.source_episodes IS DISTINCT FROM coalesce(o.source_episodes[1:1000], '{}')),
           (SELECT count(*) FROM n WHERE n.is_embedded),
           (SELECT CASE WHEN count(*) = 0 THEN 100 ELSE round(100.0 * count(*) FILTER (WHERE n.is_embedded) / count(*), 2) END FROM n),
           ARRAY(SELECT o.id::text FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.fact_id = o.id) ORDER BY o.id LIMIT 20),
           ARRAY(SELECT n.fact_id::text FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.fact_id) ORDER BY n.fact_id LIMIT 20),
           CASE WHEN ft IS NULL THEN 'no zep_semantic_memory in the old database'
                ELSE 'definition -> statement; relationships kept in metadata.legacy_relationships' END;

    RETURN QUERY
    WITH e AS (
        SELECT DISTINCT b.id AS from_fact, t.fact_id AS to_fact, r.relation
        FROM pg_temp.r_old_facts AS b
        CROSS JOIN LATERAL memory._legacy_relationships(b.relationships) AS r
        LEFT JOIN LATERAL (
            SELECT f.fact_id FROM memory.facts AS f
            WHERE f.agent_id = me AND lower(f.concept) = lower(r.concept)
            ORDER BY f.recorded_at DESC, f.fact_id LIMIT 1
        ) AS t ON true
    ),
    o AS (SELECT e.* FROM e WHERE e.to_fact IS NOT NULL AND e.to_fact <> e.from_fact),
    n AS (
        SELECT l.* FROM memory.fact_links AS l
        WHERE l.agent_id = me AND EXISTS (SELECT 1 FROM pg_temp.r_old_facts AS b WHERE b.id = l.from_fact)
    )
    SELECT 'fact_links'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (
               SELECT 1 FROM n WHERE (n.from_fact, n.to_fact, n.relation) = (o.from_fact, o.to_fact, o.relation))),
           (SELECT count(*) FROM n WHERE NOT EXISTS (
               SELECT 1 FROM o WHERE (n.from_fact, n.to_fact, n.relation) = (o.from_fact, o.to_fact, o.relation))),
           0::bigint, 0::bigint, 0::bigint, NULL::bigint, NULL::numeric,
           ARRAY(SELECT o.from_fact || '->' || o.to_fact || ':' || o.relation FROM o WHERE NOT EXISTS (
               SELECT 1 FROM n WHERE (n.from_fact, n.to_fact, n.relation) = (o.from_fact, o.to_fact, o.relation))
                 ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.from_fact || '->' || n.to_fact || ':' || n.relation FROM n WHERE NOT EXISTS (
               SELECT 1 FROM o WHERE (n.from_fact, n.to_fact, n.relation) = (o.from_fact, o.to_fact, o.relation))
                 ORDER BY 1 LIMIT 20),
           format('old relationship entries naming a known concept; %s entries name no fact (kept in metadata)',
                  (SELECT count(*) FROM e WHERE e.to_fact IS NULL));

    -- ---------------------------------------------------------------- blocks
    ft := memory._legacy_ft(server, 'blocks');
    PERFORM memory._drop_temp('r_old_blocks');
    CREATE TEMP TABLE r_old_blocks (id uuid, label text, value text, description text, read_only boolean) ON COMMIT DROP;
    IF ft IS NOT NULL THEN
        EXECUTE format('INSERT INTO pg_temp.r_old_blocks SELECT b.block_id, b.label, b.value, b.description, b.read_only FROM %s AS b', ft);
    END IF;
    RETURN QUERY
    WITH o AS (SELECT x.*, memory._legacy_label(x.label) AS new_label FROM pg_temp.r_old_blocks AS x),
    n AS (SELECT b.* FROM memory.blocks AS b WHERE b.agent_id = me)
    SELECT 'blocks'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.label = o.new_label)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.new_label = n.label)),
           0::bigint,
           (SELECT count(*) FROM o JOIN n ON n.label = o.new_label WHERE memory._sha256(n.value) <> memory._sha256(o.value)),
           (SELECT count(*) FROM o JOIN n ON n.label = o.new_label
            WHERE n.read_only IS DISTINCT FROM coalesce(o.read_only, false)
               OR (o.description IS NOT NULL AND n.description IS DISTINCT FROM left(o.description, 2000))),
           NULL::bigint, NULL::numeric,
           ARRAY(SELECT o.new_label FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.label = o.new_label) ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.label FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.new_label = n.label) ORDER BY 1 LIMIT 20),
           CASE WHEN ft IS NULL THEN format('no %s.memory_blocks in the old database', prog.core_schema)
                ELSE 'matched by label; history in memory.block_history' END;

    -- ---------------------------------------------------------------- checkpoints
    ft := memory._legacy_ft(server, 'checkpoints');
    PERFORM memory._drop_temp('r_old_checkpoints');
    CREATE TEMP TABLE r_old_checkpoints (
        id uuid, checkpoint_type text, state_data jsonb, identity_hash text, continuity_score double precision,
        created_at timestamptz, metadata jsonb
    ) ON COMMIT DROP;
    IF ft IS NOT NULL THEN
        EXECUTE format(
            'INSERT INTO pg_temp.r_old_checkpoints SELECT c.checkpoint_id, c.checkpoint_type, c.state_data, c.identity_hash, '
            'c.continuity_score, c.created_at, c.metadata FROM %s AS c', ft
        );
    END IF;
    RETURN QUERY
    WITH o AS (
        SELECT x.*, memory._legacy_identity_hash(x.identity_hash) || ':'
                    || memory._legacy_checkpoint_state(x.state_data, x.metadata, x.checkpoint_type, x.identity_hash)::text AS sig
        FROM pg_temp.r_old_checkpoints AS x
    ),
    n AS (
        -- checkpoints the system wrote after the import began (memory-auto-checkpoint) are
        -- not part of the comparison
        SELECT c.*, c.identity_hash || ':' || c.state::text AS sig FROM memory.checkpoints AS c
        WHERE c.agent_id = me AND NOT (c.kind = 'auto' AND c.created_at >= prog.started_at)
    )
    SELECT 'checkpoints'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.checkpoint_id = o.id)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.checkpoint_id)),
           0::bigint,
           (SELECT count(*) FROM o JOIN n ON n.checkpoint_id = o.id WHERE memory._sha256(n.sig) <> memory._sha256(o.sig)),
           (SELECT count(*) FROM o JOIN n ON n.checkpoint_id = o.id
            WHERE n.kind IS DISTINCT FROM memory._legacy_kind(o.checkpoint_type)
               OR n.created_at IS DISTINCT FROM coalesce(o.created_at, n.created_at)),
           NULL::bigint, NULL::numeric,
           ARRAY(SELECT o.id::text FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.checkpoint_id = o.id) ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.checkpoint_id::text FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.checkpoint_id)
                 ORDER BY 1 LIMIT 20),
           concat_ws('; ',
               CASE WHEN ft IS NULL THEN format('no %s.consciousness_checkpoints in the old database', prog.core_schema)
                    ELSE 'old checkpoints carry no block snapshot (blocks [])' END,
               (SELECT format('%s auto checkpoint(s) written since the import are not compared', count(*))
                FROM memory.checkpoints AS c
                WHERE c.agent_id = me AND c.kind = 'auto' AND c.created_at >= prog.started_at
                HAVING count(*) > 0));

    -- ---------------------------------------------------------------- working memory
    ft := memory._legacy_ft(server, 'working');
    PERFORM memory._drop_temp('r_old_working');
    CREATE TEMP TABLE r_old_working (id uuid, content jsonb, expires timestamptz, created_at timestamptz) ON COMMIT DROP;
    IF ft IS NOT NULL THEN
        EXECUTE format(
            'INSERT INTO pg_temp.r_old_working SELECT w.working_id, w.active_content, '
            'memory._legacy_expires_at(w.expires_at, coalesce(w.created_at, now()), w.ttl_seconds), w.created_at FROM %s AS w', ft
        );
    END IF;
    RETURN QUERY
    WITH o AS (SELECT x.* FROM pg_temp.r_old_working AS x WHERE x.expires > clock_timestamp()),
    n AS (SELECT w.* FROM memory.working_memory AS w WHERE w.agent_id = me AND w.expires_at > clock_timestamp())
    SELECT 'working_memory'::text, (SELECT count(*) FROM o), (SELECT count(*) FROM n),
           (SELECT count(*) FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.working_id = o.id)),
           (SELECT count(*) FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.working_id)),
           0::bigint,
           (SELECT count(*) FROM o JOIN n ON n.working_id = o.id WHERE n.content IS DISTINCT FROM o.content),
           (SELECT count(*) FROM o JOIN n ON n.working_id = o.id WHERE n.expires_at IS DISTINCT FROM o.expires),
           NULL::bigint, NULL::numeric,
           ARRAY(SELECT o.id::text FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.working_id = o.id) ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.working_id::text FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = n.working_id) ORDER BY 1 LIMIT 20),
           format('live items only: %s old item(s) had expired and were skipped',
                  (SELECT count(*) FROM pg_temp.r_old_working AS x WHERE x.expires <= clock_timestamp()));

    -- ---------------------------------------------------------------- agent state and what is not imported
    ft := memory._legacy_ft(server, 'state');
    IF ft IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM %s', ft) INTO n_rows;
        RETURN QUERY
        SELECT 'agent_state'::text, least(n_rows, 1),
               (SELECT count(*) FROM memory.agent_state AS s WHERE s.agent_id = me),
               greatest(least(n_rows, 1) - (SELECT count(*) FROM memory.agent_state AS s WHERE s.agent_id = me), 0),
               0::bigint, 0::bigint, 0::bigint, 0::bigint, NULL::bigint, NULL::numeric, '{}'::text [], '{}'::text [],
               format('%s old consciousness_state row(s); the one with the latest heartbeat is kept', n_rows);
    END IF;
    FOREACH ft IN ARRAY ARRAY['instances', 'consensus'] LOOP
        CONTINUE WHEN memory._legacy_ft(server, ft) IS NULL;
        EXECUTE format('SELECT count(*) FROM %s', memory._legacy_ft(server, ft)) INTO n_rows;
        RETURN QUERY
        SELECT CASE ft WHEN 'instances' THEN 'instance_network' ELSE 'distributed_consensus' END, n_rows,
               0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, NULL::bigint, NULL::numeric,
               '{}'::text [], '{}'::text [],
               'not imported: instances register themselves again (register_instance); old votes are not decisions of live instances'::text;
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory.legacy_import_report(text, text) IS
'Operators: verifies the import of the legacy database behind server into agent, one row per table: old_rows versus new_rows, missing_in_new and extra_in_new (with up to 20 of their ids or names), duplicated (new rows beyond the old ones with the same text and time), checksum_diffs (sha256 of the text, or of the mapped content, differs), field_diffs (times, scores, tags, metadata, project, flags differ from the mapped old values), embedded and coverage (percent of the agent''s episodes and facts with current vectors of the serving model), and a note. Working memory compares live items only. Reads the old database again. Raises 22023 (bad server name), P0002 (no such agent, or no import of server into it), and the errors of postgres_fdw.';
