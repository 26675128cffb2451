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
    phases constant text [] := ARRAY(SELECT x.phase FROM memory._legacy_phases() AS x ORDER BY x.pos);
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

    SELECT * INTO step FROM memory._legacy_step(server, me, done_phase, prog.last_key, batch_size);

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
    n_old_vectors bigint;
    n_unlinked bigint;
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
    FOREACH ft IN ARRAY ARRAY['episodes', 'projects', 'facts', 'blocks', 'checkpoints', 'working'] LOOP
        PERFORM memory._legacy_page(server, ft);
    END LOOP;
    EXECUTE format('SELECT count(e.embedding) FROM %s AS e', memory._legacy_ft(server, 'episodes')) INTO n_old_vectors;

    -- Each item's rows, old (mapped as the import maps them) and new, with the same
    -- columns: the key they are matched by, the key of a duplicate (NULL: not counted),
    -- the checksum and the fields compared; a field an old row leaves out (a NULL the
    -- import replaced) is not compared.
    PERFORM memory._drop_temp('r_rows');
    CREATE TEMP TABLE r_rows (
        item text, old boolean, key text, dup jsonb, sum jsonb, fields jsonb, embedded boolean
    ) ON COMMIT DROP;
    INSERT INTO pg_temp.r_rows
    SELECT 'episodes', true, x.episode_id::text, jsonb_build_array(x.sha, coalesce(x."timestamp", x.created_at)), to_jsonb(x.sha),
           jsonb_build_object(
               'importance', memory._legacy_unit(x.importance_score, 0.5), 'tags', memory._legacy_tags(x.tags),
               'metadata', memory._legacy_episode_metadata(x.metadata, x.tags),
               'project', memory._legacy_project_name(x.project_name, x.project_id)
           ) || jsonb_strip_nulls(jsonb_build_object(
               'occurred_at', coalesce(x."timestamp", x.created_at), 'recorded_at', coalesce(x.created_at, x."timestamp")
           )), NULL
    FROM (SELECT e.*, memory._sha256(e.content) AS sha FROM pg_temp.legacy_episodes AS e) AS x
    UNION ALL
    SELECT 'episodes', false, e.episode_id::text, jsonb_build_array(e.content_sha256, e.occurred_at), to_jsonb(e.content_sha256),
           jsonb_build_object(
               'importance', e.importance, 'tags', e.tags, 'metadata', e.metadata, 'project', p.name,
               'occurred_at', e.occurred_at, 'recorded_at', e.recorded_at
           ),
           EXISTS (
               SELECT 1 FROM memory.embedding_jobs AS j
               JOIN memory.pooled_embeddings AS pe ON pe.episode_id = j.episode_id AND pe.model_id = j.model_id
               WHERE j.episode_id = e.episode_id AND j.model_id = serving AND j.state = 'done'
                 AND j.embedded_sha256 = e.content_sha256 AND pe.content_sha256 = e.content_sha256
           )
    FROM memory.episodes AS e LEFT JOIN memory.projects AS p ON p.project_id = e.project_id
    WHERE e.agent_id = me
    UNION ALL
    SELECT 'projects', true, memory._legacy_project_name(x.project_name, x.project_id), NULL,
           jsonb_build_array(left(x.project_dna, 200), x.description),
           jsonb_build_object(
               'status', CASE WHEN x.status IN ('active', 'paused', 'completed', 'archived') THEN x.status ELSE 'active' END
           ), NULL
    FROM pg_temp.legacy_projects AS x
    UNION ALL
    SELECT 'projects', false, p.name, NULL, jsonb_build_array(p.dna, p.description), jsonb_build_object('status', p.status), NULL
    FROM memory.projects AS p WHERE p.agent_id = me
    UNION ALL
    SELECT 'facts', true, x.semantic_id::text, to_jsonb(x.sha), to_jsonb(x.sha),
           jsonb_build_object(
               'confidence', memory._legacy_unit(x.confidence_score, 0.5),
               'source_episodes', coalesce(x.source_episodes[1:1000], '{}')
           ) || jsonb_strip_nulls(jsonb_build_object('valid_from', x.created_at)), NULL
    FROM (SELECT f.*, memory._sha256(f.concept || E'\n' || memory._legacy_fact_statement(f.concept, f.definition)) AS sha
          FROM pg_temp.legacy_facts AS f) AS x
    UNION ALL
    SELECT 'facts', false, f.fact_id::text, to_jsonb(f.content_sha256), to_jsonb(f.content_sha256),
           jsonb_build_object('confidence', f.confidence, 'source_episodes', f.source_episodes, 'valid_from', f.valid_from),
           EXISTS (
               SELECT 1 FROM memory.embedding_jobs AS j
               WHERE j.fact_id = f.fact_id AND j.model_id = serving AND j.state = 'done' AND j.embedded_sha256 = f.content_sha256
           )
    FROM memory.facts AS f WHERE f.agent_id = me
    UNION ALL
    SELECT 'fact_links', false, l.from_fact || '->' || l.to_fact || ':' || l.relation, NULL, NULL, NULL, NULL
    FROM memory.fact_links AS l
    WHERE l.agent_id = me AND EXISTS (SELECT 1 FROM pg_temp.legacy_facts AS b WHERE b.semantic_id = l.from_fact)
    UNION ALL
    SELECT 'blocks', true, memory._legacy_label(x.label), NULL, to_jsonb(memory._sha256(x.value)),
           jsonb_build_object('read_only', coalesce(x.read_only, false))
           || jsonb_strip_nulls(jsonb_build_object('description', left(x.description, 2000))), NULL
    FROM pg_temp.legacy_blocks AS x
    UNION ALL
    SELECT 'blocks', false, b.label, NULL, to_jsonb(memory._sha256(b.value)),
           jsonb_build_object('read_only', b.read_only, 'description', b.description), NULL
    FROM memory.blocks AS b WHERE b.agent_id = me
    UNION ALL
    SELECT 'checkpoints', true, x.checkpoint_id::text, NULL,
           to_jsonb(memory._sha256(memory._legacy_identity_hash(x.identity_hash) || ':'
                    || memory._legacy_checkpoint_state(x.state_data, x.metadata, x.checkpoint_type, x.identity_hash)::text)),
           jsonb_build_object('kind', memory._legacy_kind(x.checkpoint_type))
           || jsonb_strip_nulls(jsonb_build_object('created_at', x.created_at)), NULL
    FROM pg_temp.legacy_checkpoints AS x
    UNION ALL
    -- checkpoints the system wrote after the import began (memory-auto-checkpoint) are
    -- not part of the comparison
    SELECT 'checkpoints', false, c.checkpoint_id::text, NULL, to_jsonb(memory._sha256(c.identity_hash || ':' || c.state::text)),
           jsonb_build_object('kind', c.kind, 'created_at', c.created_at), NULL
    FROM memory.checkpoints AS c
    WHERE c.agent_id = me AND NOT (c.kind = 'auto' AND c.created_at >= prog.started_at)
    UNION ALL
    SELECT 'working_memory', true, x.working_id::text, NULL, jsonb_build_array(x.active_content),
           jsonb_build_object('expires_at', x.expires), NULL
    FROM (SELECT w.*, memory._legacy_expires_at(w.expires_at, coalesce(w.created_at, now()), w.ttl_seconds) AS expires
          FROM pg_temp.legacy_working AS w) AS x
    WHERE x.expires > clock_timestamp()
    UNION ALL
    SELECT 'working_memory', false, w.working_id::text, NULL, jsonb_build_array(w.content),
           jsonb_build_object('expires_at', w.expires_at), NULL
    FROM memory.working_memory AS w WHERE w.agent_id = me AND w.expires_at > clock_timestamp();

    -- the old fact links: relationship entries naming a known concept
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
    links AS (
        INSERT INTO pg_temp.r_rows (item, old, key)
        SELECT 'fact_links', true, e.from_fact || '->' || e.to_fact || ':' || e.relation FROM e
        WHERE e.to_fact IS NOT NULL AND e.to_fact <> e.from_fact
    )
    SELECT count(*) INTO n_unlinked FROM e WHERE e.to_fact IS NULL;

    RETURN QUERY
    WITH i (pos, name, embeds, remark) AS (
        VALUES
            (1, 'episodes', true, concat_ws('; ',
                format('%s old embedding(s) left behind; fresh ones are queued for the active model', n_old_vectors),
                (SELECT format('%s old episode(s) with a blank or over-500,000-character text cannot be stored', count(*))
                 FROM pg_temp.legacy_episodes AS x WHERE NOT memory._legacy_importable(x.content, 500000) HAVING count(*) > 0))),
            (2, 'projects', false, 'matched by name'),
            (3, 'facts', true, CASE WHEN memory._legacy_ft(server, 'facts') IS NULL THEN 'no zep_semantic_memory in the old database'
                                    ELSE 'definition -> statement; relationships kept in metadata.legacy_relationships' END),
            (4, 'fact_links', false,
             format('old relationship entries naming a known concept; %s entries name no fact (kept in metadata)', n_unlinked)),
            (5, 'blocks', false, CASE WHEN memory._legacy_ft(server, 'blocks') IS NULL
                                      THEN format('no %s.memory_blocks in the old database', prog.core_schema)
                                      ELSE 'matched by label; history in memory.block_history' END),
            (6, 'checkpoints', false, concat_ws('; ',
                CASE WHEN memory._legacy_ft(server, 'checkpoints') IS NULL
                     THEN format('no %s.consciousness_checkpoints in the old database', prog.core_schema)
                     ELSE 'old checkpoints carry no block snapshot (blocks [])' END,
                (SELECT format('%s auto checkpoint(s) written since the import are not compared', count(*))
                 FROM memory.checkpoints AS c
                 WHERE c.agent_id = me AND c.kind = 'auto' AND c.created_at >= prog.started_at
                 HAVING count(*) > 0))),
            (7, 'working_memory', false, format('live items only: %s old item(s) had expired and were skipped',
                (SELECT count(*) FROM pg_temp.legacy_working AS x
                 WHERE memory._legacy_expires_at(x.expires_at, coalesce(x.created_at, now()), x.ttl_seconds) <= clock_timestamp())))
    ),
    o AS (SELECT r.* FROM pg_temp.r_rows AS r WHERE r.old),
    n AS (SELECT r.* FROM pg_temp.r_rows AS r WHERE NOT r.old),
    pair AS (SELECT o.item, o.sum AS o_sum, n.sum AS n_sum, o.fields AS o_fields, n.fields AS n_fields
             FROM o JOIN n ON n.item = o.item AND n.key = o.key)
    SELECT i.name, (SELECT count(*) FROM o WHERE o.item = i.name), (SELECT count(*) FROM n WHERE n.item = i.name),
           (SELECT count(*) FROM o WHERE o.item = i.name AND NOT EXISTS (SELECT 1 FROM n WHERE n.item = o.item AND n.key = o.key)),
           (SELECT count(*) FROM n WHERE n.item = i.name AND NOT EXISTS (SELECT 1 FROM o WHERE o.item = n.item AND o.key = n.key)),
           -- new rows beyond the old ones with the same duplicate key
           (SELECT coalesce(sum(greatest(nn.c - coalesce(oo.c, 0), 0)), 0)::bigint
            FROM (SELECT n.dup, count(*) AS c FROM n WHERE n.item = i.name AND n.dup IS NOT NULL GROUP BY 1) AS nn
            LEFT JOIN (SELECT o.dup, count(*) AS c FROM o WHERE o.item = i.name GROUP BY 1) AS oo ON oo.dup = nn.dup),
           (SELECT count(*) FROM pair AS p WHERE p.item = i.name AND p.n_sum <> p.o_sum),
           (SELECT count(*) FROM pair AS p WHERE p.item = i.name AND EXISTS (
               SELECT 1 FROM jsonb_each(p.o_fields) AS f WHERE f.value IS DISTINCT FROM p.n_fields -> f.key)),
           CASE WHEN i.embeds THEN (SELECT count(*) FILTER (WHERE n.embedded) FROM n WHERE n.item = i.name) END,
           CASE WHEN i.embeds THEN (
               SELECT CASE WHEN count(*) = 0 THEN 100 ELSE round(100.0 * count(*) FILTER (WHERE n.embedded) / count(*), 2) END
               FROM n WHERE n.item = i.name) END,
           ARRAY(SELECT o.key FROM o WHERE o.item = i.name
                   AND NOT EXISTS (SELECT 1 FROM n WHERE n.item = o.item AND n.key = o.key) ORDER BY 1 LIMIT 20),
           ARRAY(SELECT n.key FROM n WHERE n.item = i.name
                   AND NOT EXISTS (SELECT 1 FROM o WHERE o.item = n.item AND o.key = n.key) ORDER BY 1 LIMIT 20),
           i.remark
    FROM i ORDER BY i.pos;

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
