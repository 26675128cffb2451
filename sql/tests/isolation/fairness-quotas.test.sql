-- Issue 15: one agent cannot starve the others (fair claiming, quotas, role limits), and
-- the smaller channels (access log, databases other than the memory database).
BEGIN;
SELECT plan(29);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

-- ---------------------------------------------------------------- fair claiming
-- Other agents' committed jobs are held back for this transaction, so that the claims
-- below see Alpha's and Beta's jobs only.
UPDATE memory.embedding_jobs SET next_attempt_at = now() + interval '1 hour' WHERE state = 'pending';
SELECT tests.act_as('Beta');
SELECT count(memory.remember('beta flood ' || g, importance => 1.0)) FROM generate_series(1, 20) AS g;
INSERT INTO ids VALUES ('beta low', memory.remember('beta low importance', importance => 0.1));
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('alpha new', memory.remember('alpha arrives after the flood', importance => 0.1));
RESET SESSION AUTHORIZATION;

CREATE TEMP TABLE claimed AS
SELECT c.job_id, j.agent_id, j.episode_id
FROM memory.claim_embedding_batch('fairness-test', 2) AS c INNER JOIN memory.embedding_jobs AS j ON j.job_id = c.job_id;
SELECT is(
    (SELECT count(*) FROM claimed WHERE episode_id = pg_temp.id('alpha new')),
    1::bigint,
    'a batch of two takes Alpha''s one job beside Beta''s backlog of 21 (round-robin: Beta''s importance 1.0 does not put it first)'
);
SELECT is(
    (SELECT count(DISTINCT agent_id) FROM claimed), 2::bigint,
    'the batch of two holds one job of each agent'
);
SELECT is(
    (SELECT e.importance FROM claimed AS c INNER JOIN memory.episodes AS e ON e.episode_id = c.episode_id
     WHERE c.agent_id <> pg_temp.id('alpha new')
       AND c.agent_id = e.agent_id AND e.content LIKE 'beta%'),
    1.0::real,
    'within one agent importance still orders the jobs (Beta''s first turn is an importance 1.0 episode)'
);
SELECT is(
    (SELECT count(*) FROM memory.claim_embedding_batch('fairness-test', 21) AS c
     INNER JOIN memory.embedding_jobs AS j ON j.job_id = c.job_id
     WHERE j.episode_id = pg_temp.id('beta low')),
    1::bigint,
    'Beta''s low-importance job comes last within Beta''s jobs: the next claim of Beta''s 20 remaining takes it only as the 20th'
);

-- A budget that admits one text per batch: the turns rotate between the agents (the
-- agent served least recently goes first), so Beta's older backlog cannot keep Alpha out.
SELECT tests.act_as('Beta');
SELECT count(memory.remember('beta backlog again ' || g, importance => 1.0)) FROM generate_series(1, 3) AS g;
SELECT tests.act_as('Alpha');
SELECT memory.remember('alpha again, while beta still has a backlog');
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE one_by_one (n integer, agent_id uuid);
INSERT INTO one_by_one
SELECT 1, j.agent_id FROM memory.claim_embedding_batch('fairness-test', 10, max_bytes => 1) AS c
INNER JOIN memory.embedding_jobs AS j ON j.job_id = c.job_id;
INSERT INTO one_by_one
SELECT 2, j.agent_id FROM memory.claim_embedding_batch('fairness-test', 10, max_bytes => 1) AS c
INNER JOIN memory.embedding_jobs AS j ON j.job_id = c.job_id;
SELECT is(
    (SELECT count(DISTINCT agent_id) FROM one_by_one), 2::bigint,
    'two claims of one text each serve both agents, one after the other (round-robin across claims)'
);

-- ---------------------------------------------------------------- role limits
SELECT is(
    (SELECT rolconnlimit FROM pg_roles WHERE rolname = 'test_alpha'),
    (SELECT connection_limit FROM memory.quota_settings),
    'create_agent set the default connection limit on the agent''s login role'
);
SELECT is(
    (SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting AS s, unnest(s.setconfig) AS c
     WHERE s.setrole = 'test_alpha'::regrole AND s.setdatabase = 0),
    ARRAY[
        'idle_in_transaction_session_timeout=' || (extract(EPOCH FROM (SELECT idle_in_transaction_timeout FROM memory.quota_settings)) * 1000)::bigint || 'ms',
        'statement_timeout=' || (extract(EPOCH FROM (SELECT statement_timeout FROM memory.quota_settings)) * 1000)::bigint || 'ms'
    ],
    'create_agent set statement_timeout and idle_in_transaction_session_timeout on the agent''s login role'
);
SELECT lives_ok(
    $$SELECT memory.set_agent_limits('Alpha', connection_limit => 5, statement_timeout => '2 seconds',
                                     idle_in_transaction_timeout => '30 seconds')$$,
    'an operator adjusts one agent''s role limits'
);
SELECT is(
    (SELECT rolconnlimit FROM pg_roles WHERE rolname = 'test_alpha'), 5,
    'the new connection limit is on the role'
);
SELECT ok(
    (SELECT s.setconfig @> ARRAY['statement_timeout=2000ms', 'idle_in_transaction_session_timeout=30000ms']
     FROM pg_db_role_setting AS s WHERE s.setrole = 'test_alpha'::regrole AND s.setdatabase = 0),
    'the new timeouts are on the role'
);
SELECT is(
    (SELECT rolconnlimit FROM pg_roles WHERE rolname = 'test_beta'),
    (SELECT connection_limit FROM memory.quota_settings),
    'Beta''s role keeps the defaults'
);
SELECT throws_ok(
    $$SELECT memory.set_agent_limits('Alpha', connection_limit => 0)$$,
    '22023', 'invalid agent limit', 'a connection limit under 1 is refused (22023)'
);
SELECT throws_ok(
    $$SELECT memory.set_agent_limits('Alpha', statement_timeout => '-1 second')$$,
    '22023', 'invalid agent limit', 'a negative timeout is refused (22023)'
);
SELECT throws_ok(
    $$SELECT memory.set_agent_limits('Nobody', max_queued_jobs => 5)$$,
    '42704', 'agent Nobody does not exist', 'an unknown agent is refused (42704)'
);

-- ---------------------------------------------------------------- quotas
CREATE TEMP TABLE counts AS SELECT 0::bigint AS episodes, 0::bigint AS facts;
GRANT ALL ON counts TO PUBLIC;
CREATE FUNCTION pg_temp.alpha_rows()
RETURNS bigint
LANGUAGE sql
AS $$
    SELECT (SELECT count(*) FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('alpha agent'))
         + (SELECT count(*) FROM memory.facts AS f WHERE f.agent_id = pg_temp.id('alpha agent'))
$$;
INSERT INTO ids SELECT 'alpha agent', a.agent_id FROM memory.agents AS a WHERE a.name = 'Alpha';

-- episodes per minute: Alpha wrote two episodes above
SELECT memory.set_agent_limits('Alpha', max_episodes_per_minute => 4);
SELECT tests.act_as('Alpha');
SELECT lives_ok($$SELECT memory.remember('third of the minute'), memory.remember('fourth of the minute')$$,
    'Alpha writes up to its 4 episodes per minute');
SELECT throws_ok($$SELECT memory.remember('fifth of the minute')$$,
    '53400', 'quota exceeded: episodes per minute', 'the fifth episode in a minute is refused (53400)');
SELECT throws_ok(
    $$INSERT INTO memory.episodes (content) VALUES ('direct insert past the quota')$$,
    '53400', 'quota exceeded: episodes per minute', 'a direct INSERT is held to the same quota'
);
SELECT is(pg_temp.alpha_rows(), 4::bigint, 'nothing of the refused writes was stored');
RESET SESSION AUTHORIZATION;
SELECT memory.set_agent_limits('Alpha', max_episodes_per_minute => 1000);

-- stored bytes
SELECT memory.set_agent_limits('Alpha', max_stored_bytes => (
    -- the counters with this transaction's own counts (migration 023)
    SELECT (u.stored_bytes + 50)::bigint FROM memory._usage(pg_temp.id('alpha agent')) AS u
));
SELECT tests.act_as('Alpha');
SELECT lives_ok($$SELECT memory.remember(repeat('a', 40))$$, 'Alpha stores up to its byte quota');
SELECT throws_ok($$SELECT memory.remember(repeat('b', 40))$$,
    '53400', 'quota exceeded: stored bytes', 'an episode past the byte quota is refused (53400)');
SELECT throws_ok($$SELECT memory.learn_fact('concept', repeat('c', 40))$$,
    '53400', 'quota exceeded: stored bytes', 'a fact past the byte quota is refused (53400)');
SELECT throws_ok(
    $$SELECT memory.update_episode(pg_temp.id('alpha new'), content => repeat('d', 200))$$,
    '53400', 'quota exceeded: stored bytes', 'growing an episode past the byte quota is refused (53400)'
);
SELECT is(
    (SELECT content FROM memory.episodes WHERE episode_id = pg_temp.id('alpha new')),
    'alpha arrives after the flood', 'the refused change left the episode as it was'
);
SELECT lives_ok($$SELECT memory.forget_episode(pg_temp.id('alpha new'))$$,
    'forgetting an episode frees its bytes');
SELECT lives_ok($$SELECT memory.remember(repeat('e', 25))$$, 'so a new one fits again');
RESET SESSION AUTHORIZATION;
SELECT memory.set_agent_limits('Alpha', max_stored_bytes => 1000000000);

-- queued embedding jobs (nothing is embedded inside this transaction)
SELECT memory.set_agent_limits('Alpha', max_queued_jobs => (
    SELECT count(*)::integer + 2 FROM memory.embedding_jobs
    WHERE agent_id = pg_temp.id('alpha agent') AND state = 'pending'
));
SELECT tests.act_as('Alpha');
SELECT throws_ok(
    $$SELECT count(memory.remember('queued ' || g)) FROM generate_series(1, 3) AS g$$,
    '53400', 'quota exceeded: queued embedding jobs', 'three more jobs than the queue quota allows are refused (53400)'
);
SELECT is(
    (memory.my_quota() ->> 'queued_jobs')::integer + 2, (memory.my_quota() ->> 'max_queued_jobs')::integer,
    'my_quota shows Alpha its own queue and quota; the refused statement queued nothing'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- access log, databases
SELECT tests.act_as('Beta');
SELECT throws_ok(
    format('INSERT INTO memory.episode_access_log (episode_id) SELECT %L::uuid',
           (SELECT e.episode_id FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('alpha agent') ORDER BY e.episode_id LIMIT 1)),
    '42501', NULL, 'Beta cannot log an access to Alpha''s episode (row-level security checks ownership)'
);
RESET SESSION AUTHORIZATION;
SELECT is(
    ARRAY(
        SELECT d || ' ' || r FROM unnest(ARRAY['postgres', 'template1']) AS d,
            unnest(ARRAY['test_alpha', 'memory_agent', 'memory_daemon', 'public']) AS r
        WHERE has_database_privilege(r, d, 'CONNECT')
        ORDER BY 1
    ),
    '{}'::text [],
    'no agent, daemon or PUBLIC may connect to the postgres or template1 database (make up revokes it)'
);

SELECT * FROM finish();
ROLLBACK;
