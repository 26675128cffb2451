-- The embedding jobs of deleted episodes and facts (migration 021; docs/decisions.md,
-- "Embedding jobs without foreign keys to their owners"). memory.embedding_jobs has no
-- foreign keys to memory.episodes and memory.facts: the per-row check of each new job
-- cost remember() more than anything else on its path. What the foreign keys
-- guaranteed, and what holds instead:
--   * a deleted owner takes its jobs with it, in the same statement: a statement
--     trigger per owner table (DELETE and TRUNCATE) deletes them, set-based;
--   * no job is created for an owner that is gone. Jobs are inserted (a) by the
--     enqueue triggers, for rows their own statement inserted, which no other
--     transaction can see, let alone delete; (b) by the re-enqueue trigger, for the
--     row its UPDATE holds locked; (c) by memory.reembed(), which locks each owner
--     FOR KEY SHARE, as the foreign-key check did, so that a concurrent delete either
--     committed before (the owner is skipped) or waits for reembed's commit (and then
--     its trigger sees and deletes the new job); (d) by the import, for owners it
--     inserted in the same transaction;
--   * what no guarantee above covers (a delete in a REPEATABLE READ transaction racing
--     reembed, a superuser's hand-made row) is an orphan job: harmless (the claim skips
--     a job whose text is missing, and nothing can be stored for it: chunks and pooled
--     vectors keep their foreign keys) and removed by memory.sweep_orphans(), which
--     pg_cron runs hourly (with the quota counters of agents that are gone).
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._delete_owners_jobs()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_RELID = 'memory.episodes'::regclass THEN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM memory.embedding_jobs AS j WHERE j.episode_id IS NOT NULL;
        ELSE
            DELETE FROM memory.embedding_jobs AS j WHERE j.episode_id IN (SELECT o.episode_id FROM old_owners AS o);
        END IF;
    ELSIF TG_RELID = 'memory.facts'::regclass THEN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM memory.embedding_jobs AS j WHERE j.fact_id IS NOT NULL;
        ELSE
            DELETE FROM memory.embedding_jobs AS j WHERE j.fact_id IN (SELECT o.fact_id FROM old_owners AS o);
        END IF;
    ELSE
        RAISE EXCEPTION 'memory._delete_owners_jobs() runs only as a trigger of memory.episodes and memory.facts'
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._delete_owners_jobs() IS
'Private trigger (AFTER DELETE per statement, and AFTER TRUNCATE, on memory.episodes and memory.facts): deletes the embedding jobs of the deleted episodes or facts (all episode or fact jobs on TRUNCATE), the cascade the jobs'' foreign keys did before migration 021. Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER episodes_delete_jobs
AFTER DELETE ON memory.episodes
REFERENCING OLD TABLE AS old_owners
FOR EACH STATEMENT EXECUTE FUNCTION memory._delete_owners_jobs();

CREATE OR REPLACE TRIGGER episodes_truncate_jobs
AFTER TRUNCATE ON memory.episodes
FOR EACH STATEMENT EXECUTE FUNCTION memory._delete_owners_jobs();

CREATE OR REPLACE TRIGGER facts_delete_jobs
AFTER DELETE ON memory.facts
REFERENCING OLD TABLE AS old_owners
FOR EACH STATEMENT EXECUTE FUNCTION memory._delete_owners_jobs();

CREATE OR REPLACE TRIGGER facts_truncate_jobs
AFTER TRUNCATE ON memory.facts
FOR EACH STATEMENT EXECUTE FUNCTION memory._delete_owners_jobs();

CREATE OR REPLACE FUNCTION memory.sweep_orphans()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    -- the counters of agents that are gone (a daemon's claim that raced drop_agent)
    DELETE FROM memory.agent_usage AS u
    WHERE NOT EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = u.agent_id);
    -- FOR UPDATE SKIP LOCKED: a job a daemon holds is left for the next sweep
    WITH orphans AS (
        SELECT j.job_id FROM memory.embedding_jobs AS j
        WHERE (j.episode_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = j.episode_id))
           OR (j.fact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = j.fact_id))
        FOR UPDATE OF j SKIP LOCKED
    )
    DELETE FROM memory.embedding_jobs AS j USING orphans AS o WHERE j.job_id = o.job_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE LOG 'memory: removed % embedding job(s) whose episode or fact was gone', n;
    END IF;
    RETURN n;
END
$$;

COMMENT ON FUNCTION memory.sweep_orphans() IS
'Operators (pg_cron job memory-sweep-orphans, hourly): deletes the embedding jobs whose episode or fact no longer exists (none in normal operation: a deleted owner''s jobs go with it) and returns how many; also the quota counters of agents that no longer exist. Raises nothing.';
