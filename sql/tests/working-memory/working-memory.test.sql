-- set_working_memory, get_working_memory, clear_working_memory, expiry and compat views.
BEGIN;
SELECT plan(22);

SELECT tests.make_agent('Alpha');
SELECT tests.act_as('Alpha');
SELECT tests.make_id_table();

INSERT INTO ids VALUES ('a', memory.set_working_memory('conversation', '{"text": "hola"}', '1 hour', 'low', 'current'));
SELECT is(
    (SELECT (context_type, key, content, priority)::text FROM memory.get_working_memory()),
    ('conversation', 'current', '{"text": "hola"}'::jsonb, 'low')::text,
    'an item set is read back'
);
SELECT ok(
    (SELECT expires_at BETWEEN clock_timestamp() + interval '59 minutes' AND clock_timestamp() + interval '61 minutes'
     FROM memory.get_working_memory()),
    'the item expires after its ttl'
);
SELECT is(
    memory.set_working_memory('conversation', '{"text": "adios"}', '2 hours', 'high', 'current'),
    pg_temp.id('a'),
    'setting the same context_type and key updates the item in place'
);
SELECT is((SELECT (content, priority)::text FROM memory.get_working_memory('conversation')),
    ('{"text": "adios"}'::jsonb, 'high')::text, 'the upsert replaced content and priority');
SELECT isnt(
    memory.set_working_memory('task', '{"n": 1}', key => 'current'),
    pg_temp.id('a'),
    'the same key under another context_type is another item'
);
SELECT memory.set_working_memory('task', '{"n": 2}', priority => 'critical');
SELECT memory.set_working_memory('task', '{"n": 3}');
SELECT is(
    ARRAY(SELECT priority FROM memory.get_working_memory()),
    ARRAY['critical', 'high', 'normal', 'normal'],
    'items come most important first'
);
SELECT is((SELECT count(*) FROM memory.get_working_memory('task')), 3::bigint, 'a context_type filter applies');
SELECT is((SELECT count(*) FROM memory.zep_working_memory), 4::bigint, 'the compatibility view shows live items');

-- expiry: make one item expire without waiting, as the clock would
RESET SESSION AUTHORIZATION;
UPDATE memory.working_memory SET updated_at = now() - interval '2 hours', expires_at = now() - interval '1 second'
WHERE working_id = pg_temp.id('a');
SELECT tests.act_as('Alpha');
SELECT is((SELECT count(*) FROM memory.get_working_memory()), 3::bigint, 'an expired item is never returned');
SELECT is((SELECT count(*) FROM memory.working_memory), 3::bigint,
    'a direct SELECT does not return expired items either');
SELECT is((SELECT count(*) FROM memory.zep_working_memory), 3::bigint,
    'the compatibility view hides expired items');
SELECT is(
    memory.set_working_memory('conversation', '{"text": "revived"}', key => 'current'),
    pg_temp.id('a'),
    'setting the key of an expired item revives it'
);
SELECT is((SELECT content FROM memory.get_working_memory('conversation')), '{"text": "revived"}'::jsonb,
    'the revived item is live again');

SELECT is(memory.clear_working_memory('task'), 3, 'clear_working_memory of a context_type returns how many it removed');
SELECT is((SELECT count(*) FROM memory.get_working_memory()), 1::bigint, 'other context types stay');
SELECT is(memory.clear_working_memory(), 1, 'clear_working_memory() removes the rest');

-- errors
SELECT throws_ok($$ SELECT memory.set_working_memory('task', '{}', '-1 hour') $$, '22023',
    'ttl must be positive and at most 366 days', 'a negative ttl is refused');
SELECT throws_ok($$ SELECT memory.set_working_memory('task', '{}', '0 seconds') $$, '22023',
    'ttl must be positive and at most 366 days', 'a zero ttl is refused');
SELECT throws_ok($$ SELECT memory.set_working_memory('task', '{}', priority => 'urgent') $$, '22023',
    'unknown priority ''urgent''', 'an unknown priority is refused');
SELECT throws_ok($$ SELECT memory.set_working_memory('bad type!', '{}') $$, '22023', 'invalid context_type',
    'a malformed context_type is refused');
SELECT throws_ok($$ SELECT memory.set_working_memory('task', NULL) $$, '22004', 'content must not be null',
    'NULL content is refused');
SELECT is((SELECT count(*) FROM memory.working_memory), 0::bigint, 'refused calls stored nothing');

SELECT * FROM finish();
ROLLBACK;
