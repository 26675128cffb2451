-- Episodic memory: remember, update_episode, forget_episode.
-- SECURITY INVOKER: row-level security keeps every statement to the caller's rows.
SET ROLE memory_owner;

-- Private: the id of the caller's project of that name, created on first use.
CREATE OR REPLACE FUNCTION memory._project_id(project_name text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid;
    id uuid;
BEGIN
    IF project_name IS NULL THEN
        RETURN NULL;
    END IF;
    me := memory._require_agent();
    PERFORM memory._check_text('project', project_name, 200);
    SELECT p.project_id INTO id FROM memory.projects AS p WHERE p.agent_id = me AND p.name = project_name;
    IF id IS NULL THEN
        INSERT INTO memory.projects (agent_id, name) VALUES (me, project_name)
        ON CONFLICT (agent_id, name) DO NOTHING
        RETURNING project_id INTO id;
        IF id IS NULL THEN  -- a concurrent call created it
            SELECT p.project_id INTO id FROM memory.projects AS p WHERE p.agent_id = me AND p.name = project_name;
        END IF;
    END IF;
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory._project_id(text) IS
'Private: the current agent''s project of that name (created on first use), NULL for NULL.';

-- the signature before idempotency_key (issue 18): one remember, not two overloads
DROP FUNCTION IF EXISTS memory.remember(text, real, text[], text, timestamptz, jsonb, text);
CREATE OR REPLACE FUNCTION memory.remember(
    content text,
    importance real DEFAULT 0.5,
    tags text[] DEFAULT '{}',
    project text DEFAULT NULL,
    occurred_at timestamptz DEFAULT now(),
    metadata jsonb DEFAULT '{}',
    session_id text DEFAULT NULL,
    idempotency_key text DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    new_id uuid;
BEGIN
    -- without a key nothing is claimed, and the request (a copy of the content) is not built
    IF idempotency_key IS NOT NULL THEN
        new_id := memory._idempotency_claim(
            'remember', idempotency_key, jsonb_build_array(content, importance, tags, project, metadata, session_id)
        );
        IF new_id IS NOT NULL THEN
            RETURN new_id;
        END IF;
    END IF;
    INSERT INTO memory.episodes (agent_id, content, importance, tags, project_id, occurred_at, metadata, session_id)
    VALUES (
        me,
        memory._check_text('content', content, 500000),
        memory._check_unit_interval('importance', coalesce(importance, 0.5)),
        memory._check_tags(tags),
        memory._project_id(project),
        memory._check_time('occurred_at', occurred_at),
        memory._check_object('metadata', metadata),
        CASE WHEN session_id IS NULL THEN NULL ELSE memory._check_text('session_id', session_id, 200) END
    )
    RETURNING episode_id INTO new_id;
    IF idempotency_key IS NOT NULL THEN
        PERFORM memory._idempotency_record(idempotency_key, new_id);
    END IF;
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION memory.remember(text, real, text[], text, timestamptz, jsonb, text, text) IS
'Stores an episode for the current agent and returns its id. Durable at commit; its embedding is queued in the same transaction. content: 1 to 500,000 characters, never truncated; importance 0..1 (default 0.5); tags: at most 64 of 1-100 characters; project: name, created on first use; occurred_at: when it happened (default now()); metadata: a JSON object; session_id: up to 200 characters; idempotency_key: 1-200 characters, optional: a retry with the same key and the same arguments (occurred_at aside) returns the first id and stores nothing, for memory.idempotency_retention() (24 hours). Raises 42501 (not an agent), 22023 (empty content, bad tags, metadata or idempotency_key), 23505 (idempotency_key already used with other arguments), 22001 (content too long), 22003 (importance out of range), 22008 (infinite time), 54000 (metadata over 64 KiB).';

CREATE OR REPLACE FUNCTION memory.update_episode(
    episode_id uuid,
    content text DEFAULT NULL,
    importance real DEFAULT NULL,
    tags text[] DEFAULT NULL,
    metadata jsonb DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    UPDATE memory.episodes AS e
    SET content = CASE WHEN update_episode.content IS NULL THEN e.content
                       ELSE memory._check_text('content', update_episode.content, 500000) END,
        importance = CASE WHEN update_episode.importance IS NULL THEN e.importance
                          ELSE memory._check_unit_interval('importance', update_episode.importance) END,
        tags = CASE WHEN update_episode.tags IS NULL THEN e.tags ELSE memory._check_tags(update_episode.tags) END,
        metadata = CASE WHEN update_episode.metadata IS NULL THEN e.metadata
                        ELSE memory._check_object('metadata', update_episode.metadata) END,
        updated_at = now()
    WHERE e.episode_id = update_episode.episode_id AND e.agent_id = me;
    IF NOT FOUND THEN
        PERFORM memory._raise_episode_not_found(update_episode.episode_id, me,
                                                'check the id returned by remember() or search_episodic_memory()');
    END IF;
END
$$;

COMMENT ON FUNCTION memory.update_episode(uuid, text, real, text[], jsonb) IS
'Changes the given fields of one of the current agent''s episodes; NULL leaves a field as it is; metadata is replaced, not merged. A new content is re-embedded; tags, importance and metadata are not. Raises P0002 (no such episode for this agent; the DETAIL names the kept episode when consolidation merged it), and the errors of remember() for bad values.';

-- SECURITY DEFINER: agents hold no DELETE privilege on the tables (with it, LOCK TABLE
-- ... ACCESS EXCLUSIVE would let one agent freeze every other); the statement is
-- scoped to the caller's own episode.
CREATE OR REPLACE FUNCTION memory.forget_episode(episode_id uuid)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    -- Lock order: the episode's embedding jobs first, then the episode, as a daemon
    -- completing a batch does (jobs FOR UPDATE, then the chunks' foreign key share-locks
    -- the episode). Deleting the episode first and its jobs by cascade took the two in
    -- the opposite order and deadlocked against a concurrent completion (found by the soak).
    PERFORM 1 FROM memory.embedding_jobs AS j
    WHERE j.episode_id = forget_episode.episode_id AND j.agent_id = me
    ORDER BY j.job_id
    FOR UPDATE;
    DELETE FROM memory.episodes AS e WHERE e.episode_id = forget_episode.episode_id AND e.agent_id = me;
    IF NOT FOUND THEN
        PERFORM memory._raise_episode_not_found(forget_episode.episode_id, me, 'it may have been forgotten already');
    END IF;
END
$$;

COMMENT ON FUNCTION memory.forget_episode(uuid) IS
'Deletes one of the current agent''s episodes with its chunks and embedding jobs (and the copies consolidation merged into it). Raises P0002 when the agent has no such episode (the DETAIL names the kept episode when consolidation merged it).';
