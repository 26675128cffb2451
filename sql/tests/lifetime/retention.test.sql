-- Retention policies and decay: each rule removes what it should and logs it, protected
-- tags are never removed, the agent reads its own log only, policies are the agent's own
-- or an operator's; effective importance is bounded and monotone; bad input.
BEGIN;
SELECT plan(46);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('old', memory.remember('Viejo y olvidable', 0.9, occurred_at => now() - interval '400 days')),
    ('old_keep', memory.remember('Viejo pero protegido', 0.9, ARRAY['keep'], occurred_at => now() - interval '400 days')),
    ('low', memory.remember('Unimportant today', 0.1)),
    ('decayed', memory.remember('Faded with time', 0.5, occurred_at => now() - interval '60 days')),
    ('used', memory.remember('Old but often used', 0.5, occurred_at => now() - interval '60 days')),
    ('n1', memory.remember('recent one', 0.5)),
    ('n2', memory.remember('recent two', 0.6)),
    ('n3', memory.remember('recent three', 0.7)),
    ('n4', memory.remember('recent four', 0.8));
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('beta_old', memory.remember('Beta has no policy', 0.1, occurred_at => now() - interval '900 days'));
RESET SESSION AUTHORIZATION;
UPDATE memory.episodes SET access_count = 50 WHERE episode_id = pg_temp.id('used');
INSERT INTO ids SELECT 'alpha', agent_id FROM memory.agents WHERE name = 'Alpha';

SELECT is(
    (SELECT schedule || ' ' || command || ' ' || username FROM cron.job WHERE jobname = 'memory-retention'),
    '*/10 * * * * SELECT memory.apply_retention() memory_operator',
    'memory-retention applies the policies every 10 minutes as memory_operator'
);

-- ---------------------------------------------------------------- decay
SELECT is(
    (SELECT count(*) FROM generate_series(0, 10) AS i, generate_series(0, 1000, 100) AS days,
                          generate_series(0, 100, 10) AS uses,
          LATERAL (SELECT memory.effective_importance((i / 10.0)::real, now() - days * interval '1 day', uses,
                                                      interval '30 days') AS eff) AS x
     WHERE x.eff < 0 OR x.eff > (i / 10.0)::real + 1e-6),
    0::bigint,
    'effective importance stays within 0..importance over a grid of ages and uses'
);
SELECT ok(
    memory.effective_importance(0.8, now() - interval '60 days', 0, '30 days')
    < memory.effective_importance(0.8, now() - interval '30 days', 0, '30 days'),
    'it falls with age'
);
SELECT ok(
    memory.effective_importance(0.8, now() - interval '60 days', 10, '30 days')
    > memory.effective_importance(0.8, now() - interval '60 days', 0, '30 days'),
    'it rises with use'
);
-- found by the hypothesis campaign: the smallest normal real, 26 years of 1-microsecond
-- half-lives, unused: the decay factor is 0, not an underflow error (22003)
SELECT is(memory.effective_importance(1.1754943508222875e-38::real, '2000-01-01', NULL, '1 microsecond', '2026-01-01'),
          0::real, 'a tiny importance decayed over many half-lives is 0, not an underflow');
SELECT is(memory.effective_importance(0.5::real, '2000-01-01', 5, '1 microsecond', '2026-01-01'),
          0.25::real, 'over as many half-lives, with use, only the use term is left');
SELECT is(round(memory.effective_importance(0.8, now() - interval '30 days', 0, '30 days')::numeric, 3), 0.400,
          'one half-life halves an unused episode''s importance');
SELECT is(round(memory.effective_importance(0.8, now() - interval '30 days', 5, '30 days')::numeric, 3), 0.600,
          'five uses win back half of what age took');
SELECT is(memory.effective_importance(0.8, now() - interval '9000 days', 0, '1 day'), 0::real,
          'a very old unused episode decays to 0 without an underflow error');
SELECT is(memory.effective_importance(0.8, now() - interval '3000 days', 0, NULL), 0.8::real,
          'without a half-life there is no decay');

-- ---------------------------------------------------------------- policies
SELECT tests.act_as('Alpha');
SELECT is(
    memory.set_retention_policy(max_age => '365 days', max_episodes => 3, importance_floor => 0.2,
                                protected_tags => ARRAY['keep'], decay_half_life => '30 days') ->> 'max_episodes',
    '3', 'an agent sets its own policy'
);
SELECT is((SELECT count(*) FROM memory.retention_policies), 1::bigint, 'and reads it');
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE alpha_before AS SELECT tests.stored(pg_temp.id('alpha')) AS s;
SELECT tests.act_as('Alpha');
SELECT throws_ok($$SELECT memory.set_retention_policy(max_age => '0 days')$$, '22023', 'max_age must be positive',
                 'max_age 0: 22023');
SELECT throws_ok($$SELECT memory.set_retention_policy(max_age => '-1 day')$$, '22023', 'max_age must be positive',
                 'a negative max_age: 22023');
SELECT throws_ok($$SELECT memory.set_retention_policy(max_episodes => 0)$$, '22023',
                 'max_episodes must be at least 1', 'max_episodes 0: 22023');
SELECT throws_ok($$SELECT memory.set_retention_policy(importance_floor => 1.5)$$, '22003', NULL,
                 'a floor over 1: 22003');
SELECT throws_ok($$SELECT memory.set_retention_policy(protected_tags => ARRAY[''])$$, '22023', NULL,
                 'an empty protected tag: 22023');
SELECT throws_ok($$SELECT memory.set_retention_policy(decay_half_life => '0 seconds')$$, '22023',
                 'decay_half_life must be positive', 'a zero half-life: 22023');
SELECT throws_ok($$SELECT memory.set_retention_policy(max_age => '1 day', agent => 'Beta')$$, '42501',
                 'only an operator may set another agent''s retention policy', 'an agent cannot set another''s policy');
SELECT throws_ok($$SELECT memory.clear_retention_policy('Beta')$$, '42501', NULL,
                 'nor clear it');
SELECT throws_ok($$SELECT memory.apply_retention()$$, '42501', NULL, 'an agent cannot run the retention job');
RESET SESSION AUTHORIZATION;
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM alpha_before),
          'refused calls changed nothing');
SELECT tests.act_as('Alpha');
SELECT is(memory.set_retention_policy(max_age => '365 days', max_episodes => 3, importance_floor => 0.2,
                                      protected_tags => ARRAY['keep'], decay_half_life => '30 days', agent => 'Alpha')
          ->> 'importance_floor', '0.2', 'naming oneself is allowed');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.set_retention_policy(max_age => '1 day', agent => 'Gamma')$$, 'P0002',
                 'agent Gamma does not exist', 'an operator naming an unknown agent: P0002');
SELECT throws_ok($$SELECT memory.apply_retention(0)$$, '22023', 'batch_rows must be between 1 and 100000',
                 'apply_retention(0): 22023');

-- ---------------------------------------------------------------- the job, 2 rows a batch
SELECT is(memory.apply_retention(2, 100), 6, 'the job removes six of Alpha''s episodes');
SELECT is(
    ARRAY(SELECT i.k FROM ids AS i INNER JOIN memory.episodes AS e ON e.episode_id = i.id ORDER BY 1),
    ARRAY['beta_old', 'n3', 'n4', 'old_keep'],
    'what is left: the protected old episode, the two most important recent ones, and all of Beta''s'
);
SELECT is(
    ARRAY(SELECT i.k || ':' || l.rule FROM memory.retention_log AS l INNER JOIN ids AS i ON i.id = l.episode_id
          ORDER BY 1),
    ARRAY['decayed:importance_floor', 'low:importance_floor', 'n1:max_episodes', 'n2:max_episodes',
          'old:max_age', 'used:max_episodes'],
    'each removal is logged with its rule'
);
SELECT ok(
    (SELECT bool_and(l.effective_importance <= l.importance AND l.content_sha256 IS NOT NULL)
     FROM memory.retention_log AS l),
    'the log keeps the importances and the text''s hash'
);
SELECT is((SELECT count(*) FROM memory.embedding_jobs AS j INNER JOIN ids ON ids.id = j.episode_id
           WHERE ids.k IN ('old', 'low', 'decayed', 'used', 'n1', 'n2')), 0::bigint,
          'the removed episodes'' jobs went with them');
SELECT is(memory.apply_retention(), 0, 'a second run finds nothing to do');

SELECT tests.act_as('Alpha');
SELECT is((SELECT count(*) FROM memory.retention_log), 6::bigint, 'Alpha reads its own log');
SELECT is(
    ARRAY(SELECT i.k || ':' || l.rule FROM memory.list_retention_log() AS l INNER JOIN ids AS i ON i.id = l.episode_id
          ORDER BY 1),
    ARRAY['decayed:importance_floor', 'low:importance_floor', 'n1:max_episodes', 'n2:max_episodes',
          'old:max_age', 'used:max_episodes'],
    'list_retention_log lists Alpha''s six removals with their rules'
);
SELECT is((SELECT count(*) FROM memory.list_retention_log(k => 2)), 2::bigint, 'k limits the list');
SELECT throws_ok($$ SELECT * FROM memory.list_retention_log(k => 0) $$, '22023', 'k must be between 1 and 1000',
                 'list_retention_log refuses k 0');
SELECT throws_ok($$ SELECT * FROM memory.list_retention_log(k => NULL) $$, '22023', 'k must be between 1 and 1000',
                 'list_retention_log refuses k NULL');
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.retention_log), 0::bigint, 'Beta sees none of Alpha''s log');
SELECT is((SELECT count(*) FROM memory.list_retention_log(1000)), 0::bigint, 'nor through list_retention_log');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT * FROM memory.list_retention_log() $$, '42501', NULL, 'list_retention_log needs an agent');
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.retention_policies), 0::bigint, 'nor Alpha''s policy');
SELECT tests.act_as('Alpha');
SELECT is(memory.clear_retention_policy(), true, 'clear_retention_policy removes the policy');
SELECT is(memory.clear_retention_policy(), false, 'and says so when there is none');

-- ---------------------------------------------------------------- one rule alone
-- a policy without max_age: its other rules run too (they did not, until make bench-scale
-- found that a policy of max_episodes alone removed nothing)
SELECT memory.set_retention_policy(max_episodes => 2) IS NOT NULL AS set;
RESET SESSION AUTHORIZATION;
SELECT is(memory.apply_retention(), 1, 'a policy of max_episodes alone removes the excess');
SELECT is(
    ARRAY(SELECT i.k FROM ids AS i INNER JOIN memory.episodes AS e ON e.episode_id = i.id
          WHERE i.k <> 'beta_old' ORDER BY 1),
    ARRAY['n4', 'old_keep'],
    'the least important went (no tag is protected now)'
);
SELECT tests.act_as('Alpha');
SELECT memory.set_retention_policy(importance_floor => 0.85) IS NOT NULL AS set;
RESET SESSION AUTHORIZATION;
SELECT is(memory.apply_retention(), 1, 'a policy of importance_floor alone removes what is under the floor');
SELECT is(
    ARRAY(SELECT i.k FROM ids AS i INNER JOIN memory.episodes AS e ON e.episode_id = i.id
          WHERE i.k <> 'beta_old' ORDER BY 1),
    ARRAY['old_keep'],
    'what is left is over the floor'
);

SELECT * FROM finish();
ROLLBACK;
