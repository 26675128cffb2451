-- memory.propose_decision and memory.vote: majority of live instances with 1, 2 and
-- 3 live instances and a stale one, every error with its SQLSTATE, and isolation
-- between agents. PostgreSQL is the arbiter; this is not Byzantine fault tolerance.
BEGIN;
SELECT plan(49);

SELECT tests.make_agents('Solo', 'Duo', 'Trio', 'Beta');
SELECT tests.make_id_table();

-- A vote by the instance and decision named in ids.
CREATE FUNCTION pg_temp.cast_vote(decision text, instance text, approve boolean)
RETURNS text
LANGUAGE sql
AS $$
    SELECT memory.vote((SELECT id FROM ids WHERE k = decision), (SELECT id FROM ids WHERE k = instance), approve)
$$;

-- ---------------------------------------------------------------- one live instance
SELECT tests.act_as('Solo');
INSERT INTO ids SELECT 's1', memory.register_instance('s1');
INSERT INTO ids SELECT 'solo_yes', memory.propose_decision('adopt pgvector 0.8', '{"action": "upgrade"}');
INSERT INTO ids SELECT 'solo_no', memory.propose_decision('drop Redis', '{}');
SELECT results_eq(
    $$ SELECT topic, proposal, status, electorate, approvals, rejections FROM memory.decisions
       WHERE decision_id = pg_temp.id('solo_yes') $$,
    $$ VALUES ('adopt pgvector 0.8', '{"action": "upgrade"}'::jsonb, 'open', 1, 0, 0) $$,
    'propose_decision opens a decision with the live electorate'
);
SELECT is(pg_temp.cast_vote('solo_yes', 's1', TRUE), 'approved', '1 live instance: one approval approves');
SELECT is(pg_temp.cast_vote('solo_no', 's1', FALSE), 'rejected', '1 live instance: one rejection rejects');
SELECT results_eq(
    $$ SELECT status, electorate, approvals, rejections, resolved_at FROM memory.decisions
       WHERE decision_id = pg_temp.id('solo_yes') $$,
    $$ VALUES ('approved', 1, 1, 0, now()) $$,
    'the resolved decision records electorate, counts and resolution time'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('solo_yes', 's1', TRUE) $$, '55000', 'decision is already approved',
    'a vote on a resolved decision is refused'
);

-- ---------------------------------------------------------------- two live instances
SELECT tests.act_as('Duo');
INSERT INTO ids SELECT 'd1', memory.register_instance('d1');
INSERT INTO ids SELECT 'd2', memory.register_instance('d2', 'worker');
INSERT INTO ids SELECT 'duo_a', memory.propose_decision('a', '{}');
INSERT INTO ids SELECT 'duo_b', memory.propose_decision('b', '{}');
INSERT INTO ids SELECT 'duo_c', memory.propose_decision('c', '{}');
SELECT is(pg_temp.cast_vote('duo_a', 'd1', TRUE), 'open', '2 live instances: one approval of two is not a majority');
SELECT is(pg_temp.cast_vote('duo_a', 'd2', TRUE), 'approved', '2 live instances: two approvals approve');
SELECT is(pg_temp.cast_vote('duo_b', 'd1', FALSE), 'rejected', '2 live instances: one rejection makes a majority impossible');
SELECT is(pg_temp.cast_vote('duo_c', 'd1', TRUE), 'open', '2 live instances: an approval first');
SELECT is(pg_temp.cast_vote('duo_c', 'd2', FALSE), 'rejected', '2 live instances: a split vote is rejected');
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('duo_b', 'd2', TRUE) $$, '55000', 'decision is already rejected',
    'a vote on a rejected decision is refused'
);

-- ---------------------------------------------------------------- three live instances, then a stale one
SELECT tests.act_as('Trio');
INSERT INTO ids SELECT 't1', memory.register_instance('t1');
INSERT INTO ids SELECT 't2', memory.register_instance('t2');
INSERT INTO ids SELECT 't3', memory.register_instance('t3', 'replica');
INSERT INTO ids SELECT 'trio_a', memory.propose_decision('a', '{}');
INSERT INTO ids SELECT 'trio_b', memory.propose_decision('b', '{}');
SELECT is(pg_temp.cast_vote('trio_a', 't1', TRUE), 'open', '3 live instances: 1 approval is open');
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_a', 't1', FALSE) $$, '23505', 'instance has already voted on this decision',
    'a second vote by the same instance is refused'
);
SELECT is(pg_temp.cast_vote('trio_a', 't2', FALSE), 'open', '3 live instances: 1 for, 1 against is open');
SELECT is(pg_temp.cast_vote('trio_a', 't3', TRUE), 'approved', '3 live instances: 2 of 3 approve');
SELECT results_eq(
    $$ SELECT electorate, approvals, rejections FROM memory.decisions WHERE decision_id = pg_temp.id('trio_a') $$,
    $$ VALUES (3, 2, 1) $$,
    'the counts of the 3-instance decision are recorded'
);
SELECT is(pg_temp.cast_vote('trio_b', 't1', FALSE), 'open', '3 live instances: 1 rejection is open');
SELECT is(pg_temp.cast_vote('trio_b', 't2', FALSE), 'rejected', '3 live instances: 2 rejections of 3 reject');
SELECT results_eq(
    $$ SELECT instance_id, approve FROM memory.votes WHERE decision_id = pg_temp.id('trio_a') ORDER BY 1 $$,
    $$ SELECT id, k <> 't2' FROM ids WHERE k IN ('t1', 't2', 't3') ORDER BY 1 $$,
    'the agent can read the votes on its decision'
);

-- t3 goes quiet: the electorate of a new decision is the 2 live instances.
RESET SESSION AUTHORIZATION;
UPDATE memory.instances SET last_heartbeat = now() - interval '3 minutes' WHERE instance_id = pg_temp.id('t3');
SELECT tests.act_as('Trio');
INSERT INTO ids SELECT 'trio_c', memory.propose_decision('c', '{}');
INSERT INTO ids SELECT 'trio_d', memory.propose_decision('d', '{}');
SELECT is(
    (SELECT electorate FROM memory.decisions WHERE decision_id = pg_temp.id('trio_c')), 2,
    'a stale instance is not part of the electorate'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_c', 't3', TRUE) $$, '55000', 'instance is not live',
    'a stale instance cannot vote'
);
SELECT is(pg_temp.cast_vote('trio_c', 't1', TRUE), 'open', '2 live of 3 registered: one approval is open');
SELECT is(pg_temp.cast_vote('trio_c', 't2', TRUE), 'approved', '2 live of 3 registered: two approvals approve');
SELECT is(pg_temp.cast_vote('trio_d', 't1', FALSE), 'rejected', '2 live of 3 registered: one rejection rejects');
SELECT lives_ok(
    format('SELECT memory.instance_heartbeat(%L)', pg_temp.id('t3')),
    'the stale instance beats again'
);
INSERT INTO ids SELECT 'trio_e', memory.propose_decision('e', '{}');
SELECT is(pg_temp.cast_vote('trio_e', 't3', TRUE), 'open', 'after a heartbeat it votes again, in an electorate of 3');
-- A vote stands when its instance goes quiet afterwards.
RESET SESSION AUTHORIZATION;
UPDATE memory.instances SET last_heartbeat = now() - interval '3 minutes' WHERE instance_id = pg_temp.id('t3');
SELECT tests.act_as('Trio');
SELECT is(pg_temp.cast_vote('trio_e', 't1', TRUE), 'approved', 'a cast vote still counts after its instance went stale');

-- ---------------------------------------------------------------- bad input
CREATE TEMP TABLE trio_before AS
SELECT d.decision_id, d.status, d.approvals, d.rejections, (SELECT count(*) FROM memory.votes AS v WHERE v.decision_id = d.decision_id) AS votes
FROM memory.decisions AS d ORDER BY d.decision_id;
SELECT throws_ok(
    $$ SELECT memory.propose_decision(NULL, '{}') $$, '22004', 'topic must not be null',
    'a NULL topic is refused'
);
SELECT throws_ok(
    $$ SELECT memory.propose_decision('t', NULL) $$, '22004', 'proposal must not be null',
    'a NULL proposal is refused'
);
SELECT throws_ok(
    $$ SELECT memory.propose_decision('   ', '{}') $$, '22023', 'topic must not be blank',
    'a blank topic is refused'
);
SELECT throws_ok(
    $$ SELECT memory.propose_decision(repeat('t', 1001), '{}') $$, '22001', 'topic is too long',
    'a topic over 1000 characters is refused'
);
SELECT throws_ok(
    $$ SELECT memory.vote(gen_random_uuid(), pg_temp.id('t1'), TRUE) $$, 'P0002', 'decision not found',
    'an unknown decision id is no_data_found'
);
SELECT throws_ok(
    $$ SELECT memory.vote(pg_temp.id('trio_b'), gen_random_uuid(), TRUE) $$, 'P0002', 'instance not found',
    'an unknown instance id is no_data_found'
);
SELECT throws_ok(
    $$ SELECT memory.vote(NULL, pg_temp.id('t1'), TRUE) $$, '22004',
    'decision_id must not be null',
    'a NULL decision id is refused'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_b', 't3', NULL) $$, '22004',
    'approve must not be null',
    'a NULL approve is refused'
);
SELECT throws_ok(
    $$ INSERT INTO memory.votes (decision_id, instance_id, approve)
       VALUES (pg_temp.id('trio_c'), pg_temp.id('t3'), TRUE) $$,
    '42501', NULL,
    'an agent cannot insert a vote directly'
);
SELECT throws_ok(
    $$ UPDATE memory.decisions SET status = 'approved' WHERE decision_id = pg_temp.id('trio_b') $$,
    '42501', NULL,
    'an agent cannot resolve a decision directly'
);
SELECT results_eq(
    $$ SELECT d.decision_id, d.status, d.approvals, d.rejections, (SELECT count(*) FROM memory.votes AS v WHERE v.decision_id = d.decision_id)
       FROM memory.decisions AS d ORDER BY d.decision_id $$,
    $$ SELECT * FROM trio_before $$,
    'the refused calls left decisions and votes unchanged'
);

-- ---------------------------------------------------------------- other agents
SELECT tests.act_as('Beta');
INSERT INTO ids SELECT 'b1', memory.register_instance('b1');
INSERT INTO ids SELECT 'beta_a', memory.propose_decision('mine', '{}');
SELECT is((SELECT count(*) FROM memory.decisions), 1::bigint, 'Beta sees only its own decisions');
SELECT is((SELECT count(*) FROM memory.votes), 0::bigint, 'Beta sees none of the other agents'' votes');
SELECT tests.act_as('Trio');
INSERT INTO ids SELECT 'trio_f', memory.propose_decision('f', '{}');
SELECT tests.act_as('Beta');
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_f', 'b1', TRUE) $$, 'P0002', 'decision not found',
    'Beta cannot vote on Trio''s decision'
);
SELECT is(
    tests.error_of($$ SELECT pg_temp.cast_vote('trio_f', 'b1', TRUE) $$),
    tests.error_of(format('SELECT memory.vote(%L::uuid, %L::uuid, TRUE)', gen_random_uuid(), pg_temp.id('b1'))),
    'the error for another agent''s decision is identical to the one for a missing decision'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('beta_a', 't1', TRUE) $$, 'P0002', 'instance not found',
    'Beta cannot vote with Trio''s instance'
);
SELECT is(
    tests.error_of($$ SELECT pg_temp.cast_vote('beta_a', 't1', TRUE) $$),
    tests.error_of(format('SELECT memory.vote(%L::uuid, %L::uuid, TRUE)', pg_temp.id('beta_a'), gen_random_uuid())),
    'the error for another agent''s instance is identical to the one for a missing instance'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_a', 't1', TRUE) $$, 'P0002', 'decision not found',
    'a resolved decision of another agent is not found either (no state leaks)'
);
SELECT is(pg_temp.cast_vote('beta_a', 'b1', TRUE), 'approved', 'Beta''s own vote works');
SELECT tests.act_as('Trio');
SELECT results_eq(
    $$ SELECT status, approvals, rejections FROM memory.decisions WHERE decision_id = pg_temp.id('trio_f') $$,
    $$ VALUES ('open', 0, 0) $$,
    'Beta''s attempts left Trio''s decision untouched'
);

RESET SESSION AUTHORIZATION;
SELECT throws_ok(
    $$ SELECT memory.propose_decision('t', '{}') $$, '42501', 'this session is not an agent',
    'propose_decision needs an agent session'
);
SELECT throws_ok(
    $$ SELECT pg_temp.cast_vote('trio_f', 't1', TRUE) $$, '42501', 'this session is not an agent',
    'vote needs an agent session'
);

SELECT * FROM finish();
ROLLBACK;
