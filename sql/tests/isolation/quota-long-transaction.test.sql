-- Migration 023 (issue 16 with issue 15): inside one long transaction the quota
-- counters cost O(1) per statement (a transaction's counts beyond its first two are rows
-- of running totals in memory.agent_usage_tx, folded at commit), and the quotas still
-- bind exactly: single-row writes, one statement each, reach each quota at the same row
-- as the counters' definition says, including statements undone by a savepoint.
-- (The fold at commit is checked with real commits in python/tests/test_hot_path.py.)
BEGIN;
SELECT plan(13);

SELECT tests.make_agent('Longtx');
SELECT tests.make_id_table();
INSERT INTO ids SELECT 'agent', a.agent_id FROM memory.agents AS a WHERE a.name = 'Longtx';

CREATE FUNCTION pg_temp.usage() RETURNS memory.agent_usage LANGUAGE sql AS $$
    SELECT NULL::uuid, u.stored_bytes, NULL::timestamptz, u.window_episodes::integer, NULL::smallint, u.pending_jobs
    FROM memory._usage(pg_temp.id('agent')) AS u
$$;
-- the recount from the tables themselves
CREATE FUNCTION pg_temp.recount() RETURNS memory.agent_usage LANGUAGE sql AS $$
    SELECT NULL::uuid,
           (SELECT coalesce(sum(octet_length(e.content)), 0) FROM memory.episodes AS e
            WHERE e.agent_id = pg_temp.id('agent'))
           + (SELECT coalesce(sum(octet_length(f.concept) + octet_length(f.statement)), 0) FROM memory.facts AS f
              WHERE f.agent_id = pg_temp.id('agent')),
           NULL::timestamptz,
           (SELECT count(*) FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('agent'))::integer,
           NULL::smallint,
           (SELECT count(*) FROM memory.embedding_jobs AS j
            WHERE j.agent_id = pg_temp.id('agent') AND j.state = 'pending')
$$;
-- n single-row INSERTs, one statement each, each in its own savepoint (a PL/pgSQL block
-- with an exception handler): returns how many passed before the first refusal (53400)
CREATE FUNCTION pg_temp.write_until_refused(n integer, width integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ok integer := 0;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            INSERT INTO memory.episodes (content) VALUES (lpad(i::text, width, 'x'));
            ok := ok + 1;
        EXCEPTION
            WHEN configuration_limit_exceeded THEN
                RETURN ok;
        END;
    END LOOP;
    RETURN ok;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.write_until_refused(integer, integer) TO PUBLIC;

-- a fresh transaction for the counters: this one starts counting in place
SELECT set_config('memory.usage_counts', '', false);
SELECT tests.act_as('Longtx');
SELECT is(pg_temp.write_until_refused(300, 10), 300, 'an agent writes 300 single-row INSERTs in one transaction');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT count(*) FROM memory.agent_usage AS u WHERE u.agent_id = pg_temp.id('agent'))::integer, 1,
    'one counter row of the agent''s shard'
);
SELECT cmp_ok(
    (SELECT count(*) FROM memory.agent_usage_tx AS t
     WHERE t.tx = pg_current_xact_id() AND t.agent_id = pg_temp.id('agent'))::integer,
    '>=', 298,
    'the counts after the first two are appended as running totals, not updates of the counter row'
);
SELECT is(
    (SELECT max(t.seq) FROM memory.agent_usage_tx AS t
     WHERE t.tx = pg_current_xact_id() AND t.agent_id = pg_temp.id('agent')),
    (SELECT count(*) FROM memory.agent_usage_tx AS t
     WHERE t.tx = pg_current_xact_id() AND t.agent_id = pg_temp.id('agent'))::integer,
    'one row per statement'
);
SELECT is(pg_temp.usage(), pg_temp.recount(), 'the counters with the transaction''s own totals equal the recount');

-- each quota, reached one single-row statement at a time deep inside the transaction
SELECT memory.set_agent_limits('Longtx', max_stored_bytes => ((pg_temp.usage()).stored_bytes + 100 * 10)::bigint);
SELECT tests.act_as('Longtx');
SELECT is(pg_temp.write_until_refused(150, 10), 100,
    'stored bytes: the 101st row of 10 bytes past a quota 1,000 bytes above the usage is refused');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.usage(), pg_temp.recount(), 'the refused statement (undone with its savepoint) changed no counter');
SELECT memory.set_agent_limits('Longtx', max_stored_bytes => 1000000000);

SELECT memory.set_agent_limits('Longtx', max_episodes_per_minute => ((pg_temp.usage()).window_episodes + 40)::integer);
SELECT tests.act_as('Longtx');
SELECT is(pg_temp.write_until_refused(100, 10), 40, 'episodes per minute: the 41st row past the quota is refused');
RESET SESSION AUTHORIZATION;
SELECT memory.set_agent_limits('Longtx', max_episodes_per_minute => 100000);

SELECT memory.set_agent_limits('Longtx', max_queued_jobs => ((pg_temp.usage()).pending_jobs + 25)::integer);
SELECT tests.act_as('Longtx');
SELECT is(pg_temp.write_until_refused(100, 10), 25, 'queued jobs: the 26th row past the quota is refused');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.usage(), pg_temp.recount(), 'after three refusals the counters still equal the recount');

-- an agent that switches the hint or folds early loses no count
SELECT memory.set_agent_limits('Longtx', max_queued_jobs => 100000);
-- an episode without a job: its change of text inserts one (memory._reenqueue_changed)
DELETE FROM memory.embedding_jobs AS j
WHERE j.episode_id = (SELECT e.episode_id FROM memory.episodes AS e WHERE e.content = lpad('7', 10, 'x') ORDER BY e.episode_id LIMIT 1);
SELECT tests.act_as('Longtx');
SELECT set_config('memory.usage_counts', 'forged', true);
SELECT set_config('memory.owner_counts_jobs', 'on', true);
SELECT memory.update_episode((SELECT e.episode_id FROM memory.episodes AS e WHERE e.content = lpad('7', 10, 'x') ORDER BY e.episode_id LIMIT 1),
                             content => 'changed text, queued again');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is(pg_temp.write_until_refused(20, 12), 20, 'twenty more rows with the fold at the end of each statement');
SET CONSTRAINTS ALL DEFERRED;
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.usage(), pg_temp.recount(),
    'a forged hint, a forged job-count switch before a change of text, and early folds: the counters equal the recount');
SELECT is(
    (SELECT count(*) FROM memory.agent_usage_tx AS t
     WHERE t.tx = pg_current_xact_id() AND t.agent_id = pg_temp.id('agent'))::integer, 0,
    'a fold deletes the transaction''s running totals'
);

SELECT * FROM finish();
ROLLBACK;
