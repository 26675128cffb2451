-- Bad input to instances and decisions (register_instance, instance_heartbeat,
-- propose_decision, vote). Each call must fail with the SQLSTATE and message documented
-- in COMMENT ON FUNCTION, and leave everything the agent has stored exactly as it was
-- (row counts and contents of every table keyed on agent_id).
BEGIN;
SELECT plan(37);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
INSERT INTO ids VALUES
    ('one', memory.register_instance('one', 'primary', 'here', '{"gpu": false}')),
    ('two', memory.register_instance('two', 'worker')),
    ('stale', memory.register_instance('stale', 'replica')),
    ('unknown', gen_random_uuid());
INSERT INTO ids VALUES
    ('open', memory.propose_decision('an open question', '{"do": "it"}')),
    ('decided', memory.propose_decision('a settled question', '{"do": "that"}'));
SELECT memory.vote(pg_temp.id('open'), pg_temp.id('one'), TRUE);
SELECT memory.vote(pg_temp.id('decided'), pg_temp.id('one'), TRUE);
SELECT memory.vote(pg_temp.id('decided'), pg_temp.id('two'), TRUE);
RESET SESSION AUTHORIZATION;
-- 'stale' last beat an hour ago: not live (the threshold is 2 minutes).
UPDATE memory.instances SET last_heartbeat = now() - interval '1 hour' WHERE instance_id = pg_temp.id('stale');
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- register_instance, instance_heartbeat
SELECT throws_ok($$SELECT memory.register_instance(NULL)$$, '22004', 'name must not be null',
    'register_instance: NULL name');
SELECT throws_ok($$SELECT memory.register_instance('x', NULL)$$, '22004', 'instance_type must not be null',
    'register_instance: NULL instance_type');
SELECT throws_ok($$SELECT memory.register_instance('x', capabilities => NULL)$$, '22004',
    'capabilities must not be null', 'register_instance: NULL capabilities');
SELECT throws_ok(
    format('SELECT memory.register_instance(%L)', n),
    '22023', 'invalid name', format('register_instance: bad name %s', quote_literal(left(n, 20)))
)
FROM unnest(ARRAY['', 'has space', '-leading', repeat('n', 101), 'inst/1', 'ïnst']) AS n;
SELECT throws_ok($$SELECT memory.register_instance('x', 'master')$$, '22023', 'unknown instance_type',
    'register_instance: unknown instance_type');
SELECT throws_ok($$SELECT memory.register_instance('one', 'Primary')$$, '22023', 'unknown instance_type',
    'register_instance: re-registering an instance with an instance_type in the wrong case');
SELECT throws_ok($$SELECT memory.register_instance('x', location => repeat('l', 201))$$, '22001', 'location is too long',
    'register_instance: a location of 201 characters');
SELECT throws_ok($$SELECT memory.register_instance('x', capabilities => '["gpu"]')$$, '22023', 'capabilities must be a JSON object',
    'register_instance: capabilities that are a JSON array');
SELECT throws_ok($$SELECT memory.register_instance('x', capabilities => jsonb_build_object('text', repeat('c', 70000)))$$, '54000',
    'capabilities is too large', 'register_instance: capabilities over 64 kB');
SELECT throws_ok($$SELECT memory.register_instance('x', capabilities => (SELECT j FROM pg_temp.big))$$, '54000',
    'capabilities is too large', 'register_instance: 5 MB of capabilities that arrive compressed are refused as over 64 kB');
SELECT throws_ok($$SELECT memory.instance_heartbeat(NULL)$$, '22004', 'instance_id must not be null',
    'instance_heartbeat: a NULL id');
SELECT throws_ok(format('SELECT memory.instance_heartbeat(%L)', pg_temp.id('unknown')), 'P0002', 'instance not found',
    'instance_heartbeat: an unknown id');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.register_instance('x')$$, '42501', 'this session is not an agent',
    'register_instance: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused instance calls Alpha has its three instances, unchanged (the stale one still stale)');
INSERT INTO snaps VALUES ('before decisions', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- propose_decision, vote
SELECT throws_ok($$SELECT memory.propose_decision(NULL, '{}')$$, '22004', 'topic must not be null',
    'propose_decision: NULL topic');
SELECT throws_ok($$SELECT memory.propose_decision('topic', NULL)$$, '22004', 'proposal must not be null',
    'propose_decision: NULL proposal');
SELECT throws_ok($$SELECT memory.propose_decision('', '{}')$$, '22023', 'topic must not be blank', 'propose_decision: empty topic');
SELECT throws_ok($$SELECT memory.propose_decision(E'  \n\t', '{}')$$, '22023', 'topic must not be blank',
    'propose_decision: whitespace-only topic');
SELECT throws_ok($$SELECT memory.propose_decision(repeat('t', 1001), '{}')$$, '22001', 'topic is too long',
    'propose_decision: a topic of 1,001 characters');
SELECT throws_ok($$SELECT memory.propose_decision('topic', jsonb_build_object('text', repeat('p', 1048576)))$$, '54000',
    'proposal is too large', 'propose_decision: a proposal over 1 MB');
SELECT throws_ok($$SELECT memory.propose_decision('topic', (SELECT j FROM pg_temp.big))$$, '54000', 'proposal is too large',
    'propose_decision: a 5 MB proposal that arrives compressed is refused as over 1 MB');
SELECT throws_ok(format('SELECT memory.vote(NULL, %L, true)', pg_temp.id('two')), '22004',
    'decision_id must not be null', 'vote: a NULL decision');
SELECT throws_ok(format('SELECT memory.vote(%L, NULL, true)', pg_temp.id('open')), '22004',
    'instance_id must not be null', 'vote: a NULL instance');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, NULL)', pg_temp.id('open'), pg_temp.id('two')), '22004',
    'approve must not be null', 'vote: a NULL approve');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, true)', pg_temp.id('unknown'), pg_temp.id('two')), 'P0002',
    'decision not found', 'vote: an unknown decision');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, true)', pg_temp.id('open'), pg_temp.id('unknown')), 'P0002',
    'instance not found', 'vote: an unknown instance');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, false)', pg_temp.id('open'), pg_temp.id('one')), '23505',
    'instance has already voted on this decision', 'vote: a second vote of the same instance (it cannot change its vote)');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, false)', pg_temp.id('decided'), pg_temp.id('one')), '55000',
    'decision is already approved', 'vote: on a decision that is already approved');
SELECT throws_ok(format('SELECT memory.vote(%L, %L, true)', pg_temp.id('open'), pg_temp.id('stale')), '55000',
    'instance is not live', 'vote: by an instance whose last heartbeat is an hour old');

RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT memory.vote(%L, %L, true)', pg_temp.id('open'), pg_temp.id('two')), '42501',
    'this session is not an agent', 'vote: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before decisions'),
    'after the refused decision calls Alpha''s decisions, tallies and votes are unchanged');
SELECT is(
    (SELECT string_agg(d.status || ' ' || d.approvals || '/' || d.rejections, ', ' ORDER BY d.topic) FROM memory.decisions AS d
     WHERE d.decision_id IN (pg_temp.id('open'), pg_temp.id('decided'))),
    'approved 2/0, open 1/0',
    'the open decision still has one approval and the settled one stays approved with two'
);

SELECT * FROM finish();
ROLLBACK;
