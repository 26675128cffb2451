-- Legacy import (issue 7), 3 of 4: one batch of each phase (projects, episodes, facts,
-- fact links, blocks, checkpoints, working memory, agent state).
SET ROLE memory_owner;

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
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'projects', after, lim) AS p;

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
BEGIN
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'facts', after, lim) AS p;
    PERFORM memory._legacy_check_page_owner('fact', 'facts', 'semantic_id', 'facts', 'fact_id', me);

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
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'facts', after, lim) AS p;

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
    rows_written := 0;
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'blocks', after, lim) AS p;

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
BEGIN
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'checkpoints', after, lim) AS p;
    PERFORM memory._legacy_check_page_owner('checkpoint', 'checkpoints', 'checkpoint_id', 'checkpoints', 'checkpoint_id', me);

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
BEGIN
    SELECT p.rows_read, p.last_key INTO rows_read, last_key FROM memory._legacy_page(server, 'working', after, lim) AS p;
    PERFORM memory._legacy_check_page_owner('working-memory', 'working', 'working_id', 'working_memory', 'working_id', me);

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
