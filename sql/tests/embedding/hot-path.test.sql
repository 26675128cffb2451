-- Migration 021 (issues 16 and 15): the pending-jobs counter the queued-jobs quota
-- reads stays equal to the queue through every change of a job; the jobs of deleted
-- owners go with them without the foreign keys; orphan jobs are harmless and swept.
BEGIN;
SELECT plan(22);

SELECT tests.make_agents('Hotpath', 'Other');
SELECT tests.make_id_table();
INSERT INTO ids SELECT 'agent', a.agent_id FROM memory.agents AS a WHERE a.name = 'Hotpath';

-- the counter against the queue, for the agent
CREATE FUNCTION pg_temp.counted() RETURNS bigint LANGUAGE sql AS
$$ SELECT (memory._usage(pg_temp.id('agent'))).pending_jobs $$;
CREATE FUNCTION pg_temp.queued() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM memory.embedding_jobs AS j
    WHERE j.agent_id = pg_temp.id('agent') AND j.state = 'pending'
$$;

-- Other agents' jobs are held back for this transaction: the claims below take Hotpath's.
UPDATE memory.embedding_jobs SET next_attempt_at = now() + interval '1 hour' WHERE state = 'pending';

SELECT tests.act_as('Hotpath');
SELECT count(memory.remember('hot path episode ' || g)) FROM generate_series(1, 6) AS g;
INSERT INTO ids VALUES ('fact', memory.learn_fact('hot path', 'a fact is queued too'));
INSERT INTO memory.episodes (content) SELECT 'one statement, several rows ' || g FROM generate_series(1, 4) AS g;
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.counted(), 11::bigint, 'eleven texts written (one at a time and in one statement): eleven pending jobs counted');
SELECT is(pg_temp.counted(), pg_temp.queued(), 'the counter equals the agent''s pending jobs in the queue');

SELECT tests.act_as('Hotpath');
SELECT is(
    (memory.my_quota() ->> 'queued_jobs')::bigint, 11::bigint,
    'my_quota shows the counter as the agent''s queued jobs'
);
RESET SESSION AUTHORIZATION;

-- a daemon's claim, completion, failure and release
CREATE TEMP TABLE claim AS SELECT DISTINCT c.lease_id FROM memory.claim_embedding_batch('hot-path-test', 4) AS c;
SELECT is(pg_temp.counted(), 7::bigint, 'a claim of four takes four jobs out of pending');
SELECT is(pg_temp.counted(), pg_temp.queued(), 'after the claim the counter equals the queue');
SELECT memory.fail_embedding_batch('hot-path-test', ARRAY(SELECT lease_id FROM claim), 'test failure');
SELECT is(pg_temp.counted(), pg_temp.queued(), 'a failed batch goes back to pending (or dead): the counter follows');
UPDATE memory.embedding_jobs SET next_attempt_at = now()
WHERE agent_id = pg_temp.id('agent') AND state = 'pending';
SELECT memory.release_embedding_batch(
    'hot-path-test', ARRAY(SELECT DISTINCT c.lease_id FROM memory.claim_embedding_batch('hot-path-test', 3) AS c)
);
SELECT is(pg_temp.counted(), pg_temp.queued(), 'a claim then a release leave the counter equal to the queue');
SELECT cmp_ok(
    (SELECT coalesce(sum(u.pending_jobs), 0) FROM memory.agent_usage AS u
     WHERE u.agent_id = pg_temp.id('agent') AND u.shard >= 16),
    '<=', 0::numeric,
    'the daemon''s claims count in the daemon shards 16..31 (this superuser session is no worker: none yet)'
);

-- a change of the text re-queues (an upsert on the job), a forget deletes
SELECT tests.act_as('Hotpath');
SELECT memory.update_episode(
    (SELECT e.episode_id FROM memory.episodes AS e WHERE e.content = 'hot path episode 1'), 'hot path episode one, changed'
);
SELECT memory.forget_episode((SELECT e.episode_id FROM memory.episodes AS e WHERE e.content = 'hot path episode 2'));
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.counted(), pg_temp.queued(), 'after a change of text and a forget the counter equals the queue');

-- an operator's backfill
SET LOCAL ROLE memory_operator;
SELECT memory.reembed(true);
RESET ROLE;
SELECT is(pg_temp.counted(), pg_temp.queued(), 'after reembed(true) the counter equals the queue');

-- the quota reads the counter: the limit just above what is queued admits one more
-- text, not two
SELECT memory.set_agent_limits('Hotpath', max_queued_jobs => (pg_temp.queued() + 1)::integer);
SELECT tests.act_as('Hotpath');
SELECT lives_ok($$SELECT memory.remember('one more fits the queue')$$, 'a write up to the queued-jobs quota passes');
SELECT throws_ok(
    $$SELECT memory.remember('one too many')$$, '53400', 'quota exceeded: queued embedding jobs',
    'the next write crosses the quota: 53400'
);
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.counted(), pg_temp.queued(), 'a refused write changes no counter');
DELETE FROM memory.agent_quotas WHERE agent_id = pg_temp.id('agent');

-- ---------------------------------------------------------------- owners without FKs
SELECT is(
    (SELECT count(*) FROM pg_catalog.pg_constraint AS c
     WHERE c.conrelid = 'memory.embedding_jobs'::regclass AND c.contype = 'f'
       AND c.confrelid IN ('memory.episodes'::regclass, 'memory.facts'::regclass)),
    0::bigint,
    'the jobs have no foreign keys to their owners (migration 021)'
);
SELECT tests.act_as('Hotpath');
INSERT INTO ids VALUES ('gone', memory.remember('an episode about to be forgotten'));
SELECT memory.forget_episode(pg_temp.id('gone'));
RESET SESSION AUTHORIZATION;
DELETE FROM memory.facts WHERE fact_id = pg_temp.id('fact');
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j
     WHERE j.episode_id = pg_temp.id('gone') OR j.fact_id = pg_temp.id('fact')),
    0::bigint,
    'forgetting an episode or a fact deletes its jobs in the same statement'
);
DELETE FROM memory.episodes WHERE agent_id = pg_temp.id('agent') AND content LIKE 'one statement%';
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j
     WHERE j.agent_id = pg_temp.id('agent') AND j.episode_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = j.episode_id)),
    0::bigint,
    'a DELETE of several episodes leaves no job behind'
);
SELECT is(pg_temp.counted(), pg_temp.queued(), 'and the counter still equals the queue');

-- an orphan (a hand-made job of a missing episode) is never handed out and is swept
CREATE TEMP TABLE orphan AS
WITH ins AS (
    INSERT INTO memory.embedding_jobs (agent_id, episode_id, model_id, priority, content_sha256)
    SELECT pg_temp.id('agent'), gen_random_uuid(), m.model_id, 1.0, '\x00'
    FROM memory.embedding_models AS m WHERE m.is_active
    RETURNING job_id
)

SELECT job_id FROM ins;
UPDATE memory.embedding_jobs SET next_attempt_at = now() + interval '1 hour'
WHERE state = 'pending' AND job_id NOT IN (SELECT job_id FROM orphan);
SELECT is(
    (SELECT count(*) FROM memory.claim_embedding_batch('hot-path-test', 10)),
    0::bigint,
    'an orphan job is never handed to a daemon (no text to embed)'
);
SELECT is(memory.sweep_orphans(), 1, 'the sweep removes the orphan job');
SELECT is(pg_temp.counted(), pg_temp.queued(), 'the counter follows the sweep');

-- TRUNCATE takes the jobs with it (the foreign key used to refuse it)
TRUNCATE memory.episodes CASCADE;
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.episode_id IS NOT NULL),
    0::bigint,
    'TRUNCATE of the episodes deletes every episode job'
);

-- a deleted agent's counters go with it (no foreign key since migration 021)
SELECT tests.act_as('Other');
SELECT memory.remember('the other agent writes once');
RESET SESSION AUTHORIZATION;
DELETE FROM memory.agents WHERE name = 'Other';
SELECT is(
    (SELECT count(*) FROM memory.agent_usage AS u WHERE NOT EXISTS (SELECT 1 FROM memory.agents AS a WHERE a.agent_id = u.agent_id)),
    0::bigint,
    'deleting an agent deletes its quota counters'
);

SELECT * FROM finish();
ROLLBACK;
