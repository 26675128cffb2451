-- Legacy import (issue 7), 4 of 4 (helpers in 130-132): the old brain's tables, read live through postgres_fdw,
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
    PERFORM memory._legacy_page(server, 'projects');
    RETURN QUERY
    WITH o AS (SELECT x.project_id AS id, x.project_dna AS dna, x.description, x.status,
                      memory._legacy_project_name(x.project_name, x.project_id) AS new_name
               FROM pg_temp.legacy_projects AS x),
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
    PERFORM memory._legacy_page(server, 'facts');
    RETURN QUERY
    WITH o AS (
        SELECT x.*, x.semantic_id AS id,
               memory._sha256(x.concept || E'\n' || memory._legacy_fact_statement(x.concept, x.definition)) AS sha
        FROM pg_temp.legacy_facts AS x
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
        SELECT DISTINCT b.semantic_id AS from_fact, t.fact_id AS to_fact, r.relation
        FROM pg_temp.legacy_facts AS b
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
        WHERE l.agent_id = me AND EXISTS (SELECT 1 FROM pg_temp.legacy_facts AS b WHERE b.semantic_id = l.from_fact)
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
    PERFORM memory._legacy_page(server, 'blocks');
    RETURN QUERY
    WITH o AS (SELECT x.*, memory._legacy_label(x.label) AS new_label FROM pg_temp.legacy_blocks AS x),
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
    PERFORM memory._legacy_page(server, 'checkpoints');
    RETURN QUERY
    WITH o AS (
        SELECT x.*, x.checkpoint_id AS id, memory._legacy_identity_hash(x.identity_hash) || ':'
                    || memory._legacy_checkpoint_state(x.state_data, x.metadata, x.checkpoint_type, x.identity_hash)::text AS sig
        FROM pg_temp.legacy_checkpoints AS x
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
    PERFORM memory._legacy_page(server, 'working');
    RETURN QUERY
    WITH w AS (
        SELECT x.working_id AS id, x.active_content AS content,
               memory._legacy_expires_at(x.expires_at, coalesce(x.created_at, now()), x.ttl_seconds) AS expires
        FROM pg_temp.legacy_working AS x
    ),
    o AS (SELECT w.* FROM w WHERE w.expires > clock_timestamp()),
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
                  (SELECT count(*) FROM w WHERE w.expires <= clock_timestamp()));

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
