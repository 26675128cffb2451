-- Quotas and role limits per agent (issue 15; tables in migration 013). Operators set
-- defaults in memory.quota_settings and per-agent overrides with memory.set_agent_limits.
--   * stored bytes: text of the agent's episodes and facts (octet_length), and since
--     migration 021 of its working memory, core blocks and their history, counted in
--     memory.agent_usage by the triggers below on every insert, change and delete;
--   * episodes per minute: a fixed one-minute window per agent;
--   * queued embedding work: the agent's pending embedding jobs, counted in
--     memory.agent_usage by the triggers of memory.embedding_jobs (migration 021).
-- Crossing one raises 53400 (configuration_limit_exceeded) with a hint, from an AFTER
-- trigger, so the whole statement is undone: nothing stored changes. Quotas bind agents'
-- sessions; operators (imports, restores) are counted but never refused.
-- Role limits: create_agent sets a connection limit, statement_timeout and
-- idle_in_transaction_session_timeout on the agent's login role.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._agent_limits(agent uuid)
RETURNS TABLE (
    max_stored_bytes bigint, max_episodes_per_minute integer, max_queued_jobs integer,
    connection_limit integer, statement_timeout interval, idle_in_transaction_timeout interval
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL keeps the plan for the session (every write calls this)
    RETURN QUERY
    SELECT coalesce(q.max_stored_bytes, s.max_stored_bytes),
           coalesce(q.max_episodes_per_minute, s.max_episodes_per_minute),
           coalesce(q.max_queued_jobs, s.max_queued_jobs),
           coalesce(q.connection_limit, s.connection_limit),
           coalesce(q.statement_timeout, s.statement_timeout),
           coalesce(q.idle_in_transaction_timeout, s.idle_in_transaction_timeout)
    FROM memory.quota_settings AS s
    LEFT JOIN memory.agent_quotas AS q ON q.agent_id = _agent_limits.agent;
END
$$;

COMMENT ON FUNCTION memory._agent_limits(uuid) IS
'Private: the quotas and role limits in force for an agent: its overrides in memory.agent_quotas, else the defaults of memory.quota_settings. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._queued_jobs(agent uuid, cap integer)
RETURNS integer
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*)::integer FROM (
        SELECT 1 FROM memory.embedding_jobs AS j WHERE j.agent_id = agent AND j.state = 'pending' LIMIT cap
    ) AS x
$$;

COMMENT ON FUNCTION memory._queued_jobs(uuid, integer) IS
'Private: the agent''s pending embedding jobs counted in the queue, up to cap (an index range of at most cap entries): the exact recount that checks the counter memory._usage() reads (tests, operators); no write path calls it. Raises nothing.';

-- _usage gained pending_jobs (migration 021): a function's OUT columns cannot be
-- replaced in place, so the old one goes first (the same transaction re-creates it).
DO $drop_old_usage$
BEGIN
    IF to_regprocedure('memory._usage(uuid)') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_proc AS p
        WHERE p.oid = to_regprocedure('memory._usage(uuid)') AND 'pending_jobs' = ANY (p.proargnames)
    ) THEN
        DROP FUNCTION memory._usage(uuid);
    END IF;
END
$drop_old_usage$;

CREATE OR REPLACE FUNCTION memory._usage(
    agent uuid, OUT stored_bytes bigint, OUT window_episodes bigint, OUT pending_jobs bigint
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    this_tx xid8 := pg_current_xact_id_if_assigned();
    c record;
    t record;
BEGIN
    SELECT coalesce(sum(u.stored_bytes), 0)::bigint AS b,
           coalesce(sum(u.window_episodes) FILTER (WHERE u.window_start > now() - interval '1 minute'), 0)::bigint AS e,
           coalesce(sum(u.pending_jobs), 0)::bigint AS j
    INTO c
    FROM memory.agent_usage AS u
    WHERE u.agent_id = agent;
    stored_bytes := c.b;
    window_episodes := c.e;
    pending_jobs := c.j;
    -- this transaction's counts not yet folded into the rows above (memory._add_usage):
    -- the latest running totals of its backend's two shards (a writer's, a daemon's),
    -- one index probe each, however long the transaction. Other transactions' rows are
    -- invisible until they commit, and gone then. Only with a transaction id: a
    -- read-only session (a standby cannot read an unlogged table) has written none.
    IF this_tx IS NOT NULL THEN
        SELECT coalesce(sum(x.stored_bytes), 0)::bigint AS b, coalesce(sum(x.window_episodes), 0)::bigint AS e,
               coalesce(sum(x.pending_jobs), 0)::bigint AS j
        INTO t
        FROM unnest(ARRAY[pg_backend_pid() % 16, pg_backend_pid() % 16 + 16]::smallint []) AS s (shard)
        CROSS JOIN LATERAL (
            SELECT r.stored_bytes, r.window_episodes, r.pending_jobs
            FROM memory.agent_usage_tx AS r
            WHERE r.tx = this_tx AND r.agent_id = agent AND r.shard = s.shard
            ORDER BY r.seq DESC
            LIMIT 1
        ) AS x;
        stored_bytes := stored_bytes + t.b;
        window_episodes := window_episodes + t.e;
        pending_jobs := pending_jobs + t.j;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._usage(uuid) IS
'Private: an agent''s usage summed over its counter shards (at most 32 rows) and the latest running totals of the calling transaction not yet folded into them (memory.agent_usage_tx, the backend''s shards): stored bytes of text, episodes written in the shards'' windows that began within the last minute, pending embedding jobs. Raises nothing.';

-- Counting (migration 023). Every count goes through memory._add_usage: a transaction's
-- first two counts update the counter row of (agent, shard) in place; later ones append
-- a row of running totals to memory.agent_usage_tx, folded in at commit. Updating one
-- row once per statement of a long transaction made each update walk a chain of the
-- row's versions that no one can prune before the commit: O(n^2) for n statements.
CREATE OR REPLACE FUNCTION memory._touch_usage(agent uuid, shard_no smallint, bytes bigint, episodes bigint, jobs bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL: the session keeps the statement's plan (an SQL function with a SET
    -- clause is planned again on every call: a third of this call's cost on the write
    -- path of every remember())
    INSERT INTO memory.agent_usage AS au (agent_id, shard, stored_bytes, window_start, window_episodes, pending_jobs)
    VALUES (agent, shard_no, bytes, now(), episodes, jobs)
    ON CONFLICT (agent_id, shard) DO UPDATE
    SET stored_bytes = au.stored_bytes + excluded.stored_bytes,
        pending_jobs = au.pending_jobs + excluded.pending_jobs,
        window_start = CASE WHEN excluded.window_episodes = 0 OR au.window_start > now() - interval '1 minute'
                            THEN au.window_start ELSE now() END,
        window_episodes = CASE WHEN excluded.window_episodes = 0 THEN au.window_episodes
                               WHEN au.window_start > now() - interval '1 minute'
                               THEN au.window_episodes + excluded.window_episodes
                               ELSE excluded.window_episodes END;
END
$$;

COMMENT ON FUNCTION memory._touch_usage(uuid, smallint, bigint, bigint, bigint) IS
'Private: adds bytes of text, episodes written (in the shard''s one-minute window, which restarts when it is older) and pending jobs to the counter row of an agent''s shard, creating it. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._add_usage(agent uuid, shard_no smallint, bytes bigint, episodes bigint, jobs bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    this_tx xid8 := pg_current_xact_id();
    -- how many counts this transaction made in place: a hint only (any session may set
    -- it); whatever it says, every count lands once, in place or in agent_usage_tx
    hint text := current_setting('memory.usage_counts', true);
BEGIN
    IF hint IS DISTINCT FROM this_tx::text || ':2' THEN
        PERFORM memory._touch_usage(agent, shard_no, bytes, episodes, jobs);
        PERFORM set_config('memory.usage_counts',
                           this_tx::text || CASE WHEN hint = this_tx::text || ':1' THEN ':2' ELSE ':1' END, true);
        RETURN;
    END IF;
    -- the first row of (transaction, agent, shard), seq 1, queues the fold at commit
    INSERT INTO memory.agent_usage_tx (tx, agent_id, shard, seq, stored_bytes, window_episodes, pending_jobs)
    SELECT this_tx, agent, shard_no, coalesce(p.seq, 0) + 1, coalesce(p.stored_bytes, 0) + bytes,
           coalesce(p.window_episodes, 0) + episodes, coalesce(p.pending_jobs, 0) + jobs
    FROM (VALUES (1)) AS one (n)
    LEFT JOIN LATERAL (
        SELECT t.seq, t.stored_bytes, t.window_episodes, t.pending_jobs FROM memory.agent_usage_tx AS t
        WHERE t.tx = this_tx AND t.agent_id = agent AND t.shard = shard_no
        ORDER BY t.seq DESC
        LIMIT 1
    ) AS p ON true;
END
$$;

COMMENT ON FUNCTION memory._add_usage(uuid, smallint, bigint, bigint, bigint) IS
'Private: counts bytes of text, episodes written and pending jobs for an agent in a counter shard (this backend''s: pg_backend_pid() % 16, plus 16 for an embed daemon; memory._usage() looks there): in place (memory._touch_usage) for the transaction''s first two counts, else as a new row of running totals in memory.agent_usage_tx, which memory._fold_usage_tx() adds to the counter row at commit: O(1) per count however long the transaction. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._fold_usage_tx()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    last record;
BEGIN
    IF TG_RELID <> 'memory.agent_usage_tx'::regclass THEN
        RAISE EXCEPTION 'memory._fold_usage_tx() runs only as a trigger of memory.agent_usage_tx'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    SELECT t.stored_bytes, t.window_episodes, t.pending_jobs INTO last
    FROM memory.agent_usage_tx AS t
    WHERE t.tx = NEW.tx AND t.agent_id = NEW.agent_id AND t.shard = NEW.shard
    ORDER BY t.seq DESC
    LIMIT 1;
    IF FOUND AND EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = NEW.agent_id) THEN
        PERFORM memory._touch_usage(NEW.agent_id, NEW.shard, last.stored_bytes, last.window_episodes, last.pending_jobs);
    END IF;
    -- a later count of this transaction (after SET CONSTRAINTS ... IMMEDIATE fired this
    -- early) starts again at seq 1 and queues its own fold
    DELETE FROM memory.agent_usage_tx AS t WHERE t.tx = NEW.tx AND t.agent_id = NEW.agent_id AND t.shard = NEW.shard;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._fold_usage_tx() IS
'Private constraint trigger (AFTER INSERT of a first row, deferred to commit, on memory.agent_usage_tx): adds the transaction''s last running totals for the row''s agent and shard to its counter row in memory.agent_usage (none for an agent that is gone) and deletes the transaction''s rows of that agent and shard. Raises 42501 when fired on any other table.';

-- OR REPLACE does not exist for constraint triggers: created once. Deferred to commit;
-- a session that makes it fire earlier (SET CONSTRAINTS ALL IMMEDIATE) only folds
-- earlier, at the end of each statement: nothing is lost.
DO $fold_trigger$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger AS t
        WHERE t.tgrelid = 'memory.agent_usage_tx'::regclass AND t.tgname = 'agent_usage_tx_fold'
    ) THEN
        CREATE CONSTRAINT TRIGGER agent_usage_tx_fold
        AFTER INSERT ON memory.agent_usage_tx
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (new.seq = 1) EXECUTE FUNCTION memory._fold_usage_tx();
    END IF;
END
$fold_trigger$;

CREATE OR REPLACE FUNCTION memory._check_quotas(agent uuid, episodes_rate boolean, queued_jobs boolean)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
BEGIN
    -- one statement for the limits and the usage (every write of an agent runs this)
    SELECT l.max_stored_bytes, l.max_episodes_per_minute, l.max_queued_jobs, x.stored_bytes, x.window_episodes,
           x.pending_jobs
    INTO u
    FROM memory._agent_limits(agent) AS l CROSS JOIN memory._usage(agent) AS x;
    PERFORM memory._refuse_over_stored_bytes(u.stored_bytes, u.max_stored_bytes);
    IF episodes_rate AND u.window_episodes > u.max_episodes_per_minute THEN
        RAISE EXCEPTION 'quota exceeded: episodes per minute'
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = format('%s episodes in the current minute, the quota is %s', u.window_episodes, u.max_episodes_per_minute),
                  HINT = 'retry after a minute, or ask an operator to raise max_episodes_per_minute (memory.set_agent_limits)';
    END IF;
    IF queued_jobs AND u.pending_jobs > u.max_queued_jobs THEN
        RAISE EXCEPTION 'quota exceeded: queued embedding jobs'
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = format('more than %s of this agent''s texts wait to be embedded', u.max_queued_jobs),
                  HINT = 'retry when the queue has drained (memory.my_quota() shows it), or ask an operator to raise max_queued_jobs';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_quotas(uuid, boolean, boolean) IS
'Private: checks an agent''s usage (memory._usage: its counters with the calling transaction''s own counts) against its quotas: stored bytes always, episodes per minute and queued embedding jobs when asked. Raises 53400 (configuration_limit_exceeded, with the figures and a hint) for the first quota crossed.';

-- A dropped agent's counters (memory.agent_usage has no foreign key to memory.agents
-- since migration 021: see there).
CREATE OR REPLACE FUNCTION memory._delete_agents_usage()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_RELID <> 'memory.agents'::regclass THEN
        RAISE EXCEPTION 'memory._delete_agents_usage() runs only as a trigger of memory.agents'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    DELETE FROM memory.agent_usage AS u WHERE u.agent_id IN (SELECT o.agent_id FROM old_agents AS o);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._delete_agents_usage() IS
'Private trigger (AFTER DELETE per statement on memory.agents): deletes the quota counters of the deleted agents, the cascade of the foreign key migration 021 dropped. Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER agents_delete_usage
AFTER DELETE ON memory.agents
REFERENCING OLD TABLE AS old_agents
FOR EACH STATEMENT EXECUTE FUNCTION memory._delete_agents_usage();

-- The pending-jobs counter (migration 021). Every statement that inserts, changes or
-- deletes embedding jobs adds, per agent, the pending jobs it created minus those it
-- took out of pending, to the agent's counter row of this backend's shard: writers
-- (agents, operators) in 0..15, the embed daemons (memory_worker) in 16..31, so that a
-- daemon's claim never waits on a writer's counter row (nor the reverse), and the sum
-- over the shards is the number of pending jobs that committed transactions left.
CREATE OR REPLACE FUNCTION memory._count_pending_jobs()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    my_shard smallint := pg_backend_pid() % 16;
BEGIN
    IF TG_RELID <> 'memory.embedding_jobs'::regclass THEN
        RAISE EXCEPTION 'memory._count_pending_jobs() runs only as a trigger of memory.embedding_jobs'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- the owners' enqueue triggers count their new jobs with the text they store,
        -- in one count (memory._enqueue_new_episodes); every other writer of jobs sets
        -- this off before inserting, so that a session cannot switch the count off
        IF current_setting('memory.owner_counts_jobs', true) = 'on' THEN
            RETURN NULL;
        END IF;
        PERFORM memory._add_usage(d.agent_id, my_shard, 0, 0, d.n) FROM (
            SELECT n.agent_id, count(*) AS n FROM new_jobs AS n WHERE n.state = 'pending'
            GROUP BY n.agent_id ORDER BY n.agent_id
        ) AS d;
        RETURN NULL;
    END IF;
    IF pg_catalog.pg_has_role(session_user, 'memory_worker', 'MEMBER') THEN
        my_shard := my_shard + 16;
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- a dropped agent's counters are gone (memory._delete_agents_usage)
        PERFORM memory._add_usage(d.agent_id, my_shard, 0, 0, -d.n) FROM (
            SELECT o.agent_id, count(*) AS n FROM old_jobs AS o
            WHERE o.state = 'pending' AND EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = o.agent_id)
            GROUP BY o.agent_id ORDER BY o.agent_id
        ) AS d;
    ELSE
        PERFORM memory._add_usage(d.agent_id, my_shard, 0, 0, d.n) FROM (
            SELECT x.agent_id, sum(x.n)::bigint AS n FROM (
                SELECT n.agent_id, 1 AS n FROM new_jobs AS n WHERE n.state = 'pending'
                UNION ALL
                SELECT o.agent_id, -1 FROM old_jobs AS o WHERE o.state = 'pending'
            ) AS x
            WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = x.agent_id)
            GROUP BY x.agent_id
            HAVING sum(x.n) <> 0
            ORDER BY x.agent_id
        ) AS d;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._count_pending_jobs() IS
'Private trigger (AFTER INSERT, UPDATE and DELETE per statement on memory.embedding_jobs): keeps each agent''s pending-jobs counter (memory._add_usage: this backend''s shard, 16..31 for the embed daemons) equal to its jobs in state pending; new jobs of the enqueue triggers are counted by those (memory.owner_counts_jobs on). Raises 42501 when fired on any other table.';

-- Filled once, when the triggers are first created (an install, or the upgrade that
-- applied migration 021): under a lock that stops every change of the queue until this
-- transaction commits, so that no change falls between the count and the triggers.
DO $fill_pending_counters$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger AS t
        WHERE t.tgrelid = 'memory.embedding_jobs'::regclass AND t.tgname = 'embedding_jobs_count_pending_insert'
    ) THEN
        LOCK TABLE memory.embedding_jobs IN SHARE ROW EXCLUSIVE MODE;
        UPDATE memory.agent_usage AS au SET pending_jobs = 0 WHERE au.pending_jobs <> 0;
        INSERT INTO memory.agent_usage AS au (agent_id, shard, pending_jobs)
        SELECT j.agent_id, 0, count(*) FROM memory.embedding_jobs AS j
        WHERE j.state = 'pending' AND EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = j.agent_id)
        GROUP BY j.agent_id
        ON CONFLICT (agent_id, shard) DO UPDATE SET pending_jobs = excluded.pending_jobs;
    END IF;
END
$fill_pending_counters$;

CREATE OR REPLACE TRIGGER embedding_jobs_count_pending_insert
AFTER INSERT ON memory.embedding_jobs
REFERENCING NEW TABLE AS new_jobs
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_pending_jobs();

CREATE OR REPLACE TRIGGER embedding_jobs_count_pending_update
AFTER UPDATE ON memory.embedding_jobs
REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_pending_jobs();

CREATE OR REPLACE TRIGGER embedding_jobs_count_pending_delete
AFTER DELETE ON memory.embedding_jobs
REFERENCING OLD TABLE AS old_jobs
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_pending_jobs();

CREATE OR REPLACE FUNCTION memory._refuse_over_stored_bytes(stored bigint, quota bigint)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF stored > quota THEN
        RAISE EXCEPTION 'quota exceeded: stored bytes'
            USING ERRCODE = 'configuration_limit_exceeded',
                  DETAIL = format('this write would store %s bytes of text, the quota is %s', stored, quota),
                  HINT = 'forget episodes or working memory you no longer need, or ask an operator to raise max_stored_bytes (memory.set_agent_limits)';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._refuse_over_stored_bytes(bigint, bigint) IS
'Private: raises 53400 (quota exceeded: stored bytes, with the figures and a hint) when stored is over quota; else nothing.';

-- Counts and checks of deletes and changes of text. Inserts are counted and checked by
-- the enqueue triggers (memory._enqueue_new_episodes, memory._enqueue_new_facts), with
-- their new jobs in the same count (migration 023). SECURITY DEFINER (agents cannot
-- write memory.agent_usage), so it refuses to run on any other table.
CREATE OR REPLACE FUNCTION memory._count_usage()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory.current_agent();
    -- this backend's counter row of each agent: concurrent sessions of one agent rarely
    -- share one, so they do not queue on its lock until their commits
    my_shard smallint := pg_backend_pid() % 16;
BEGIN
    IF TG_RELID NOT IN ('memory.episodes'::regclass, 'memory.facts'::regclass) THEN
        RAISE EXCEPTION 'memory._count_usage() runs only as a trigger of memory.episodes and memory.facts'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    IF TG_LEVEL = 'ROW' THEN
        -- the text of one episode or fact changed (a record's fields are looked up when
        -- the statement runs: each table has its own statement)
        IF TG_RELID = 'memory.episodes'::regclass THEN
            PERFORM memory._add_usage(NEW.agent_id, my_shard, octet_length(NEW.content)::bigint - octet_length(OLD.content), 0, 0);
        ELSE
            PERFORM memory._add_usage(
                NEW.agent_id, my_shard,
                octet_length(NEW.concept)::bigint + octet_length(NEW.statement) - octet_length(OLD.concept) - octet_length(OLD.statement),
                0, 0
            );
        END IF;
        IF me IS NOT NULL THEN
            PERFORM memory._check_quotas(me, false, false);
        END IF;
    ELSIF TG_OP = 'DELETE' AND TG_RELID = 'memory.episodes'::regclass THEN
        PERFORM memory._add_usage(d.agent_id, my_shard, -d.bytes, 0, 0) FROM (
            SELECT o.agent_id, sum(octet_length(o.content))::bigint AS bytes FROM old_rows AS o
            WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = o.agent_id)
            GROUP BY o.agent_id ORDER BY o.agent_id
        ) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM memory._add_usage(d.agent_id, my_shard, -d.bytes, 0, 0) FROM (
            SELECT o.agent_id, sum(octet_length(o.concept) + octet_length(o.statement))::bigint AS bytes FROM old_rows AS o
            WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = o.agent_id)
            GROUP BY o.agent_id ORDER BY o.agent_id
        ) AS d;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._count_usage() IS
'Private trigger (AFTER DELETE per statement, AFTER UPDATE of the text per row, on memory.episodes and memory.facts): counts each agent''s stored bytes in memory.agent_usage (memory._add_usage), and for an agent''s session refuses a change of text that crosses max_stored_bytes with 53400, undoing the statement. Inserts are counted by the enqueue triggers. Raises 42501 when fired on any other table.';

-- the insert triggers of migration 013 (counting moved into the enqueue triggers, 023)
DROP TRIGGER IF EXISTS episodes_quota_insert ON memory.episodes;
DROP TRIGGER IF EXISTS facts_quota_insert ON memory.facts;

CREATE OR REPLACE TRIGGER episodes_quota_delete
AFTER DELETE ON memory.episodes
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_usage();

CREATE OR REPLACE TRIGGER episodes_quota_update
AFTER UPDATE OF content ON memory.episodes
FOR EACH ROW
WHEN (old.content_sha256 IS DISTINCT FROM new.content_sha256)
EXECUTE FUNCTION memory._count_usage();

CREATE OR REPLACE TRIGGER facts_quota_delete
AFTER DELETE ON memory.facts
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_usage();

CREATE OR REPLACE TRIGGER facts_quota_update
AFTER UPDATE OF concept, statement ON memory.facts
FOR EACH ROW
WHEN (old.content_sha256 IS DISTINCT FROM new.content_sha256)
EXECUTE FUNCTION memory._count_usage();

CREATE OR REPLACE FUNCTION memory._stored_bytes(tbl regclass, r record)
RETURNS bigint
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tbl = 'memory.working_memory'::regclass THEN
        RETURN octet_length(r.content::text)::bigint + octet_length(r.context_type) + coalesce(octet_length(r.key), 0);
    ELSIF tbl IN ('memory.blocks'::regclass, 'memory.block_history'::regclass) THEN
        RETURN octet_length(r.label)::bigint + octet_length(r.value) + coalesce(octet_length(r.description), 0);
    END IF;
    RAISE EXCEPTION 'memory._stored_bytes() counts rows of memory.working_memory, memory.blocks and memory.block_history only'
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

COMMENT ON FUNCTION memory._stored_bytes(regclass, record) IS
'Private: the bytes a row of tbl counts in its agent''s stored bytes: a working-memory item''s JSON text, context type and key; a core block''s (or a version in its history) label, value and description. Raises 22023 for any other table.';

-- Working memory and core blocks (with the blocks' history, which keeps every version)
-- count in the same stored bytes (migration 021): without them an agent could store
-- without bound (items of 1 MiB each, blocks of 100,000 characters, a new history row
-- per change). Counted per statement in this backend's shard; for an agent's session an
-- insert or change that crosses the quota is refused with 53400 (the statement undone).
CREATE OR REPLACE FUNCTION memory._count_other_usage()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid;
    my_shard smallint := pg_backend_pid() % 16;
BEGIN
    IF TG_RELID NOT IN ('memory.working_memory'::regclass, 'memory.blocks'::regclass, 'memory.block_history'::regclass) THEN
        RAISE EXCEPTION 'memory._count_other_usage() runs only as a trigger of memory.working_memory, memory.blocks and memory.block_history'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    -- bytes per agent: + the new rows, - the old rows; none for an agent that is gone.
    IF TG_OP = 'INSERT' THEN
        PERFORM memory._add_usage(d.agent_id, my_shard, d.bytes, 0, 0) FROM (
            SELECT n.agent_id, sum(memory._stored_bytes(TG_RELID, n))::bigint AS bytes FROM new_rows AS n
            GROUP BY n.agent_id ORDER BY n.agent_id
        ) AS d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM memory._add_usage(d.agent_id, my_shard, -d.bytes, 0, 0) FROM (
            SELECT o.agent_id, sum(memory._stored_bytes(TG_RELID, o))::bigint AS bytes FROM old_rows AS o
            WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = o.agent_id)
            GROUP BY o.agent_id ORDER BY o.agent_id
        ) AS d;
        RETURN NULL;
    ELSE
        PERFORM memory._add_usage(d.agent_id, my_shard, d.bytes, 0, 0) FROM (
            SELECT x.agent_id, sum(x.bytes)::bigint AS bytes FROM (
                SELECT n.agent_id, memory._stored_bytes(TG_RELID, n) AS bytes FROM new_rows AS n
                UNION ALL
                SELECT o.agent_id, -memory._stored_bytes(TG_RELID, o) FROM old_rows AS o
            ) AS x
            WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = x.agent_id)
            GROUP BY x.agent_id
            HAVING sum(x.bytes) <> 0
            ORDER BY x.agent_id
        ) AS d;
    END IF;
    me := memory.current_agent();
    IF me IS NULL THEN
        RETURN NULL;  -- operators are counted, never refused
    END IF;
    PERFORM memory._check_quotas(me, false, false);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._count_other_usage() IS
'Private trigger (AFTER INSERT, UPDATE and DELETE per statement on memory.working_memory, memory.blocks and memory.block_history): counts the bytes of their text in the agents'' stored bytes (memory.agent_usage), and for an agent''s session refuses an insert or change that crosses max_stored_bytes with 53400, undoing the statement. Raises 42501 when fired on any other table.';

-- Counted from the tables once, when the triggers are first created (as the pending
-- jobs above), under a lock that holds every write of the three tables until commit.
DO $fill_other_bytes$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger AS t
        WHERE t.tgrelid = 'memory.working_memory'::regclass AND t.tgname = 'working_memory_usage_insert'
    ) THEN
        LOCK TABLE memory.working_memory, memory.blocks, memory.block_history IN SHARE ROW EXCLUSIVE MODE;
        INSERT INTO memory.agent_usage AS au (agent_id, shard, stored_bytes)
        SELECT x.agent_id, 0, sum(x.bytes) FROM (
            SELECT w.agent_id, memory._stored_bytes('memory.working_memory', w) AS bytes FROM memory.working_memory AS w
            UNION ALL
            SELECT b.agent_id, memory._stored_bytes('memory.blocks', b) FROM memory.blocks AS b
            UNION ALL
            SELECT h.agent_id, memory._stored_bytes('memory.block_history', h) FROM memory.block_history AS h
        ) AS x
        WHERE EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = x.agent_id)
        GROUP BY x.agent_id
        ON CONFLICT (agent_id, shard) DO UPDATE SET stored_bytes = au.stored_bytes + excluded.stored_bytes;
    END IF;
END
$fill_other_bytes$;

CREATE OR REPLACE TRIGGER working_memory_usage_insert
AFTER INSERT ON memory.working_memory REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER working_memory_usage_update
AFTER UPDATE ON memory.working_memory REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER working_memory_usage_delete
AFTER DELETE ON memory.working_memory REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER blocks_usage_insert
AFTER INSERT ON memory.blocks REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER blocks_usage_update
AFTER UPDATE ON memory.blocks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER blocks_usage_delete
AFTER DELETE ON memory.blocks REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER block_history_usage_insert
AFTER INSERT ON memory.block_history REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();
CREATE OR REPLACE TRIGGER block_history_usage_delete
AFTER DELETE ON memory.block_history REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION memory._count_other_usage();

CREATE OR REPLACE FUNCTION memory.my_quota()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    lim record;
    u record;
BEGIN
    SELECT * INTO lim FROM memory._agent_limits(me);
    SELECT * INTO u FROM memory._usage(me);
    RETURN jsonb_build_object(
        'stored_bytes', u.stored_bytes,
        'max_stored_bytes', lim.max_stored_bytes,
        'episodes_this_minute', u.window_episodes,
        'max_episodes_per_minute', lim.max_episodes_per_minute,
        'queued_jobs', u.pending_jobs,
        'max_queued_jobs', lim.max_queued_jobs,
        'connection_limit', lim.connection_limit,
        'statement_timeout', lim.statement_timeout,
        'idle_in_transaction_timeout', lim.idle_in_transaction_timeout
    );
END
$$;

COMMENT ON FUNCTION memory.my_quota() IS
'The calling agent''s quotas and usage: stored bytes of text, episodes written this minute, pending embedding jobs (the counter the quota reads), and its role limits. Only the caller''s own counters. Raises 42501 for a session that is not an agent.';

-- Role limits. ALTER ROLE needs CREATEROLE, which memory_owner (whose rights SECURITY
-- DEFINER functions run with) does not have: these run with the operator's rights.
CREATE OR REPLACE FUNCTION memory.apply_agent_limits(agent_name text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    IF agent_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.name = agent_name) THEN
        RAISE EXCEPTION 'agent % does not exist', agent_name
            USING ERRCODE = 'undefined_object', HINT = 'SELECT name FROM memory.agents lists the agents';
    END IF;
    FOR r IN
        SELECT a.db_role, l.*
        FROM memory.agents AS a CROSS JOIN LATERAL memory._agent_limits(a.agent_id) AS l
        WHERE (agent_name IS NULL OR a.name = agent_name)
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS ro WHERE ro.rolname = a.db_role)
        ORDER BY a.name
    LOOP
        EXECUTE format('ALTER ROLE %I CONNECTION LIMIT %s', r.db_role, r.connection_limit);
        EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r.db_role,
                       (extract(EPOCH FROM r.statement_timeout) * 1000)::bigint || 'ms');
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r.db_role,
                       (extract(EPOCH FROM r.idle_in_transaction_timeout) * 1000)::bigint || 'ms');
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.apply_agent_limits(text) IS
'Operators (a role with CREATEROLE): sets on the login role of the named agent (all agents when NULL) the limits in force for it: CONNECTION LIMIT, statement_timeout and idle_in_transaction_session_timeout (new sessions). Returns how many roles. Raises 42704 (unknown agent), 42501 (no CREATEROLE).';

CREATE OR REPLACE FUNCTION memory.set_agent_limits(
    agent_name text,
    max_stored_bytes bigint DEFAULT NULL,
    max_episodes_per_minute integer DEFAULT NULL,
    max_queued_jobs integer DEFAULT NULL,
    connection_limit integer DEFAULT NULL,
    statement_timeout interval DEFAULT NULL,
    idle_in_transaction_timeout interval DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    agent uuid;
BEGIN
    SELECT a.agent_id INTO agent FROM memory.agents AS a WHERE a.name = agent_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent % does not exist', agent_name
            USING ERRCODE = 'undefined_object', HINT = 'SELECT name FROM memory.agents lists the agents';
    END IF;
    BEGIN
        INSERT INTO memory.agent_quotas AS q (
            agent_id, max_stored_bytes, max_episodes_per_minute, max_queued_jobs, connection_limit,
            statement_timeout, idle_in_transaction_timeout
        )
        VALUES (
            agent, set_agent_limits.max_stored_bytes, set_agent_limits.max_episodes_per_minute,
            set_agent_limits.max_queued_jobs, set_agent_limits.connection_limit, set_agent_limits.statement_timeout,
            set_agent_limits.idle_in_transaction_timeout
        )
        ON CONFLICT (agent_id) DO UPDATE
        SET max_stored_bytes = coalesce(excluded.max_stored_bytes, q.max_stored_bytes),
            max_episodes_per_minute = coalesce(excluded.max_episodes_per_minute, q.max_episodes_per_minute),
            max_queued_jobs = coalesce(excluded.max_queued_jobs, q.max_queued_jobs),
            connection_limit = coalesce(excluded.connection_limit, q.connection_limit),
            statement_timeout = coalesce(excluded.statement_timeout, q.statement_timeout),
            idle_in_transaction_timeout = coalesce(excluded.idle_in_transaction_timeout, q.idle_in_transaction_timeout);
    EXCEPTION
        WHEN check_violation THEN
            RAISE EXCEPTION 'invalid agent limit'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = SQLERRM,
                      HINT = 'quotas are positive; connection_limit 1..10000; timeouts between 100 milliseconds and 1 day';
    END;
    PERFORM memory.apply_agent_limits(agent_name);
    RETURN (SELECT to_jsonb(l) FROM memory._agent_limits(agent) AS l);
END
$$;

COMMENT ON FUNCTION memory.set_agent_limits(text, bigint, integer, integer, integer, interval, interval) IS
'Operators (a role with CREATEROLE): overrides the named agent''s quotas and role limits (a NULL argument keeps the current override; DELETE FROM memory.agent_quotas returns an agent to the defaults), applies the role limits to its login role and returns the limits in force. Raises 42704 (unknown agent), 22023 (a value out of range), 42501 (no CREATEROLE).';

-- episode_access_log is a statistics log written by searches (folded every minute by
-- memory-fold-access-stats). Past 64 MB further rows are dropped: an agent that inserts
-- rows in bulk loses statistics, it cannot fill the disk or make others' searches fail.
CREATE OR REPLACE FUNCTION memory._cap_access_log()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.pg_relation_size('memory.episode_access_log'::regclass) > 64 * 1024 * 1024 THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION memory._cap_access_log() IS
'Private trigger (BEFORE INSERT on memory.episode_access_log, per row): drops the row once the log holds over 64 MB, so that it cannot grow without bound between two folds. Raises nothing.';

CREATE OR REPLACE TRIGGER episode_access_log_cap
BEFORE INSERT ON memory.episode_access_log
FOR EACH ROW EXECUTE FUNCTION memory._cap_access_log();
