-- Bad input to working memory (set_working_memory, and get/clear_working_memory from
-- a session that is not an agent). Each call must fail with the SQLSTATE and message
-- documented in COMMENT ON FUNCTION, and leave everything the agent has stored exactly
-- as it was (row counts and contents of every table keyed on agent_id).
BEGIN;
SELECT plan(30);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
INSERT INTO ids VALUES
    ('item', memory.set_working_memory('task', '{"step": 1}', '1 hour', 'high', 'current'));
RESET SESSION AUTHORIZATION;
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- set_working_memory
SELECT throws_ok(
    format('SELECT memory.set_working_memory(%s, %L)', coalesce(quote_literal(c), 'NULL'), '{}'),
    '22023', 'invalid context_type', format('set_working_memory: bad context_type %s', coalesce(quote_literal(left(c, 20)), 'NULL'))
)
FROM unnest(ARRAY['', NULL, 'has space', '_leading', '.dot', repeat('c', 101), 'task;drop', 'tâche']) AS c;
SELECT throws_ok($$SELECT memory.set_working_memory('task', NULL)$$, '22004', 'content must not be null',
    'set_working_memory: NULL content');
SELECT throws_ok($$SELECT memory.set_working_memory('task', NULL, key => 'current')$$, '22004', 'content must not be null',
    'set_working_memory: NULL content for an existing key (the item is not emptied)');
SELECT throws_ok($$SELECT memory.set_working_memory('task', to_jsonb(repeat('x', 1048576)))$$, '54000', 'content is too large',
    'set_working_memory: 1 MiB of text as content');
SELECT throws_ok($$SELECT memory.set_working_memory('task', (SELECT jsonb_object_agg(i::text, repeat('v', 100)) FROM generate_series(1, 11000) AS i))$$,
    '54000', 'content is too large', 'set_working_memory: an object of 11,000 keys (over 1 MiB)');
SELECT throws_ok($$SELECT memory.set_working_memory('task', (SELECT j FROM pg_temp.big))$$, '54000', 'content is too large',
    'set_working_memory: 5 MB of content that arrives compressed (read from a table) is refused as too large');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '0')$$, '22023', 'ttl must be positive and at most 366 days',
    'set_working_memory: ttl 0');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '-1 hour')$$, '22023', 'ttl must be positive and at most 366 days',
    'set_working_memory: a negative ttl');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '367 days')$$, '22023', 'ttl must be positive and at most 366 days',
    'set_working_memory: ttl of 367 days');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '-1 microsecond', key => 'current')$$, '22023',
    'ttl must be positive and at most 366 days', 'set_working_memory: a negative ttl for an existing key (it does not expire it)');
-- Found by python/tests/test_bad_input_properties.py: intervals compare with 30-day
-- months, but an item lives until now + ttl. Any 7 months last at least 212 days, any 12
-- months at least 365.
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '-7 months 211 days')$$, '22023',
    'ttl must be positive and at most 366 days',
    'set_working_memory: a ttl that compares positive (+1 day) but ends in the past (it broke a table constraint, 23514)');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', '12 months 6 days')$$, '22023',
    'ttl must be positive and at most 366 days', 'set_working_memory: a ttl that compares as 366 days but lasts 371 or more');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', priority => 'urgent')$$, '22023', 'unknown priority ''urgent''',
    'set_working_memory: unknown priority');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', priority => 'HIGH')$$, '22023', 'unknown priority ''HIGH''',
    'set_working_memory: priority in the wrong case');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', priority => '')$$, '22023', 'unknown priority ''''',
    'set_working_memory: empty priority');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', key => '')$$, '22023', 'key must have 1 to 200 characters',
    'set_working_memory: empty key');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', key => repeat('k', 201))$$, '22023',
    'key must have 1 to 200 characters', 'set_working_memory: a key of 201 characters');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}')$$, '42501', 'this session is not an agent',
    'set_working_memory: a session that is not an agent');
SELECT throws_ok($$SELECT memory.clear_working_memory()$$, '42501', 'this session is not an agent',
    'clear_working_memory: a session that is not an agent');
SELECT is(
    (SELECT count(*) FROM memory.get_working_memory()), 0::bigint,
    'get_working_memory: a session that is not an agent gets nothing'
);
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused calls Alpha''s working memory is unchanged (same item, content, priority and expiry)');
SELECT is(
    (SELECT (w.content, w.priority)::text FROM memory.working_memory AS w WHERE w.working_id = pg_temp.id('item')),
    ('{"step": 1}'::jsonb, 'high')::text,
    'the keyed item still holds its content and priority'
);

-- ---------------------------------------------------------------- the limits themselves are accepted
SELECT tests.act_as('Alpha');
SELECT lives_ok($$SELECT memory.set_working_memory(repeat('c', 100), to_jsonb(repeat('x', 1000000)), '366 days', 'low', repeat('k', 200))$$,
    'set_working_memory: a 100-character context_type, 1,000,000 characters, ttl 366 days, a 200-character key are accepted');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
