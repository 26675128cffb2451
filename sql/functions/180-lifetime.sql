-- Memory over a lifetime (issue 20): erasure of an agent (operators), of a session or a
-- project (the agent itself), and who caused each cached query embedding.
-- Tables: migration 015 (agent_drops, query_embedding_askers). Decisions:
-- docs/decisions.md ("Erasure").
SET ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Who asked for each cached query embedding. The cache is shared and keyed by the
-- text's hash only; this trigger records the agent of the session that stored a row or
-- had a hit counted on it (embed_query counts a hit only when it can lock the row at
-- once, so an uncounted hit leaves no asker: erring that way only costs a cache miss).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._record_query_asker()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory.current_agent();
BEGIN
    PERFORM memory._require_trigger_of('memory._record_query_asker()', TG_RELID, '{memory.query_embedding_cache}');
    IF me IS NOT NULL THEN
        INSERT INTO memory.query_embedding_askers (model_id, query_sha256, agent_id)
        VALUES (NEW.model_id, NEW.query_sha256, me)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._record_query_asker() IS
'Private trigger (AFTER INSERT OR UPDATE on memory.query_embedding_cache): records the session''s agent as an asker of the cached query (nothing for a session that is not an agent). Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER query_embedding_cache_askers
AFTER INSERT OR UPDATE ON memory.query_embedding_cache
FOR EACH ROW EXECUTE FUNCTION memory._record_query_asker();

-- ---------------------------------------------------------------------------
-- The tables that hold rows of an agent, read from the catalog: every ordinary table of
-- schema memory with a uuid column named agent_id or *_agent_id, or with a foreign key
-- to memory.agents; one row per (table, column). memory.agents is deleted last and
-- memory.agent_drops is the erasure's own tombstone: neither is listed. Order: the
-- grants between agents (memory.shares, both sides: sharing ends with the first batch),
-- the query askers (their cache rows go with them), episodes and facts (their embedding
-- jobs are locked before the owner, the daemon's lock order), the queue and vectors,
-- then every other table by name.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._agent_tables()
RETURNS TABLE (ord integer, table_name regclass, column_name name)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cols AS (
        SELECT c.oid AS rel, a.attname
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind = 'r'
          AND a.atttypid = 'uuid'::regtype
          AND (a.attname = 'agent_id' OR a.attname LIKE '%\_agent\_id')
        UNION
        SELECT k.conrelid, a.attname
        FROM pg_catalog.pg_constraint AS k
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
        WHERE k.contype = 'f' AND k.confrelid = 'memory.agents'::regclass
          AND k.connamespace = 'memory'::regnamespace
    )
    SELECT (row_number() OVER (
                ORDER BY array_position(
                    ARRAY['shares', 'query_embedding_askers', 'episodes', 'facts', 'embedding_jobs', 'chunks',
                          'pooled_embeddings']::name [],
                    c.relname
                ) NULLS LAST, c.relname, cols.attname
            ))::integer,
           cols.rel::regclass, cols.attname
    FROM cols
    JOIN pg_catalog.pg_class AS c ON c.oid = cols.rel
    WHERE cols.rel NOT IN ('memory.agents'::regclass, 'memory.agent_drops'::regclass)
$$;

COMMENT ON FUNCTION memory._agent_tables() IS
'Private: every table of schema memory holding rows of an agent (a uuid column agent_id or *_agent_id, or a foreign key to memory.agents), with that column, in the order drop_agent empties them. Raises nothing.';

-- One batch of at most batch_rows rows of one table: returns how many were removed.
-- ---------------------------------------------------------------------------
-- Lock order between deleting a whole agent and the embed daemon. The daemon completing
-- a batch locks its jobs, then share-locks their episodes and facts (the chunks'
-- foreign keys); a delete of owners locks the owners, then (the owners' statement
-- trigger, 172) their jobs. A cascading DELETE FROM memory.agents, which cannot lock
-- the jobs first, met the daemon the other way round: a deadlock (40P01). One advisory
-- lock per agent, key (1095192148, hashtext(agent_id)), 1095192148 'AGNT' in ASCII:
-- memory.complete_embedding_batch tries it SHARED for each agent of its batch before
-- any row lock, without waiting, and leaves out the jobs of an agent whose lock it did
-- not get; deleting an agent takes it EXCLUSIVE before its episodes and facts (the row
-- trigger below; memory._drop_agent_rows per batch). So a deletion waits for the
-- completions of the agent in flight, and the daemon never waits for a deletion (the
-- agents row is not in its lock set either): no cycle, however many agents a DELETE
-- or a batch holds.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._agent_lock_key(agent uuid)
RETURNS integer
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.hashtext(agent::text) $$;

COMMENT ON FUNCTION memory._agent_lock_key(uuid) IS
'Private: the second half of an agent''s deletion lock, pg_advisory_xact_lock(1095192148, key) (tried shared by the embed daemon completing the agent''s jobs, taken exclusive by the deletion of the agent). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._lock_agent_for_deletion()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._require_trigger_of('memory._lock_agent_for_deletion()', TG_RELID, '{memory.agents}');
    PERFORM pg_advisory_xact_lock(1095192148, memory._agent_lock_key(OLD.agent_id));
    RETURN OLD;
END
$$;

COMMENT ON FUNCTION memory._lock_agent_for_deletion() IS
'Private trigger (BEFORE DELETE per row on memory.agents): takes the agent''s deletion lock exclusive before the cascade reaches its episodes and facts, so that the deletion and the embed daemon completing the agent''s jobs never deadlock (it waits for the completions in flight; later ones leave the agent''s jobs out). Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER agents_lock_for_deletion
BEFORE DELETE ON memory.agents
FOR EACH ROW EXECUTE FUNCTION memory._lock_agent_for_deletion();

CREATE OR REPLACE FUNCTION memory._drop_agent_rows(agent uuid, tbl regclass, col name, batch_rows integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid [];
    n bigint;
BEGIN
    IF tbl IN ('memory.episodes'::regclass, 'memory.facts'::regclass) THEN
        -- the agent's deletion lock (above): no completion of its jobs meanwhile
        PERFORM pg_advisory_xact_lock(1095192148, memory._agent_lock_key(agent));
    END IF;
    IF tbl = 'memory.episodes'::regclass THEN
        ids := ARRAY(SELECT e.episode_id FROM memory.episodes AS e WHERE e.agent_id = agent LIMIT batch_rows);
        -- the daemon's lock order: the owners' jobs first, then the owners
        PERFORM 1 FROM memory.embedding_jobs AS j WHERE j.episode_id = ANY (ids) ORDER BY j.job_id FOR UPDATE;
        DELETE FROM memory.episodes AS e WHERE e.episode_id = ANY (ids);
    ELSIF tbl = 'memory.facts'::regclass THEN
        ids := ARRAY(SELECT f.fact_id FROM memory.facts AS f WHERE f.agent_id = agent LIMIT batch_rows);
        PERFORM 1 FROM memory.embedding_jobs AS j WHERE j.fact_id = ANY (ids) ORDER BY j.job_id FOR UPDATE;
        -- superseded_by has no ON DELETE action: unlink the facts of later batches first
        UPDATE memory.facts AS f SET superseded_by = NULL
        WHERE f.agent_id = agent AND f.superseded_by = ANY (ids) AND f.fact_id <> ALL (ids);
        DELETE FROM memory.facts AS f WHERE f.fact_id = ANY (ids);
    ELSIF tbl = 'memory.query_embedding_askers'::regclass THEN
        -- the cached queries only this agent asked for go with its askers' rows
        WITH mine AS (
            SELECT q.model_id, q.query_sha256
            FROM memory.query_embedding_askers AS q
            WHERE q.agent_id = agent
            LIMIT batch_rows
        ),
        gone_cache AS (
            DELETE FROM memory.query_embedding_cache AS c
            USING mine
            WHERE c.model_id = mine.model_id AND c.query_sha256 = mine.query_sha256
              AND NOT EXISTS (
                  SELECT 1 FROM memory.query_embedding_askers AS o
                  WHERE o.model_id = c.model_id AND o.query_sha256 = c.query_sha256 AND o.agent_id <> agent
              )
        )
        DELETE FROM memory.query_embedding_askers AS q
        USING mine
        WHERE q.model_id = mine.model_id AND q.query_sha256 = mine.query_sha256 AND q.agent_id = agent;
    ELSE
        EXECUTE format(
            'DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE %I = $1 LIMIT $2))', tbl, tbl, col
        ) USING agent, batch_rows;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory._drop_agent_rows(uuid, regclass, name, integer) IS
'Private (drop_agent): removes at most batch_rows rows of the agent from one table (episodes and facts with their jobs locked first, their chunks, vectors and jobs by cascade; cached queries only this agent asked for with its askers'' rows). Returns the rows removed. Raises nothing of its own.';

-- ---------------------------------------------------------------------------
-- drop_agent: one batch per call of the SECURITY DEFINER step; the procedure commits
-- between batches (a function cannot), so no batch holds its locks for long.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._drop_agent_batch(name text, confirm text, batch_rows integer DEFAULT 2000)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    d memory.agent_drops;
    t record;
    n bigint;
    started boolean := false;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid agent name'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'the name memory.create_agent was given';
    END IF;
    IF confirm IS NULL OR confirm IS DISTINCT FROM name THEN
        RAISE EXCEPTION 'drop_agent needs confirm => the agent''s name'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'dropping an agent erases all its memory and cannot be undone',
                  HINT = format('CALL memory.drop_agent(%L, confirm => %L)', name, name);
    END IF;
    PERFORM memory._check_count('batch_rows', batch_rows, 1, 100000);

    SELECT ag.agent_id, ag.name, ag.db_role INTO a FROM memory.agents AS ag WHERE ag.name = _drop_agent_batch.name;
    IF FOUND THEN
        INSERT INTO memory.agent_drops (agent_id, agent_name, db_role)
        VALUES (a.agent_id, a.name, a.db_role)
        ON CONFLICT (agent_id) DO NOTHING;
        started := FOUND;
        SELECT * INTO d FROM memory.agent_drops AS x WHERE x.agent_id = a.agent_id FOR UPDATE;
    ELSE
        SELECT * INTO d FROM memory.agent_drops AS x
        WHERE x.agent_name = _drop_agent_batch.name
        ORDER BY x.requested_at DESC LIMIT 1 FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'agent % does not exist', name
                USING ERRCODE = 'no_data_found', HINT = 'SELECT name FROM memory.agents lists the agents';
        END IF;
    END IF;
    IF d.finished_at IS NOT NULL THEN
        RETURN memory._drop_agent_status(d);
    END IF;
    -- First batch: the login role stops being an agent at once (no new rows while the
    -- drop runs); the role itself is left to the operator (DROP ROLE), see the README.
    -- (an operator may have dropped the login role already: then there is nothing to
    -- revoke, and the agent's memory must still go)
    IF started AND to_regrole(quote_ident(a.db_role)) IS NOT NULL
       AND pg_catalog.pg_has_role(a.db_role, 'memory_agent', 'MEMBER') THEN
        EXECUTE format('REVOKE memory_agent FROM %I', a.db_role);
    END IF;

    FOR t IN
        SELECT x.ord, x.table_name, x.column_name FROM memory._agent_tables() AS x
        WHERE d.current_table IS NULL
           OR x.ord >= coalesce(
               (SELECT y.ord FROM memory._agent_tables() AS y
                WHERE y.table_name::text || '.' || y.column_name = d.current_table), 1)
        ORDER BY x.ord
    LOOP
        n := memory._drop_agent_rows(d.agent_id, t.table_name, t.column_name, batch_rows);
        IF n > 0 THEN
            UPDATE memory.agent_drops AS x
            SET current_table = t.table_name::text || '.' || t.column_name,
                removed = jsonb_set(x.removed, ARRAY[t.table_name::text],
                                    to_jsonb(coalesce((x.removed ->> t.table_name::text)::bigint, 0) + n)),
                batches = x.batches + 1, updated_at = now()
            WHERE x.agent_id = d.agent_id
            RETURNING * INTO d;
            RETURN memory._drop_agent_status(d);
        END IF;
    END LOOP;

    -- A full pass found nothing from where it started; rows written by a session that
    -- was already inside a transaction when the role lost memory_agent may sit in a
    -- table emptied earlier: check every table, and go round again if any is left.
    FOR t IN SELECT x.table_name, x.column_name FROM memory._agent_tables() AS x ORDER BY x.ord LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = $1)', t.table_name, t.column_name)
        INTO started USING d.agent_id;
        IF started THEN
            UPDATE memory.agent_drops AS x
            SET current_table = NULL, passes = x.passes + 1, updated_at = now()
            WHERE x.agent_id = d.agent_id
            RETURNING * INTO d;
            RETURN memory._drop_agent_status(d);
        END IF;
    END LOOP;

    DELETE FROM memory.agents AS ag WHERE ag.agent_id = d.agent_id;
    UPDATE memory.agent_drops AS x
    SET current_table = NULL, finished_at = now(), updated_at = now()
    WHERE x.agent_id = d.agent_id
    RETURNING * INTO d;
    -- the warmer removed the keys as the rows went (memory_cache notifications); a
    -- reconciliation also sweeps what a Redis outage may have left behind
    PERFORM memory.request_cache_reconcile('drop-agent');
    RETURN memory._drop_agent_status(d);
END
$$;

COMMENT ON FUNCTION memory._drop_agent_batch(text, text, integer) IS
'Operators (through CALL memory.drop_agent): one batch of an agent''s erasure: at most batch_rows rows of one table, committed by the caller. The first batch revokes memory_agent from the agent''s login role; the last deletes the agent and asks for a cache reconciliation. Returns the progress as jsonb (state running or done). Raises 22023 (bad name, confirm not equal to the name, batch_rows outside 1..100000), P0002 (no such agent and no drop of that name).';

CREATE OR REPLACE FUNCTION memory._drop_agent_status(d memory.agent_drops)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'agent', d.agent_name, 'agent_id', d.agent_id, 'db_role', d.db_role,
        'state', CASE WHEN d.finished_at IS NULL THEN 'running' ELSE 'done' END,
        'current_table', d.current_table, 'removed', d.removed, 'batches', d.batches, 'passes', d.passes,
        'requested_at', d.requested_at, 'finished_at', d.finished_at
    )
$$;

COMMENT ON FUNCTION memory._drop_agent_status(memory.agent_drops) IS
'Private: a drop''s progress row as jsonb (agent, state running or done, current table, rows removed per table, batches, passes, times). Raises nothing.';

-- A procedure so that it can COMMIT between batches. PostgreSQL refuses transaction
-- control in a procedure that is SECURITY DEFINER or has SET clauses, so this one is
-- SECURITY INVOKER (EXECUTE for memory_admin only) and pins its search_path with
-- set_config at each transaction; every step runs in _drop_agent_batch.
CREATE OR REPLACE PROCEDURE memory.drop_agent(
    name text, confirm text DEFAULT NULL, batch_rows integer DEFAULT 2000, INOUT result jsonb DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
BEGIN
    LOOP
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
        result := memory._drop_agent_batch(name, confirm, batch_rows);
        COMMIT;
        EXIT WHEN result ->> 'state' = 'done';
    END LOOP;
END
$$;

COMMENT ON PROCEDURE memory.drop_agent(text, text, integer, jsonb) IS
'Operators: CALL memory.drop_agent(name, confirm => name) erases an agent: every row of it in every table of schema memory (episodes, facts, vectors, jobs, working memory, blocks, checkpoints, instances, ...), its Redis keys (through the cache warmer) and cached query embeddings only it asked for, then the agent; its login role loses memory_agent (drop the role yourself). Commits every batch_rows rows; call it again to resume an interrupted drop. Must run outside a transaction block. Returns the progress (memory.agent_drops) as jsonb. Raises 22023, P0002 (see memory._drop_agent_batch), 2D000 inside a transaction block.';

-- ---------------------------------------------------------------------------
-- The agent's own erasures: a session or a project, with their vectors and jobs.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory._forget_episodes(me uuid, ids uuid [])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    PERFORM 1 FROM memory.embedding_jobs AS j
    WHERE j.episode_id = ANY (ids) AND j.agent_id = me
    ORDER BY j.job_id
    FOR UPDATE;
    DELETE FROM memory.episodes AS e WHERE e.episode_id = ANY (ids) AND e.agent_id = me;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory._forget_episodes(uuid, uuid []) IS
'Private: deletes these episodes of agent me (their embedding jobs locked first, chunks and jobs by cascade); returns how many. Raises nothing.';

CREATE OR REPLACE FUNCTION memory.forget_session(session_id text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_text('session_id', session_id, 200);
    -- copies of the session's episodes that consolidation merged into an episode kept elsewhere
    DELETE FROM memory.consolidations AS x
    WHERE x.agent_id = me AND x.merged_episode ->> 'session_id' = forget_session.session_id;
    RETURN memory._forget_episodes(me, ARRAY(
        SELECT e.episode_id FROM memory.episodes AS e
        WHERE e.agent_id = me AND e.session_id = forget_session.session_id
        ORDER BY e.episode_id
    ));
END
$$;

COMMENT ON FUNCTION memory.forget_session(text) IS
'Deletes every episode of the current agent with this session_id, with their chunks and embedding jobs, and the session''s copies merged by consolidation; returns how many episodes (0 when there are none). Raises 42501 (not an agent), 22023 (empty), 22001 (over 200 characters).';

CREATE OR REPLACE FUNCTION memory.forget_project(name text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    p uuid;
    n integer;
BEGIN
    PERFORM memory._check_text('name', name, 200);
    SELECT pr.project_id INTO p FROM memory.projects AS pr
    WHERE pr.agent_id = me AND pr.name = forget_project.name
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'project not found'
            USING ERRCODE = 'no_data_found',
                  DETAIL = 'this agent has no project of that name',
                  HINT = 'it may have been forgotten already';
    END IF;
    n := memory._forget_episodes(me, ARRAY(
        SELECT e.episode_id FROM memory.episodes AS e
        WHERE e.agent_id = me AND e.project_id = p
        ORDER BY e.episode_id
    ));
    DELETE FROM memory.projects AS pr WHERE pr.project_id = p AND pr.agent_id = me;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.forget_project(text) IS
'Deletes the current agent''s project of this name and every episode in it, with their chunks and embedding jobs; returns how many episodes. Raises 42501 (not an agent), 22023 (empty), 22001 (over 200 characters), P0002 (no such project).';

-- ---------------------------------------------------------------------------
-- Decay and retention (migration 016). Effective importance (README, "Retention"):
--   d   = 0.5 ^ (age / decay_half_life)          (1 without a half-life; age >= 0)
--   u   = 1 - 0.5 ^ (access_count / 5)           (0 unused, 0.5 after 5 uses, -> 1)
--   eff = importance * (d + (1 - d) * u)
-- so 0 <= importance * d <= eff <= importance <= 1: age lowers it towards 0, use brings
-- it back towards the importance the agent gave, never above.
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memory.effective_importance(
    importance real, occurred_at timestamptz, access_count integer, decay_half_life interval,
    at timestamptz DEFAULT now()
)
RETURNS real
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- under 1e-30 is 0: a real cannot hold what a double can (the cast would underflow)
    SELECT (CASE WHEN v < 1e-30 THEN 0 ELSE v END)::real
    FROM (SELECT least(1, greatest(0, importance)) * (d + (1 - d) * u) AS v
    FROM (
        SELECT CASE
                   WHEN decay_half_life IS NULL OR decay_half_life <= interval '0' THEN 1::double precision
                   -- an infinite time: infinitely old (0) or not old at all (1)
                   WHEN NOT (isfinite(occurred_at) AND isfinite(at)) THEN
                       CASE WHEN occurred_at < at THEN 0::double precision ELSE 1::double precision END
                   -- exponents capped at 100: 0.5^100 (8e-31) times an importance of at
                   -- least 1e-45 (the smallest real) stays far above the smallest double,
                   -- and any d under 1e-30 gives the same real result (0, or the use term
                   -- alone); at 1000, a tiny importance times 0.5^1000 underflowed (22003)
                   ELSE power(0.5::double precision, least(100,
                              greatest(0, extract(EPOCH FROM at - occurred_at))::double precision
                              / extract(EPOCH FROM decay_half_life)::double precision))
               END AS d,
               1 - power(0.5::double precision, least(1000, greatest(0, coalesce(access_count, 0)) / 5.0)) AS u
    ) AS f) AS g
$$;

COMMENT ON FUNCTION memory.effective_importance(real, timestamptz, integer, interval, timestamptz) IS
'An episode''s importance after decay and use: importance * (d + (1 - d) * u), d = 0.5^(age / decay_half_life) (1 when the half-life is NULL), u = 1 - 0.5^(access_count / 5); between importance * d and importance, never outside 0..1. Raises nothing (NULL in, NULL out).';

-- The agent a policy call is about: the caller's own, or, for an operator, the named one.
CREATE OR REPLACE FUNCTION memory._policy_agent(agent text)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory.current_agent();
    target uuid;
BEGIN
    IF agent IS NULL THEN
        RETURN memory._require_agent();
    END IF;
    SELECT a.agent_id INTO target FROM memory.agents AS a WHERE a.name = agent;
    IF target IS NOT NULL AND target = me THEN
        RETURN me;
    END IF;
    IF NOT memory._is_admin() THEN
        RAISE EXCEPTION 'only an operator may set another agent''s retention policy'
            USING ERRCODE = 'insufficient_privilege', HINT = 'leave agent NULL to set your own';
    END IF;
    IF target IS NULL THEN
        RAISE EXCEPTION 'agent % does not exist', agent
            USING ERRCODE = 'no_data_found', HINT = 'SELECT name FROM memory.agents lists the agents';
    END IF;
    RETURN target;
END
$$;

COMMENT ON FUNCTION memory._policy_agent(text) IS
'Private: the agent a retention-policy call applies to: the caller''s own (agent NULL or its own name) or, for an operator, the named agent. Raises 42501 (not an agent; another agent''s name without being an operator), P0002 (an operator naming no agent).';

CREATE OR REPLACE FUNCTION memory.set_retention_policy(
    max_age interval DEFAULT NULL,
    max_episodes integer DEFAULT NULL,
    importance_floor real DEFAULT NULL,
    protected_tags text [] DEFAULT '{}',
    decay_half_life interval DEFAULT NULL,
    agent text DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target uuid := memory._policy_agent(agent);
    p memory.retention_policies;
BEGIN
    IF max_age IS NOT NULL AND (max_age <= interval '0' OR max_age > interval '1000 years') THEN
        RAISE EXCEPTION 'max_age must be positive'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. interval ''365 days''; NULL keeps episodes of any age';
    END IF;
    IF decay_half_life IS NOT NULL AND (decay_half_life <= interval '0' OR decay_half_life > interval '1000 years') THEN
        RAISE EXCEPTION 'decay_half_life must be positive'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'e.g. interval ''90 days''; NULL: importance does not decay';
    END IF;
    IF max_episodes IS NOT NULL AND max_episodes < 1 THEN
        RAISE EXCEPTION 'max_episodes must be at least 1'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'NULL keeps any number of episodes';
    END IF;
    IF importance_floor IS NOT NULL THEN
        PERFORM memory._check_unit_interval('importance_floor', importance_floor);
    END IF;
    PERFORM memory._check_tags(coalesce(protected_tags, '{}'));
    INSERT INTO memory.retention_policies AS r (
        agent_id, max_age, max_episodes, importance_floor, protected_tags, decay_half_life, updated_at, updated_by
    )
    VALUES (target, max_age, max_episodes, importance_floor, coalesce(protected_tags, '{}'), decay_half_life,
            now(), session_user)
    ON CONFLICT (agent_id) DO UPDATE
    SET max_age = excluded.max_age, max_episodes = excluded.max_episodes,
        importance_floor = excluded.importance_floor, protected_tags = excluded.protected_tags,
        decay_half_life = excluded.decay_half_life, updated_at = excluded.updated_at,
        updated_by = excluded.updated_by
    RETURNING * INTO p;
    RETURN to_jsonb(p) - 'agent_id';
END
$$;

COMMENT ON FUNCTION memory.set_retention_policy(interval, integer, real, text [], interval, text) IS
'Sets (replaces) a retention policy: episodes older than max_age, beyond the max_episodes of highest effective importance, or with an effective importance under importance_floor are removed by the memory-retention job, except those carrying a protected tag; decay_half_life sets the decay of memory.effective_importance. NULL: no such rule. agent: NULL for the caller''s own; operators may name any agent. Returns the policy. Raises 42501 (not an agent; another agent without being an operator), P0002 (unknown agent), 22023 (non-positive max_age, half-life or max_episodes; bad tags), 22003 (floor outside 0..1).';

CREATE OR REPLACE FUNCTION memory.clear_retention_policy(agent text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target uuid := memory._policy_agent(agent);
BEGIN
    DELETE FROM memory.retention_policies AS r WHERE r.agent_id = target;
    RETURN FOUND;
END
$$;

COMMENT ON FUNCTION memory.clear_retention_policy(text) IS
'Removes a retention policy (the caller''s own, or an operator''s named agent''s); returns whether there was one. Raises 42501, P0002 as set_retention_policy.';

-- One batch of one agent's retention: the first rule with work removes at most
-- batch_rows episodes (logged first, then deleted with their jobs locked first).
CREATE OR REPLACE FUNCTION memory._retention_batch(agent uuid, batch_rows integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p memory.retention_policies;
    -- empty, not NULL: each rule runs when the ones before it found nothing (with NULL, a
    -- policy without max_age never ran its other rules; found by make bench-scale)
    ids uuid [] := '{}';
    rule text;
    excess bigint;
BEGIN
    SELECT * INTO p FROM memory.retention_policies AS r WHERE r.agent_id = agent;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF p.max_age IS NOT NULL THEN
        rule := 'max_age';
        ids := ARRAY(
            SELECT e.episode_id FROM memory.episodes AS e
            WHERE e.agent_id = agent AND e.occurred_at < now() - p.max_age AND NOT (e.tags && p.protected_tags)
            ORDER BY e.occurred_at LIMIT batch_rows
        );
    END IF;
    IF cardinality(ids) IS NOT DISTINCT FROM 0 AND p.importance_floor IS NOT NULL THEN
        rule := 'importance_floor';
        ids := ARRAY(
            SELECT e.episode_id FROM memory.episodes AS e
            WHERE e.agent_id = agent AND NOT (e.tags && p.protected_tags)
              AND memory.effective_importance(e.importance, e.occurred_at, e.access_count, p.decay_half_life)
                  < p.importance_floor
            LIMIT batch_rows
        );
    END IF;
    IF cardinality(ids) IS NOT DISTINCT FROM 0 AND p.max_episodes IS NOT NULL THEN
        rule := 'max_episodes';
        SELECT count(*) - p.max_episodes INTO excess FROM memory.episodes AS e WHERE e.agent_id = agent;
        IF excess > 0 THEN
            -- the least important first (protected ones count but are never removed)
            ids := ARRAY(
                SELECT e.episode_id FROM memory.episodes AS e
                WHERE e.agent_id = agent AND NOT (e.tags && p.protected_tags)
                ORDER BY memory.effective_importance(e.importance, e.occurred_at, e.access_count, p.decay_half_life),
                         e.occurred_at, e.episode_id
                LIMIT least(excess, batch_rows)
            );
        END IF;
    END IF;
    IF coalesce(cardinality(ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO memory.retention_log (
        agent_id, episode_id, rule, occurred_at, tags, importance, effective_importance, access_count, content_sha256
    )
    SELECT e.agent_id, e.episode_id, rule, e.occurred_at, e.tags, e.importance,
           memory.effective_importance(e.importance, e.occurred_at, e.access_count, p.decay_half_life),
           e.access_count, e.content_sha256
    FROM memory.episodes AS e
    WHERE e.episode_id = ANY (ids) AND e.agent_id = agent;
    RETURN memory._forget_episodes(agent, ids);
END
$$;

COMMENT ON FUNCTION memory._retention_batch(uuid, integer) IS
'Private (memory-retention): applies one batch of an agent''s policy: the first rule with work (max_age, then importance_floor, then max_episodes) removes at most batch_rows episodes not carrying a protected tag, each logged in memory.retention_log. Returns how many. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory.list_retention_log(k integer DEFAULT 20)
RETURNS TABLE (
    log_id bigint,
    episode_id uuid,
    rule text,
    occurred_at timestamptz,
    tags text [],
    importance real,
    effective_importance real,
    access_count integer,
    removed_at timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_count('k', k, 1, 1000);
    RETURN QUERY
    SELECT l.log_id, l.episode_id, l.rule, l.occurred_at, l.tags, l.importance, l.effective_importance,
           l.access_count, l.removed_at
    FROM memory.retention_log AS l
    WHERE l.agent_id = me
    ORDER BY l.removed_at DESC, l.log_id DESC
    LIMIT k;
END
$$;

COMMENT ON FUNCTION memory.list_retention_log(integer) IS
'What the memory-retention job removed of the current agent''s episodes, newest first, at most k (1..1000, default 20): the episode''s id, the rule (max_age, importance_floor, max_episodes), its time, tags, importance and effective importance, access count, and when (no text: it is gone). Raises 42501 (not an agent), 22023 (k NULL or outside 1..1000).';
