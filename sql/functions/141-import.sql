-- Import of an agent's export (format in 140-export.sql, whose helpers it shares;
-- docs/portability.md).
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Import
-- ---------------------------------------------------------------------------

-- Blocks with their full history, exactly as exported (versions, times, authors): the
-- block triggers would renumber them, so this runs with triggers off
-- (session_replication_role = replica, pinned to this function; migration 010 lets
-- memory_owner set it). Foreign keys are not checked in that mode: it writes history
-- only for the blocks it has just inserted, of the target agent, which exists.
CREATE OR REPLACE FUNCTION memory._import_blocks(target uuid, remap boolean, OUT blocks integer, OUT versions integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET session_replication_role = replica
AS $$
BEGIN
    PERFORM memory._drop_temp('import_new_blocks');
    CREATE TEMP TABLE import_new_blocks (block_id uuid PRIMARY KEY) ON COMMIT DROP;
    EXECUTE memory._import_insert_sql('block') INTO blocks USING target, remap;
    EXECUTE memory._import_insert_sql('block_version') INTO versions USING target, remap;
END
$$;

COMMENT ON FUNCTION memory._import_blocks(uuid, boolean) IS
'Private (import_agent): inserts the block records of pg_temp.import_recs whose label agent target does not have yet, exactly as exported, and the block_version records of those blocks into block_history, with triggers off for this function only. Returns how many of each. Raises the tables'' check and unique errors.';

-- The first line of the export that fails a check, as (line number, what failed).
CREATE OR REPLACE FUNCTION memory._import_fail(code text, message text, line bigint, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = code,
        MESSAGE = message,
        DETAIL = CASE WHEN line IS NULL THEN detail ELSE format('line %s of the file: %s', line, detail) END,
        HINT = hint;
END
$$;

COMMENT ON FUNCTION memory._import_fail(text, text, bigint, text, text) IS
'Private (import_agent): raises SQLSTATE code with message, a detail naming the line of the file (when given) and a hint. Never returns.';

-- The INSERT of one record type's records of pg_temp.import_recs into its table, for
-- target agent $1 with ids remapped when $2, generated from the format's description
-- (memory._export_record_types()) and the table's column types: agent_id is the target,
-- a project_id the project's id in the target (pg_temp.import_projects), other uuids
-- (and uuid arrays) are ids of the export, kept or remapped. Rows already there are kept.
-- The statement returns how many rows it wrote; the ids of new episodes and facts go to
-- pg_temp.import_new_owners (their vectors may be reused), those of new blocks to
-- pg_temp.import_new_blocks (only their history is written).
CREATE OR REPLACE FUNCTION memory._import_insert_sql(record_type text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format(
        'WITH ins AS (INSERT INTO memory.%I (%s) SELECT %s FROM pg_temp.import_recs AS x WHERE x.rtype = %L%s '
        'ORDER BY x.n ON CONFLICT DO NOTHING RETURNING %s AS id)%s SELECT count(*)::integer FROM ins',
        t.tbl, c.cols, c.exprs, t.rtype,
        CASE t.rtype
            -- items that expired since the export are no longer on the agent's mind
            WHEN 'working_memory' THEN ' AND (x.r ->> ''expires_at'')::timestamptz > clock_timestamp()'
            WHEN 'vote' THEN ' AND EXISTS (SELECT 1 FROM memory.decisions AS d WHERE d.agent_id = $1'
                || ' AND d.decision_id = memory._import_id($2, $1, x.r ->> ''decision_id''))'
                || ' AND EXISTS (SELECT 1 FROM memory.instances AS i WHERE i.agent_id = $1'
                || ' AND i.instance_id = memory._import_id($2, $1, x.r ->> ''instance_id''))'
            -- a block whose label the agent has is kept as it is (memory._import_blocks)
            WHEN 'block' THEN ' AND NOT EXISTS (SELECT 1 FROM memory.blocks AS b WHERE b.agent_id = $1'
                || ' AND b.label = x.r ->> ''label'')'
            WHEN 'block_version' THEN ' AND memory._import_id($2, $1, x.r ->> ''block_id'')'
                || ' IN (SELECT nb.block_id FROM pg_temp.import_new_blocks AS nb)'
            ELSE ''
        END,
        CASE WHEN t.rtype IN ('episode', 'fact', 'block') THEN quote_ident(t.id_fields[1]) ELSE 'NULL::uuid' END,
        CASE t.rtype
            WHEN 'block' THEN ', new AS (INSERT INTO pg_temp.import_new_blocks SELECT ins.id FROM ins)'
            WHEN 'episode' THEN ', new AS (INSERT INTO pg_temp.import_new_owners SELECT ''episode'', ins.id FROM ins)'
            WHEN 'fact' THEN ', new AS (INSERT INTO pg_temp.import_new_owners SELECT ''fact'', ins.id FROM ins)'
            ELSE ''
        END
    )
    FROM memory._export_record_types() AS t
    CROSS JOIN LATERAL (
        SELECT string_agg(quote_ident(f.key), ', ' ORDER BY f.ord) AS cols,
               string_agg(CASE
                   WHEN f.key = 'agent_id' THEN '$1'
                   WHEN f.key = 'project_id'
                       THEN '(SELECT m.new_id FROM pg_temp.import_projects AS m WHERE m.old_id = (x.r ->> ''project_id'')::uuid)'
                   -- checkpoint ids that a restore wrote into a checkpoint's state
                   WHEN t.rtype = 'checkpoint' AND f.key = 'state' THEN 'memory._import_state($2, $1, x.r -> ''state'')'
                   WHEN a.atttypid = 'uuid'::regtype THEN format('memory._import_id($2, $1, x.r ->> %L)', f.key)
                   WHEN a.atttypid = 'uuid[]'::regtype THEN format(
                       'ARRAY(SELECT memory._import_id($2, $1, e.v) FROM jsonb_array_elements_text(x.r -> %L) '
                       'WITH ORDINALITY AS e (v, o) ORDER BY e.o)', f.key)
                   WHEN a.atttypid = 'text[]'::regtype THEN format(
                       'ARRAY(SELECT e.v FROM jsonb_array_elements_text(x.r -> %L) WITH ORDINALITY AS e (v, o) ORDER BY e.o)',
                       f.key)
                   WHEN a.atttypid = 'jsonb'::regtype THEN format('nullif(x.r -> %L, ''null'')', f.key)
                   WHEN a.atttypid = 'bytea'::regtype THEN format('decode(x.r ->> %L, ''hex'')', f.key)
                   ELSE format('(x.r ->> %L)::%s', f.key, format_type(a.atttypid, a.atttypmod))
               END, ', ' ORDER BY f.ord) AS exprs
        FROM memory._export_fields() AS f
        JOIN pg_catalog.pg_attribute AS a
            ON a.attrelid = format('memory.%I', t.tbl)::regclass AND a.attname = f.key AND a.attgenerated = ''
        WHERE f.rtype = t.rtype
    ) AS c
    WHERE t.rtype = record_type AND t.tbl IS NOT NULL
$$;

COMMENT ON FUNCTION memory._import_insert_sql(text) IS
'Private (import_agent): the INSERT of the records of type record_type of pg_temp.import_recs into its table for target agent $1, ids remapped when $2, generated from memory._export_record_types() and the table''s column types; it returns how many rows it wrote and adds new episodes and facts to pg_temp.import_new_owners, new blocks to pg_temp.import_new_blocks. NULL for embedding and unknown types. Raises nothing.';

CREATE OR REPLACE FUNCTION memory.import_agent(
    export text,
    agent_name text DEFAULT NULL,
    db_role name DEFAULT NULL,
    remap_ids boolean DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET timezone = 'UTC'
SET extra_float_digits = 1
AS $$
DECLARE
    header jsonb;
    header_text text;
    body text;
    n_lines bigint;
    bad record;
    src_id uuid;
    src_name text;
    target uuid;
    target_name text;
    remap boolean;
    collisions bigint;
    inserted jsonb := '{}';
    present jsonb := '{}';
    k integer;
    rt text;
    total integer;
    blk record;
    reused integer := 0;
    queued integer := 0;
    skipped_expired integer := 0;
    models_missing jsonb;
    created_agent boolean := false;
    fix_hint constant text := 'export the agent again with memory.export_agent (make export); do not edit the file';
BEGIN
    -- ------------------------------------------------------------ framing and header
    IF export IS NULL OR export = '' THEN
        PERFORM memory._import_fail('22023', 'export is empty', NULL, 'no text was given',
            'pass the whole content of a file written by memory.export_agent (make export)');
    END IF;
    header_text := split_part(export, E'\n', 1);
    BEGIN
        header := header_text::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        IF strpos(export, E'\n') = 0 THEN
            PERFORM memory._import_fail('22000', 'export is truncated', 1, 'the header line is incomplete', fix_hint);
        END IF;
        PERFORM memory._import_fail('22P02', 'export header is not valid JSON', 1, 'the first line must be a JSON object',
            'pass a file written by memory.export_agent (make export)');
    END;
    IF jsonb_typeof(header) <> 'object' OR header ->> 'format' IS DISTINCT FROM 'agent-memory-export' THEN
        PERFORM memory._import_fail('22023', 'not an agent-memory export', 1,
            'the header has no "format": "agent-memory-export"', 'pass a file written by memory.export_agent (make export)');
    END IF;
    IF jsonb_typeof(header -> 'version') IS DISTINCT FROM 'number' OR (header ->> 'version') <> '1' THEN
        PERFORM memory._import_fail('0A000', format('unsupported export version %s', coalesce(header ->> 'version', 'NULL')), 1,
            'this database reads version 1', 'export the agent again with this version of agent-memory');
    END IF;
    IF jsonb_typeof(header -> 'agent') IS DISTINCT FROM 'object'
       OR (header #>> '{agent,agent_id}') !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR jsonb_typeof(header #> '{agent,name}') IS DISTINCT FROM 'string'
       OR (header ->> 'sha256') !~ '^[0-9a-f]{64}$'
       OR jsonb_typeof(header -> 'counts') IS DISTINCT FROM 'object'
       OR jsonb_typeof(header -> 'models') IS DISTINCT FROM 'array'
       OR jsonb_typeof(header -> 'lines') IS DISTINCT FROM 'number' THEN
        PERFORM memory._import_fail('22000', 'export header is incomplete', 1,
            'it needs agent {name, agent_id}, models, counts, lines and sha256', fix_hint);
    END IF;
    src_id := (header #>> '{agent,agent_id}')::uuid;
    src_name := header #>> '{agent,name}';

    -- ------------------------------------------------------------ body integrity
    IF right(export, 1) <> E'\n' THEN
        PERFORM memory._import_fail('22000', 'export is truncated', NULL, 'the last line does not end with a newline', fix_hint);
    END IF;
    body := substr(export, strpos(export, E'\n') + 1);
    n_lines := length(body) - length(replace(body, E'\n', ''));
    IF n_lines <> (header ->> 'lines')::bigint THEN
        PERFORM memory._import_fail('22000', 'export is truncated', NULL,
            format('the header announces %s records, the file has %s', header ->> 'lines', n_lines), fix_hint);
    END IF;
    IF encode(sha256(convert_to(body, 'UTF8')), 'hex') <> header ->> 'sha256' THEN
        PERFORM memory._import_fail('22000', 'export is corrupted', NULL,
            'the sha256 of the records does not match the header''s', fix_hint);
    END IF;

    -- ------------------------------------------------------------ records
    PERFORM memory._drop_temp('import_lines');
    CREATE TEMP TABLE import_lines (n bigint PRIMARY KEY, line text) ON COMMIT DROP;
    INSERT INTO pg_temp.import_lines
    SELECT t.ord + 1, t.line FROM string_to_table(body, E'\n') WITH ORDINALITY AS t (line, ord) WHERE t.ord <= n_lines;
    PERFORM memory._drop_temp('import_recs');
    CREATE TEMP TABLE import_recs (n bigint PRIMARY KEY, rtype text, r jsonb) ON COMMIT DROP;
    BEGIN
        INSERT INTO pg_temp.import_recs SELECT l.n, l.line::jsonb ->> 'type', l.line::jsonb FROM pg_temp.import_lines AS l;
    EXCEPTION WHEN invalid_text_representation THEN
        -- find the line (only on this path: one subtransaction per line)
        FOR bad IN SELECT l.n, l.line FROM pg_temp.import_lines AS l ORDER BY l.n LOOP
            BEGIN
                PERFORM bad.line::jsonb;
            EXCEPTION WHEN invalid_text_representation THEN
                PERFORM memory._import_fail('22P02', 'export holds a line that is not valid JSON', bad.n,
                    'not a JSON value', fix_hint);
            END;
        END LOOP;
        RAISE;
    END;

    SELECT x.n, x.rtype INTO bad FROM pg_temp.import_recs AS x
    WHERE jsonb_typeof(x.r) <> 'object' OR x.rtype IS NULL OR x.rtype <> ALL (memory._export_types())
    ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export holds a record of unknown type', bad.n,
            format('type %s', coalesce(quote_literal(left(bad.rtype, 40)), 'missing')), fix_hint);
    END IF;

    -- every record of the export's agent
    SELECT x.n, x.r ->> 'agent_id' AS agent INTO bad FROM pg_temp.import_recs AS x
    WHERE (x.r ->> 'agent_id') IS DISTINCT FROM src_id::text ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export holds a record of another agent', bad.n,
            format('the record''s agent_id is %s, the export is of agent %s', coalesce(bad.agent, 'missing'), src_id),
            'an export holds one agent''s memory; export each agent separately');
    END IF;

    -- fields and their types
    SELECT x.n, x.rtype, f.key, f.jtype INTO bad
    FROM pg_temp.import_recs AS x JOIN memory._export_fields() AS f ON f.rtype = x.rtype
    WHERE NOT (x.r ? f.key)
       OR (jsonb_typeof(x.r -> f.key) = 'null' AND NOT f.nullable)
       OR (jsonb_typeof(x.r -> f.key) <> 'null' AND NOT CASE f.jtype
               WHEN 'any' THEN true
               WHEN 'uuid' THEN (x.r ->> f.key) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               WHEN 'sha' THEN (x.r ->> f.key) ~ '^[0-9a-f]{64}$'
               WHEN 'time' THEN jsonb_typeof(x.r -> f.key) = 'string'
               ELSE jsonb_typeof(x.r -> f.key) = f.jtype
           END)
    ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export holds an invalid record', bad.n,
            format('the %s record lacks a valid %s (%s)', bad.rtype, bad.key, bad.jtype), fix_hint);
    END IF;

    -- counts per type
    SELECT t.rtype, coalesce(c.n, 0) AS got, coalesce((header -> 'counts' ->> t.rtype)::bigint, 0) AS want INTO bad
    FROM unnest(memory._export_types()) AS t (rtype)
    LEFT JOIN (SELECT x.rtype, count(*) AS n FROM pg_temp.import_recs AS x GROUP BY x.rtype) AS c ON c.rtype = t.rtype
    WHERE coalesce(c.n, 0) <> coalesce((header -> 'counts' ->> t.rtype)::bigint, 0)
    LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export is incomplete', NULL,
            format('the header counts %s %s records, the file holds %s', bad.want, bad.rtype, bad.got), fix_hint);
    END IF;

    -- ids once per type
    SELECT x.n, x.rtype INTO bad
    FROM (
        SELECT y.n, y.rtype, count(*) OVER (PARTITION BY y.rtype, y.id) AS c
        FROM (
            SELECT z.n, z.rtype, (
                SELECT coalesce(string_agg(z.r ->> i.k, ':' ORDER BY i.o), '')
                FROM unnest(t.id_fields) WITH ORDINALITY AS i (k, o)
            ) AS id
            FROM pg_temp.import_recs AS z JOIN memory._export_record_types() AS t ON t.rtype = z.rtype
        ) AS y
    ) AS x
    WHERE x.c > 1 ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('23505', 'export holds a record twice', bad.n, format('a second %s with the same id', bad.rtype), fix_hint);
    END IF;
    SELECT x.n, x.rtype, x.r ->> 'label' AS label INTO bad
    FROM (SELECT z.*, count(*) OVER (PARTITION BY z.r ->> 'label') AS c FROM pg_temp.import_recs AS z WHERE z.rtype = 'block') AS x
    WHERE x.c > 1 ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('23505', 'export holds a record twice', bad.n, 'a second block with the same label', fix_hint);
    END IF;

    -- texts match their checksums
    SELECT x.n, x.rtype INTO bad FROM pg_temp.import_recs AS x
    WHERE (x.rtype = 'episode' AND encode(memory._sha256(x.r ->> 'content'), 'hex') <> x.r ->> 'content_sha256')
       OR (x.rtype = 'fact'
           AND encode(memory._sha256((x.r ->> 'concept') || E'\n' || (x.r ->> 'statement')), 'hex') <> x.r ->> 'content_sha256')
    ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export holds a text that does not match its checksum', bad.n,
            format('the %s''s content_sha256 is not the sha256 of its text', bad.rtype), fix_hint);
    END IF;

    -- references inside the export
    SELECT x.n, x.what INTO bad FROM (
        SELECT z.n, f.refers_to || ' ' || (z.r ->> f.key) AS what
        FROM pg_temp.import_recs AS z
        JOIN memory._export_fields() AS f ON f.rtype = z.rtype AND f.refers_to IS NOT NULL
        JOIN memory._export_record_types() AS t ON t.rtype = f.refers_to
        WHERE z.r ->> f.key IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM pg_temp.import_recs AS o WHERE o.rtype = t.rtype AND o.r ->> t.id_fields[1] = z.r ->> f.key)
        UNION ALL
        -- an embedding refers to its owner as the owner's text is in the export
        SELECT z.n, (z.r ->> 'owner') || ' ' || (z.r ->> 'owner_id') FROM pg_temp.import_recs AS z
        WHERE z.rtype = 'embedding' AND NOT EXISTS (
            SELECT 1 FROM pg_temp.import_recs AS o
            WHERE o.rtype = z.r ->> 'owner' AND o.r ->> (o.rtype || '_id') = z.r ->> 'owner_id'
              AND o.r ->> 'content_sha256' = z.r ->> 'content_sha256')
    ) AS x ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('23503', 'export refers to a record it does not hold', bad.n,
            format('no %s (with that text) in the export', bad.what), fix_hint);
    END IF;

    -- vectors: a model of the header, of its dimension, one chunk per index
    SELECT x.n, x.r ->> 'model' AS model INTO bad FROM pg_temp.import_recs AS x
    WHERE x.rtype = 'embedding' AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(header -> 'models') AS m (v) WHERE m.v ->> 'name' = x.r ->> 'model')
    ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('42704', 'export names an unknown embedding model', bad.n,
            format('model %s is not among the header''s models', quote_literal(left(bad.model, 100))), fix_hint);
    END IF;
    SELECT x.n INTO bad FROM pg_temp.import_recs AS x
    CROSS JOIN LATERAL (
        SELECT (m.v ->> 'dimensions')::integer AS dims
        FROM jsonb_array_elements(header -> 'models') AS m (v) WHERE m.v ->> 'name' = x.r ->> 'model' LIMIT 1
    ) AS md
    WHERE x.rtype = 'embedding' AND (
        jsonb_array_length(x.r -> 'pooled') <> md.dims
        OR jsonb_array_length(x.r -> 'chunks') <> (x.r ->> 'chunk_count')::integer
        OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(x.r -> 'chunks') WITH ORDINALITY AS c (v, ord)
            WHERE jsonb_typeof(c.v) <> 'object' OR jsonb_typeof(c.v -> 'embedding') IS DISTINCT FROM 'array'
               OR jsonb_array_length(c.v -> 'embedding') <> md.dims
               OR (c.v ->> 'index') IS DISTINCT FROM (c.ord - 1)::text
               OR jsonb_typeof(c.v -> 'start') IS DISTINCT FROM 'number'
               OR jsonb_typeof(c.v -> 'end') IS DISTINCT FROM 'number'
               OR jsonb_typeof(c.v -> 'embedded_at') IS DISTINCT FROM 'string'
        )
    )
    ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM memory._import_fail('22000', 'export holds an invalid embedding', bad.n,
            'its vectors do not match the model''s dimension, or its chunks are not numbered 0..chunk_count-1', fix_hint);
    END IF;

    -- ------------------------------------------------------------ target agent
    target_name := coalesce(agent_name, src_name);
    PERFORM pg_advisory_xact_lock(hashtextextended('memory.import_agent:' || target_name, 0));
    SELECT a.agent_id INTO target FROM memory.agents AS a WHERE a.name = target_name;
    IF target IS NULL THEN
        IF db_role IS NULL THEN
            PERFORM memory._import_fail('22023', format('agent %s does not exist', target_name), NULL,
                'importing into a new agent needs the login role it will be bound to',
                'pass db_role => an existing login role (scripts/import-agent.sh --role ROLE)');
        END IF;
        -- memory_owner cannot ALTER ROLE: the role limits are set by the caller's
        -- scripts/import-agent.sh (memory.apply_agent_limits) as the operator
        target := memory._bind_agent(target_name, db_role);
        created_agent := true;
    END IF;

    -- ids that another agent of this database holds: remap (by default) or refuse
    EXECUTE (
        SELECT 'SELECT count(*) FROM (' || string_agg(format(
            'SELECT 1 FROM pg_temp.import_recs AS x JOIN memory.%I AS t ON t.%I = (x.r ->> %L)::uuid '
            'WHERE x.rtype = %L AND t.agent_id <> $1', t.tbl, f.key, f.key, t.rtype), ' UNION ALL ') || ') AS c'
        -- the record types identified by one uuid
        FROM memory._export_record_types() AS t
        JOIN memory._export_fields() AS f ON f.rtype = t.rtype AND f.key = t.id_fields[1] AND f.jtype = 'uuid'
        WHERE cardinality(t.id_fields) = 1 AND t.tbl IS NOT NULL
    ) INTO collisions USING target;
    remap := coalesce(remap_ids, collisions > 0);
    IF collisions > 0 AND NOT remap THEN
        PERFORM memory._import_fail('23505', 'ids of the export belong to another agent of this database', NULL,
            format('%s record(s) have the id of another agent''s row', collisions),
            'import with remap_ids => true (new ids derived from the old ones), or leave remap_ids NULL');
    END IF;

    -- ------------------------------------------------------------ write
    BEGIN
        PERFORM memory._drop_temp('import_projects');
        CREATE TEMP TABLE import_projects (old_id uuid PRIMARY KEY, new_id uuid) ON COMMIT DROP;
        -- a project the target already has by name keeps its id
        INSERT INTO pg_temp.import_projects
        SELECT (x.r ->> 'project_id')::uuid,
               coalesce(
                   (SELECT p.project_id FROM memory.projects AS p WHERE p.agent_id = target AND p.name = x.r ->> 'name'),
                   memory._import_id(remap, target, x.r ->> 'project_id')
               )
        FROM pg_temp.import_recs AS x WHERE x.rtype = 'project';

        PERFORM memory._drop_temp('import_new_owners');
        CREATE TEMP TABLE import_new_owners (owner text, id uuid, PRIMARY KEY (owner, id)) ON COMMIT DROP;
        SELECT count(*) INTO skipped_expired FROM pg_temp.import_recs AS x
        WHERE x.rtype = 'working_memory' AND (x.r ->> 'expires_at')::timestamptz <= clock_timestamp();
        -- in the format's order, which is the order of the foreign keys
        FOR rt IN
            SELECT t.rtype FROM memory._export_record_types() AS t
            WHERE t.tbl IS NOT NULL AND t.rtype NOT IN ('block', 'block_version')
            ORDER BY t.rank
        LOOP
            EXECUTE memory._import_insert_sql(rt) INTO k USING target, remap;
            inserted := inserted || jsonb_build_object(rt, k);
        END LOOP;
        SELECT * INTO blk FROM memory._import_blocks(target, remap);
        inserted := inserted || jsonb_build_object('block', blk.blocks, 'block_version', blk.versions);

        -- Vectors: reused for the episodes and facts written now, when this database has
        -- the same model (name and dimension); their queued jobs are marked done. Other
        -- models' vectors are dropped and those texts wait for the daemon as any new text.
        PERFORM memory._drop_temp('import_vectors');
        CREATE TEMP TABLE import_vectors ON COMMIT DROP AS
        SELECT x.n, x.r, m.model_id, o.owner, memory._import_id(remap, target, x.r ->> 'owner_id') AS owner_id,
               decode(x.r ->> 'content_sha256', 'hex') AS sha
        FROM pg_temp.import_recs AS x
        JOIN memory.embedding_models AS m
            ON m.name = x.r ->> 'model' AND m.dimensions = jsonb_array_length(x.r -> 'pooled')
        JOIN pg_temp.import_new_owners AS o
            ON o.owner = x.r ->> 'owner' AND o.id = memory._import_id(remap, target, x.r ->> 'owner_id')
        WHERE x.rtype = 'embedding';

        INSERT INTO memory.chunks (
            agent_id, episode_id, fact_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding, embedded_at
        )
        SELECT target,
               CASE WHEN v.owner = 'episode' THEN v.owner_id END, CASE WHEN v.owner = 'fact' THEN v.owner_id END,
               v.model_id, (c.v ->> 'index')::integer, (c.v ->> 'start')::integer, (c.v ->> 'end')::integer, v.sha,
               ((c.v -> 'embedding')::text)::public.vector, (c.v ->> 'embedded_at')::timestamptz
        FROM pg_temp.import_vectors AS v
        CROSS JOIN LATERAL jsonb_array_elements(v.r -> 'chunks') AS c (v)
        ORDER BY v.n, (c.v ->> 'index')::integer;
        INSERT INTO memory.pooled_embeddings (
            agent_id, episode_id, fact_id, model_id, content_sha256, chunk_count, embedding, updated_at
        )
        SELECT target, CASE WHEN v.owner = 'episode' THEN v.owner_id END, CASE WHEN v.owner = 'fact' THEN v.owner_id END,
               v.model_id, v.sha, (v.r ->> 'chunk_count')::integer, ((v.r -> 'pooled')::text)::public.vector,
               (v.r ->> 'updated_at')::timestamptz
        FROM pg_temp.import_vectors AS v
        ORDER BY v.n;
        GET DIAGNOSTICS reused = ROW_COUNT;

        INSERT INTO memory.embedding_jobs AS j (
            agent_id, episode_id, model_id, priority, content_sha256, state, done_at, embedded_sha256, completions
        )
        SELECT target, v.owner_id, v.model_id, e.importance, v.sha, 'done', clock_timestamp(), v.sha, 1
        FROM pg_temp.import_vectors AS v JOIN memory.episodes AS e ON e.episode_id = v.owner_id
        WHERE v.owner = 'episode'
        ORDER BY v.n
        ON CONFLICT (episode_id, model_id) WHERE episode_id IS NOT NULL DO UPDATE
        SET state = 'done', done_at = excluded.done_at, embedded_sha256 = excluded.embedded_sha256,
            completions = j.completions + 1, last_error = NULL, last_error_at = NULL
        WHERE j.state = 'pending' AND j.content_sha256 = excluded.content_sha256;
        INSERT INTO memory.embedding_jobs AS j (
            agent_id, fact_id, model_id, priority, content_sha256, state, done_at, embedded_sha256, completions
        )
        SELECT target, v.owner_id, v.model_id, f.confidence, v.sha, 'done', clock_timestamp(), v.sha, 1
        FROM pg_temp.import_vectors AS v JOIN memory.facts AS f ON f.fact_id = v.owner_id
        WHERE v.owner = 'fact'
        ORDER BY v.n
        ON CONFLICT (fact_id, model_id) WHERE fact_id IS NOT NULL DO UPDATE
        SET state = 'done', done_at = excluded.done_at, embedded_sha256 = excluded.embedded_sha256,
            completions = j.completions + 1, last_error = NULL, last_error_at = NULL
        WHERE j.state = 'pending' AND j.content_sha256 = excluded.content_sha256;
    EXCEPTION
        WHEN integrity_constraint_violation OR data_exception THEN
            PERFORM memory._import_fail('22000', 'export holds a value this database refuses', NULL, SQLERRM, fix_hint);
    END;

    SELECT count(*) INTO queued FROM memory.embedding_jobs AS j
    JOIN pg_temp.import_new_owners AS o ON o.id = coalesce(j.episode_id, j.fact_id)
    WHERE j.state = 'pending';
    SELECT coalesce(jsonb_agg(DISTINCT m.v ->> 'name'), '[]') INTO models_missing
    FROM jsonb_array_elements(header -> 'models') AS m (v)
    WHERE NOT EXISTS (
        SELECT 1 FROM memory.embedding_models AS em
        WHERE em.name = m.v ->> 'name' AND em.dimensions = (m.v ->> 'dimensions')::integer
    );
    SELECT jsonb_object_agg(t.rtype, coalesce((c.n - coalesce((inserted ->> t.rtype)::bigint, 0)), 0))
    INTO present
    FROM unnest(memory._export_types()) AS t (rtype)
    LEFT JOIN (SELECT x.rtype, count(*) AS n FROM pg_temp.import_recs AS x GROUP BY x.rtype) AS c ON c.rtype = t.rtype
    WHERE t.rtype <> 'embedding';
    SELECT sum(v.value::bigint) INTO total FROM jsonb_each_text(inserted) AS v;

    INSERT INTO memory.agent_imports (agent_id, export_sha256, source_agent_id, source_agent_name, remapped_ids, summary)
    VALUES (target, header ->> 'sha256', src_id, src_name, remap,
            jsonb_build_object('inserted', inserted, 'vectors_reused', reused, 'queued_for_embedding', queued))
    ON CONFLICT (agent_id, export_sha256) DO NOTHING;

    RETURN jsonb_build_object(
        'agent', target_name, 'agent_id', target, 'agent_created', created_agent,
        'source_agent', src_name, 'source_agent_id', src_id, 'remapped_ids', remap,
        'inserted', inserted, 'already_present', present, 'rows_written', total,
        'working_memory_expired', skipped_expired,
        'vectors_reused', reused, 'queued_for_embedding', queued, 'models_missing', models_missing
    );
END
$$;

COMMENT ON FUNCTION memory.import_agent(text, text, name, boolean) IS
'Operators: imports a file written by memory.export_agent (the whole text) into agent agent_name (default: the exported agent''s name), created and bound to db_role when it does not exist. The whole file is checked first (header, version 1, line count, sha256, JSON, record types, fields, one agent, ids, references, checksums of texts, models and vector dimensions) and written in the caller''s transaction: any error leaves nothing. Rows already there are kept (ON CONFLICT DO NOTHING), so importing the same file again writes nothing. Ids are kept unless another agent of this database holds some of them: then (or with remap_ids => true) every id becomes memory._remap_id(target agent, old id), references included (source episodes, superseded_by, links, votes, and the checkpoint ids a restore wrote into a checkpoint state). Vectors are reused when this database has the same model (name and dimension); otherwise the texts are queued and re-embedded by the daemon. Idempotency keys keep their creation time (and are pruned 24 hours after it); a key the agent already has is kept. Working-memory items that have expired meanwhile are skipped; blocks whose label the agent already has are kept as they are. Returns {agent, agent_id, agent_created, remapped_ids, inserted: {type: n}, already_present, rows_written, vectors_reused, queued_for_embedding, models_missing, ...}. Raises 22023 (empty, not an export, new agent without db_role), 0A000 (other version), 22000 (truncated, corrupted, incomplete, a record of another agent, an invalid record or value), 22P02 (a line is not JSON), 23505 (a record twice; ids of another agent with remap_ids => false), 23503 (a reference to a record it does not hold), 42704 (an embedding model not in the header), and the errors of create_agent.';
