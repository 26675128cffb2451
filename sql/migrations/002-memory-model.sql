-- 002: the storage model. Tables, constraints, row-level security.
-- Functions of the API live in sql/functions/ (re-applied on every deploy); what is
-- here is what the tables themselves need: the current agent (used by the policies),
-- immutable helpers of generated columns, and the policies.
SET LOCAL ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Agents: one row per agent, bound to a database login role.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.agents (
    agent_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE
        CONSTRAINT agents_name_format CHECK (name ~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$'),
    db_role name NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.agents IS 'one row per agent, bound to the login role it connects as';

-- The current agent comes from the login role of the session (session_user), which
-- neither SET ROLE nor set_config can change. NULL when the session is not an agent.
CREATE FUNCTION memory.current_agent()
RETURNS uuid
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.agent_id FROM memory.agents AS a WHERE a.db_role = session_user
$$;

-- Immutable helpers of generated columns. Frozen with this migration: a change of
-- text configuration is a new migration that rewrites the stored vectors.
-- Memories are partly Spanish: documents are indexed with both the English and the
-- Spanish stemmer, so a query in either language finds them.
CREATE FUNCTION memory._fts_document(content text)
RETURNS tsvector
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_tsvector('pg_catalog.english'::regconfig, content)
        || to_tsvector('pg_catalog.spanish'::regconfig, content)
$$;

-- sha256 of the UTF-8 bytes of a text (the database encoding is UTF-8, so the
-- conversion is fixed and the function immutable).
CREATE FUNCTION memory._sha256(content text)
RETURNS bytea
LANGUAGE sql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT sha256(convert_to(content, 'UTF8'))
$$;

CREATE FUNCTION memory._valid_tags(tags text[])
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT cardinality(tags) <= 64
       AND array_ndims(tags) IS NOT DISTINCT FROM (CASE WHEN cardinality(tags) = 0 THEN NULL ELSE 1 END)
       AND NOT EXISTS (
           SELECT 1 FROM unnest(tags) AS t
           WHERE t IS NULL OR char_length(t) NOT BETWEEN 1 AND 100
       )
$$;

-- ---------------------------------------------------------------------------
-- Projects
-- ---------------------------------------------------------------------------
CREATE TABLE memory.projects (
    project_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    name text NOT NULL CONSTRAINT projects_name_nonblank CHECK (name ~ '\S' AND char_length(name) <= 200),
    dna text CONSTRAINT projects_dna_length CHECK (char_length(dna) <= 200),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT projects_status_known CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    description text,
    metadata jsonb NOT NULL DEFAULT '{}' CONSTRAINT projects_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, name),
    UNIQUE (agent_id, project_id)
);
COMMENT ON TABLE memory.projects IS 'an agent''s projects: name, dna, status';

-- ---------------------------------------------------------------------------
-- Episodes: what happened.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.episodes (
    episode_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    content text NOT NULL
        CONSTRAINT episodes_content_nonblank CHECK (content ~ '\S')
        CONSTRAINT episodes_content_length CHECK (char_length(content) <= 500000),
    importance real NOT NULL DEFAULT 0.5
        CONSTRAINT episodes_importance_range CHECK (importance BETWEEN 0 AND 1),
    tags text[] NOT NULL DEFAULT '{}' CONSTRAINT episodes_tags_valid CHECK (memory._valid_tags(tags)),
    project_id uuid,
    session_id text CONSTRAINT episodes_session_id_length CHECK (char_length(session_id) BETWEEN 1 AND 200),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT episodes_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    access_count integer NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    content_sha256 bytea GENERATED ALWAYS AS (memory._sha256(content)) STORED,
    fts tsvector GENERATED ALWAYS AS (memory._fts_document(content)) STORED,
    -- a project of the same agent only
    FOREIGN KEY (agent_id, project_id) REFERENCES memory.projects (agent_id, project_id) ON DELETE SET NULL (project_id)
);
COMMENT ON TABLE memory.episodes IS 'episodic memory: what happened, when, how important';
CREATE INDEX episodes_agent_occurred_idx ON memory.episodes (agent_id, occurred_at DESC);
CREATE INDEX episodes_fts_idx ON memory.episodes USING gin (fts);
CREATE INDEX episodes_tags_idx ON memory.episodes USING gin (tags);
CREATE INDEX episodes_agent_session_idx ON memory.episodes (agent_id, session_id) WHERE session_id IS NOT NULL;
CREATE INDEX episodes_project_idx ON memory.episodes (agent_id, project_id) WHERE project_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Facts: semantic memory with bi-temporal validity. A superseded fact is closed
-- (valid_to, invalidated_at, superseded_by), never deleted.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.facts (
    fact_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    concept text NOT NULL
        CONSTRAINT facts_concept_nonblank CHECK (concept ~ '\S' AND char_length(concept) <= 500),
    statement text NOT NULL
        CONSTRAINT facts_statement_nonblank CHECK (statement ~ '\S')
        CONSTRAINT facts_statement_length CHECK (char_length(statement) <= 100000),
    confidence real NOT NULL DEFAULT 0.5
        CONSTRAINT facts_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    source_episodes uuid[] NOT NULL DEFAULT '{}'
        CONSTRAINT facts_source_episodes_bounded CHECK (cardinality(source_episodes) <= 1000),
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to timestamptz,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    invalidated_at timestamptz,
    superseded_by uuid,
    metadata jsonb NOT NULL DEFAULT '{}' CONSTRAINT facts_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
    content_sha256 bytea GENERATED ALWAYS AS (memory._sha256(concept || E'\n' || statement)) STORED,
    fts tsvector GENERATED ALWAYS AS (memory._fts_document(concept || E'\n' || statement)) STORED,
    CONSTRAINT facts_valid_interval CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CONSTRAINT facts_invalidated_after_recorded CHECK (invalidated_at IS NULL OR invalidated_at >= recorded_at),
    UNIQUE (agent_id, fact_id),
    FOREIGN KEY (agent_id, superseded_by) REFERENCES memory.facts (agent_id, fact_id)
);
COMMENT ON TABLE memory.facts IS
'semantic memory: statements about concepts, valid in the world from valid_from to valid_to, known to the system from recorded_at to invalidated_at';
CREATE INDEX facts_agent_concept_idx ON memory.facts (agent_id, concept);
CREATE INDEX facts_agent_valid_idx ON memory.facts (agent_id, valid_from, valid_to);
CREATE INDEX facts_fts_idx ON memory.facts USING gin (fts);

CREATE TABLE memory.fact_links (
    agent_id uuid NOT NULL DEFAULT memory.current_agent() REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    from_fact uuid NOT NULL,
    to_fact uuid NOT NULL,
    relation text NOT NULL
        CONSTRAINT fact_links_relation_format CHECK (relation ~ '^[a-z][a-z0-9_]{0,62}$'),
    strength real NOT NULL DEFAULT 1 CONSTRAINT fact_links_strength_range CHECK (strength BETWEEN 0 AND 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_fact, to_fact, relation),
    CONSTRAINT fact_links_not_self CHECK (from_fact <> to_fact),
    FOREIGN KEY (agent_id, from_fact) REFERENCES memory.facts (agent_id, fact_id) ON DELETE CASCADE,
    FOREIGN KEY (agent_id, to_fact) REFERENCES memory.facts (agent_id, fact_id) ON DELETE CASCADE
);
COMMENT ON TABLE memory.fact_links IS 'typed relationships between two facts of the same agent';
CREATE INDEX fact_links_to_idx ON memory.fact_links (to_fact);

-- ---------------------------------------------------------------------------
-- Working memory: short-lived context with a TTL; cached in Redis.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.working_memory (
    working_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    context_type text NOT NULL
        CONSTRAINT working_memory_context_type_format CHECK (context_type ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
    key text CONSTRAINT working_memory_key_length CHECK (char_length(key) BETWEEN 1 AND 200),
    content jsonb NOT NULL CONSTRAINT working_memory_content_size CHECK (pg_column_size(content) <= 1048576),
    priority text NOT NULL DEFAULT 'normal'
        CONSTRAINT working_memory_priority_known CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT working_memory_expires_after_update CHECK (expires_at > updated_at)
);
COMMENT ON TABLE memory.working_memory IS 'what is on an agent''s mind now; rows expire at expires_at';
CREATE UNIQUE INDEX working_memory_key_idx ON memory.working_memory (agent_id, context_type, key) WHERE key IS NOT NULL;
CREATE INDEX working_memory_agent_idx ON memory.working_memory (agent_id, context_type, expires_at);
CREATE INDEX working_memory_expires_idx ON memory.working_memory (expires_at);

-- ---------------------------------------------------------------------------
-- Core memory: labelled blocks with a character limit and a read-only flag; every
-- change keeps a full snapshot in block_history.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.blocks (
    block_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    label text NOT NULL CONSTRAINT blocks_label_format CHECK (label ~ '^[a-z][a-z0-9_]{0,62}$'),
    value text NOT NULL,
    description text CONSTRAINT blocks_description_length CHECK (char_length(description) <= 2000),
    char_limit integer NOT NULL DEFAULT 5000
        CONSTRAINT blocks_char_limit_range CHECK (char_limit BETWEEN 1 AND 100000),
    read_only boolean NOT NULL DEFAULT false,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT current_user,
    CONSTRAINT blocks_value_within_limit CHECK (char_length(value) <= char_limit),
    UNIQUE (agent_id, label)
);
COMMENT ON TABLE memory.blocks IS 'core memory: who the agent is, in labelled blocks';

CREATE TABLE memory.block_history (
    block_id uuid NOT NULL REFERENCES memory.blocks (block_id) ON DELETE CASCADE,
    version integer NOT NULL,
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    label text NOT NULL,
    value text NOT NULL,
    description text,
    char_limit integer NOT NULL,
    read_only boolean NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL,
    PRIMARY KEY (block_id, version)
);
COMMENT ON TABLE memory.block_history IS 'a full snapshot of a block at every version, with the role that made it';
CREATE INDEX block_history_agent_label_idx ON memory.block_history (agent_id, label, version);

CREATE TABLE memory.checkpoints (
    checkpoint_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    kind text NOT NULL CONSTRAINT checkpoints_kind_format CHECK (kind ~ '^[a-z][a-z0-9_]{0,49}$'),
    state jsonb NOT NULL DEFAULT '{}' CONSTRAINT checkpoints_state_object CHECK (jsonb_typeof(state) = 'object'),
    blocks jsonb NOT NULL CONSTRAINT checkpoints_blocks_array CHECK (jsonb_typeof(blocks) = 'array'),
    identity_hash text NOT NULL CONSTRAINT checkpoints_identity_hash_hex CHECK (identity_hash ~ '^[0-9a-f]{64}$'),
    continuity_score real CONSTRAINT checkpoints_continuity_range CHECK (continuity_score BETWEEN 0 AND 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT session_user
);
COMMENT ON TABLE memory.checkpoints IS 'named snapshots of an agent''s blocks and state with their identity hash';
CREATE INDEX checkpoints_agent_created_idx ON memory.checkpoints (agent_id, created_at DESC);

CREATE TABLE memory.agent_state (
    agent_id uuid PRIMARY KEY DEFAULT memory.current_agent() REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    current_focus text CONSTRAINT agent_state_focus_length CHECK (char_length(current_focus) <= 10000),
    emotional_vector jsonb CONSTRAINT agent_state_emotional_object CHECK (jsonb_typeof(emotional_vector) = 'object'),
    working_context jsonb CONSTRAINT agent_state_context_size CHECK (pg_column_size(working_context) <= 1048576),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.agent_state IS 'an agent''s current focus, emotional vector, working context and heartbeat';

-- ---------------------------------------------------------------------------
-- Instances and decisions. PostgreSQL (one primary) is the arbiter: a decision is
-- resolved by a majority of the agent's instances whose heartbeat is fresh. This is
-- majority voting recorded in a transactional database, not Byzantine fault tolerance.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.instances (
    instance_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    name text NOT NULL CONSTRAINT instances_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$'),
    instance_type text NOT NULL DEFAULT 'primary'
        CONSTRAINT instances_type_known CHECK (instance_type IN ('primary', 'worker', 'specialized', 'replica')),
    location text CONSTRAINT instances_location_length CHECK (char_length(location) <= 200),
    capabilities jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT instances_capabilities_object CHECK (jsonb_typeof(capabilities) = 'object'),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT instances_status_known CHECK (status IN ('active', 'standby', 'offline')),
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, name),
    UNIQUE (agent_id, instance_id)
);
COMMENT ON TABLE memory.instances IS 'running instances of an agent, with heartbeats';

CREATE TABLE memory.decisions (
    decision_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id uuid NOT NULL DEFAULT memory.current_agent()
        REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    topic text NOT NULL CONSTRAINT decisions_topic_nonblank CHECK (topic ~ '\S' AND char_length(topic) <= 1000),
    proposal jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'open'
        CONSTRAINT decisions_status_known CHECK (status IN ('open', 'approved', 'rejected')),
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    electorate integer,
    approvals integer NOT NULL DEFAULT 0,
    rejections integer NOT NULL DEFAULT 0,
    UNIQUE (agent_id, decision_id)
);
COMMENT ON TABLE memory.decisions IS
'proposals resolved by a majority of live instances; Postgres is the arbiter (not Byzantine fault tolerance)';

CREATE TABLE memory.votes (
    decision_id uuid NOT NULL,
    instance_id uuid NOT NULL,
    agent_id uuid NOT NULL DEFAULT memory.current_agent() REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    approve boolean NOT NULL,
    voted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (decision_id, instance_id),
    FOREIGN KEY (agent_id, decision_id) REFERENCES memory.decisions (agent_id, decision_id) ON DELETE CASCADE,
    FOREIGN KEY (agent_id, instance_id) REFERENCES memory.instances (agent_id, instance_id) ON DELETE CASCADE
);
COMMENT ON TABLE memory.votes IS 'one vote per instance and decision';

-- ---------------------------------------------------------------------------
-- Row-level security. Every table holding memory is keyed on the agent; the lookup
-- of the current agent runs once per query as an initplan. Agents see and change
-- only their own rows; operators (memory_admin) see and manage all of them.
-- Commands an agent may not run at all are not granted (sql/functions/999-grants.sql)
-- and have no policy.
-- ---------------------------------------------------------------------------
DO $rls$
DECLARE
    t record;
    cmd text;
    verb text;
    clause text;
    check_clause text;
    own constant text := 'agent_id = (SELECT memory.current_agent())';
BEGIN
    FOR t IN
        SELECT *
        FROM (VALUES
            -- table, noun for policy names, commands agents may run directly
            ('agents', 'agent row', ARRAY['SELECT']),
            ('projects', 'projects', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
            ('episodes', 'episodes', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
            ('facts', 'facts', ARRAY['SELECT', 'INSERT', 'UPDATE']),
            ('fact_links', 'fact links', ARRAY['SELECT', 'INSERT', 'DELETE']),
            ('working_memory', 'working memory', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
            ('blocks', 'blocks', ARRAY['SELECT', 'INSERT', 'UPDATE']),
            ('block_history', 'block history', ARRAY['SELECT']),
            ('checkpoints', 'checkpoints', ARRAY['SELECT']),
            ('agent_state', 'state', ARRAY['SELECT', 'INSERT', 'UPDATE']),
            ('instances', 'instances', ARRAY['SELECT', 'INSERT', 'UPDATE']),
            ('decisions', 'decisions', ARRAY['SELECT']),
            ('votes', 'votes', ARRAY['SELECT'])
        ) AS v (tbl, noun, cmds)
    LOOP
        EXECUTE format('ALTER TABLE memory.%I ENABLE ROW LEVEL SECURITY', t.tbl);
        FOREACH cmd IN ARRAY t.cmds LOOP
            verb := CASE cmd
                WHEN 'SELECT' THEN 'read'
                WHEN 'INSERT' THEN 'add'
                WHEN 'UPDATE' THEN 'change'
                WHEN 'DELETE' THEN 'delete'
            END;
            clause := CASE WHEN cmd = 'INSERT' THEN '' ELSE format(' USING (%s)', own) END;
            -- working memory reads never see expired rows, even between expiry runs
            IF t.tbl = 'working_memory' AND cmd = 'SELECT' THEN
                clause := format(' USING (%s AND expires_at > now())', own);
            END IF;
            check_clause := CASE WHEN cmd IN ('INSERT', 'UPDATE') THEN format(' WITH CHECK (%s)', own) ELSE '' END;
            EXECUTE format(
                'CREATE POLICY %I ON memory.%I AS PERMISSIVE FOR %s TO memory_agent%s%s',
                format('agents %s their own %s', verb, t.noun), t.tbl, cmd, clause, check_clause
            );
        END LOOP;
        EXECUTE format(
            'CREATE POLICY %I ON memory.%I AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true)',
            format('operators manage every agent''s %s', t.noun), t.tbl
        );
    END LOOP;
END
$rls$;
