-- Legacy import (issue 7), 2 of 4: the old brain's tables, where they may be in its
-- several layouts, their columns, and the foreign tables (postgres_fdw) the import
-- reads them through. memory_owner reads the old database through its own user
-- mapping.
SET ROLE memory_owner;

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

-- One page of an old table, read into pg_temp.legacy_<suffix> with the columns that
-- memory._legacy_tables() lists for it (the old embedding left out): the next lim rows
-- after key after, by key (its first column); all rows with lim NULL. An episode also
-- gets the name of its old project (project_name), by which the import finds its new
-- project, in the same remote query (the join runs in the old database). The temporary
-- table exists (empty) when the old database has no such table. Every phase of the
-- import and its report read the old tables through it.
CREATE OR REPLACE FUNCTION memory._legacy_page(
    server text, suffix text, after uuid DEFAULT NULL, lim integer DEFAULT NULL,
    OUT rows_read integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl text := 'legacy_' || suffix;
    ft text := memory._legacy_ft(server, suffix);
    cols text [];
    sel text [];
    key text;
    joined text := '';
BEGIN
    SELECT array_agg(format('%I %s', c.column_name, c.column_type) ORDER BY c.pos),
           array_agg(format('o.%I', c.column_name) ORDER BY c.pos)
    INTO cols, sel
    FROM memory._legacy_columns(suffix) AS c
    WHERE c.column_name <> 'embedding';
    IF cols IS NULL THEN
        RAISE EXCEPTION 'no old table %', suffix USING ERRCODE = 'invalid_parameter_value';
    END IF;
    key := (SELECT c.column_name FROM memory._legacy_columns(suffix) AS c WHERE c.pos = 1);
    IF suffix = 'episodes' THEN
        cols := cols || 'project_name text'::text;
        sel := sel || 'p.project_name'::text;
        joined := format('LEFT JOIN %s AS p ON p.project_id = o.project_id', memory._legacy_ft(server, 'projects'));
    END IF;
    PERFORM memory._drop_temp(tbl);
    EXECUTE format('CREATE TEMP TABLE %I (%s) ON COMMIT DROP', tbl, array_to_string(cols, ', '));
    rows_read := 0;
    IF ft IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'INSERT INTO pg_temp.%1$I SELECT %2$s FROM %3$s AS o %4$s WHERE ($1::uuid IS NULL OR o.%5$I > $1) ORDER BY o.%5$I LIMIT $2',
        tbl, array_to_string(sel, ', '), ft, joined, key
    ) USING after, lim;
    GET DIAGNOSTICS rows_read = ROW_COUNT;
    EXECUTE format('SELECT %2$I FROM pg_temp.%1$I ORDER BY 1 DESC LIMIT 1', tbl, key) INTO last_key;
END
$$;

COMMENT ON FUNCTION memory._legacy_page(text, text, uuid, integer) IS
'Private (legacy import): reads the next lim rows (all with lim NULL) after key after of the old table suffix of server (memory._legacy_tables(), ordered by its first column, the old embedding left out; episodes with the project_name of their old project) into the temporary table pg_temp.legacy_<suffix>, created empty when the old database has no such table. Returns the rows read and the last key read. Raises 22023 for an unknown suffix, and the errors of postgres_fdw.';

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
-- notices when the session has no temporary schema yet). Also used by 141-import.sql.
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
