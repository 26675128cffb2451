-- Legacy import (issue 7), 3 of 4: the phases (projects, episodes, facts, fact links,
-- blocks, checkpoints, working memory, agent state) and one batch of each.
SET ROLE memory_owner;

-- The phases in order: the old table each reads a page of (memory._legacy_page), and
-- for those that keep the old ids, what they are, the new table and its id column: a
-- page whose ids belong to another agent fails before anything is written.
CREATE OR REPLACE FUNCTION memory._legacy_phases()
RETURNS TABLE (pos integer, phase text, suffix text, what text, new_table text, new_id text)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (1, 'projects', 'projects', NULL, NULL, NULL),
           (2, 'episodes', 'episodes', 'episode', 'episodes', 'episode_id'),
           (3, 'facts', 'facts', 'fact', 'facts', 'fact_id'),
           (4, 'fact_links', 'facts', NULL, NULL, NULL),
           (5, 'blocks', 'blocks', NULL, NULL, NULL),
           (6, 'checkpoints', 'checkpoints', 'checkpoint', 'checkpoints', 'checkpoint_id'),
           (7, 'working_memory', 'working', 'working-memory', 'working_memory', 'working_id'),
           (8, 'agent_state', 'state', NULL, NULL, NULL),
           (9, 'done', NULL, NULL, NULL, NULL)
$$;

COMMENT ON FUNCTION memory._legacy_phases() IS
'Private (legacy import): the phases of the import in order: position, phase, the old table read (memory._legacy_tables suffix), and for phases that keep old ids what they are called in errors, the new table and its id column. Raises nothing.';

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

-- One batch of a phase: reads the next page of its old table (pg_temp.legacy_<suffix>),
-- checks that no old id of it belongs to another agent, and writes it. Returns the rows
-- read from the old table, the rows written and the last old key read (the next batch
-- starts after it).
CREATE OR REPLACE FUNCTION memory._legacy_step(
    server text, me uuid, phase text, after uuid, lim integer,
    OUT rows_read integer, OUT rows_written integer, OUT last_key uuid
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ph record;
    theirs bigint;
    o record;
    cur memory.blocks;
    lbl text;
    new_block uuid;
    ro boolean;
BEGIN
    SELECT x.* INTO ph FROM memory._legacy_phases() AS x WHERE x.phase = _legacy_step.phase AND x.suffix IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no legacy import phase %', phase USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, ph.suffix, after, lim) AS p;
    IF ph.new_table IS NOT NULL THEN
        EXECUTE format(
            'SELECT count(*) FROM pg_temp.%I AS b JOIN memory.%I AS x ON x.%I = b.%I WHERE x.agent_id <> $1',
            'legacy_' || ph.suffix, ph.new_table, ph.new_id,
            (SELECT c.column_name FROM memory._legacy_columns(ph.suffix) AS c WHERE c.pos = 1)
        ) INTO theirs USING me;
        PERFORM memory._legacy_check_owner(ph.what, theirs);
    END IF;
    rows_written := 0;

    CASE phase
    WHEN 'projects' THEN
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

    WHEN 'episodes' THEN
        -- ids and timestamps kept (timestamp -> occurred_at, created_at -> recorded_at),
        -- project by name; the enqueue trigger queues their embeddings
        INSERT INTO memory.episodes (
            episode_id, agent_id, content, importance, tags, project_id, occurred_at, metadata, recorded_at, updated_at
        )
        SELECT b.episode_id, me, b.content,
               memory._legacy_unit(b.importance_score, 0.5),
               memory._legacy_tags(b.tags),
               (SELECT p.project_id FROM memory.projects AS p
                WHERE p.agent_id = me AND p.name = memory._legacy_project_name(b.project_name, b.project_id)),
               coalesce(b."timestamp", b.created_at, now()),
               memory._legacy_episode_metadata(b.metadata, b.tags),
               coalesce(b.created_at, b."timestamp", now()),
               coalesce(b.created_at, b."timestamp", now())
        FROM pg_temp.legacy_episodes AS b
        WHERE memory._legacy_importable(b.content, 500000)
        ORDER BY b.episode_id
        ON CONFLICT (episode_id) DO NOTHING;
        GET DIAGNOSTICS rows_written = ROW_COUNT;

    WHEN 'facts' THEN
        -- open facts: definition -> statement, created_at -> valid_from and recorded_at;
        -- relationships kept in metadata and linked in the fact_links phase
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

    WHEN 'fact_links' THEN
        -- to the facts whose concept (case-insensitively) the relationships name; names
        -- that match no fact stay in the fact's metadata
        INSERT INTO memory.fact_links (agent_id, from_fact, to_fact, relation, strength, created_at)
        SELECT DISTINCT ON (l.from_fact, l.to_fact, l.relation) me, l.from_fact, l.to_fact, l.relation, l.strength, l.created_at
        FROM (
            SELECT b.semantic_id AS from_fact, t.fact_id AS to_fact, r.relation, r.strength, coalesce(b.created_at, now()) AS created_at
            FROM pg_temp.legacy_facts AS b
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

    WHEN 'blocks' THEN
        -- Through the ordinary block path, so history is kept: a new label is a new block
        -- (version 1, old timestamps); a label the agent has already, with another value,
        -- gets the old value as a new version (the current one stays in block_history).
        FOR o IN SELECT * FROM pg_temp.legacy_blocks AS x WHERE char_length(x.value) <= 100000 ORDER BY x.block_id LOOP
            lbl := memory._legacy_label(o.label);
            ro := coalesce(o.read_only, false);
            SELECT x.* INTO cur FROM memory.blocks AS x WHERE x.agent_id = me AND x.label = lbl;
            IF NOT FOUND THEN
                INSERT INTO memory.blocks (block_id, agent_id, label, value, description, char_limit, read_only)
                VALUES (
                    CASE WHEN EXISTS (SELECT 1 FROM memory.blocks AS x WHERE x.block_id = o.block_id)
                         THEN gen_random_uuid() ELSE o.block_id END,
                    me, lbl, o.value, left(o.description, 2000), greatest(5000, char_length(o.value)), ro
                )
                RETURNING block_id INTO new_block;
                PERFORM memory._legacy_block_times(
                    new_block, coalesce(o.created_at, now()), coalesce(o.updated_at, o.created_at, now()), 'legacy:' || server
                );
                rows_written := rows_written + 1;
            ELSIF cur.value IS DISTINCT FROM o.value OR cur.read_only IS DISTINCT FROM ro
                  OR (o.description IS NOT NULL AND cur.description IS DISTINCT FROM left(o.description, 2000)) THEN
                UPDATE memory.blocks AS x
                SET value = o.value,
                    description = coalesce(left(o.description, 2000), cur.description),
                    char_limit = greatest(cur.char_limit, char_length(o.value)),
                    read_only = ro
                WHERE x.block_id = cur.block_id;
                rows_written := rows_written + 1;
            END IF;
        END LOOP;

    WHEN 'checkpoints' THEN
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

    WHEN 'working_memory' THEN
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

    WHEN 'agent_state' THEN
        -- The latest heartbeat wins (one row read); an agent that already has a state keeps it.
        rows_read := least(rows_read, 1);
        last_key := NULL;
        INSERT INTO memory.agent_state (agent_id, current_focus, emotional_vector, working_context, last_heartbeat, updated_at)
        SELECT me,
               left(s.current_focus, 10000),
               CASE WHEN jsonb_typeof(s.emotional_vector) = 'object' THEN s.emotional_vector END,
               CASE WHEN cardinality(s.active_projects) > 0
                    THEN memory._legacy_object(s.working_context) || jsonb_build_object('legacy_active_projects', to_jsonb(s.active_projects))
                    ELSE s.working_context END,
               coalesce(s.last_heartbeat, now()),
               coalesce(s.last_heartbeat, now())
        FROM pg_temp.legacy_state AS s
        ORDER BY s.last_heartbeat DESC NULLS LAST, s.state_id
        LIMIT 1
        ON CONFLICT (agent_id) DO NOTHING;
        GET DIAGNOSTICS rows_written = ROW_COUNT;
    END CASE;
END
$$;

COMMENT ON FUNCTION memory._legacy_step(text, uuid, text, uuid, integer) IS
'Private (legacy import): imports into agent me the next lim rows after key after of the old table of phase (memory._legacy_phases), all of the agent state: old ids and timestamps kept (rows written with ON CONFLICT DO NOTHING); projects matched by name, blocks by label through the block triggers (history kept; values over 100,000 characters are not imported), working-memory items only while live, the old state with the latest heartbeat unless the agent has one. Returns the rows read, the rows written and the last key read. Raises 22023 (unknown phase), 23505 when an old id belongs to another agent, and the errors of postgres_fdw.';
