-- memory.cache_diff_working_memory and memory.cache_diff_blocks: given what the cache
-- warmer read from Redis, the Redis commands that write, re-expire and delete (the
-- reconciliation); and the keys the warmer is given to read.
BEGIN;
SELECT plan(31);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('live', memory.set_working_memory('tarea', '{"paso": "año 1"}', '1 hour', 'high', 'plan'));
INSERT INTO ids VALUES ('old', memory.set_working_memory('tarea', '{"n": 2}', '1 hour'));
SELECT memory.set_block('mision', 'recordar el año');
SELECT memory.set_block('persona', 'soy Alpha');
INSERT INTO ids VALUES ('alpha', memory.current_agent());
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('beta', memory.current_agent());
RESET SESSION AUTHORIZATION;
UPDATE memory.working_memory SET updated_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'
WHERE working_id = pg_temp.id('old');

-- what the daemon would read from Redis for a key holding the right value
CREATE TEMP TABLE cached AS
SELECT sha256(convert_to(payload, 'UTF8')) AS sha, ttl_ms
FROM memory.cache_working_memory(ARRAY[pg_temp.id('live')]);
CREATE TEMP TABLE cached_blocks AS
SELECT sha256(string_agg(convert_to(label, 'UTF8') || '\x00'::bytea || convert_to(payload, 'UTF8') || '\x00'::bytea,
                         ''::bytea ORDER BY label COLLATE "C")) AS sha
FROM memory.cache_blocks(ARRAY[pg_temp.id('alpha')]);
GRANT SELECT ON cached, cached_blocks TO PUBLIC;
-- the keys, spelled out here (README.md, "Redis cache"): the test pins their format
CREATE FUNCTION pg_temp.key(who text, what text DEFAULT NULL)
RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN what IS NULL THEN format('mem:%s:blocks', (SELECT id FROM ids WHERE k = who))
                ELSE format('mem:%s:wm:%s', (SELECT id FROM ids WHERE k = who),
                            coalesce((SELECT id FROM ids WHERE k = what), '00000000-0000-4000-8000-000000000000')) END
$$;
CREATE FUNCTION pg_temp.ctx(who text, context_type text)
RETURNS text
LANGUAGE sql AS $$ SELECT format('mem:%s:wmctx:%s', (SELECT id FROM ids WHERE k = who), context_type) $$;
CREATE FUNCTION pg_temp.wm(who text, what text, sha bytea, pttl bigint, ctx text)
RETURNS TABLE (repair text, commands jsonb, verbs jsonb, updated_at timestamptz)
LANGUAGE sql AS $$
    SELECT d.repair, d.commands, jsonb_path_query_array(d.commands, '$[*][0]'), d.updated_at
    FROM memory.cache_diff_working_memory(ARRAY[pg_temp.key(who, what)], ARRAY[sha], ARRAY[pttl], ARRAY[ctx]) AS d
$$;
GRANT EXECUTE ON FUNCTION pg_temp.key(text, text), pg_temp.ctx(text, text), pg_temp.wm(text, text, bytea, bigint, text) TO PUBLIC;

SET LOCAL ROLE memory_worker;
-- ---------------------------------------------------------------- working memory, values compared
SELECT is(
    (SELECT (repair, verbs)::text FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL)),
    ('missing', '["SET", "SADD", "PEXPIRE", "PEXPIRE"]'::jsonb)::text,
    'a live row absent from Redis is missing: SET, then its context set'
);
SELECT is(
    (SELECT (commands #>> '{0,1}', (commands #>> '{0,2}')::jsonb -> 'content' ->> 'paso', commands #>> '{0,3}',
             commands #>> '{1,1}', commands #>> '{1,2}', commands #>> '{2,3}', commands #>> '{3,3}')::text
     FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL)),
    (pg_temp.key('alpha', 'live'), 'año 1', 'PX', pg_temp.ctx('alpha', 'tarea'), pg_temp.id('live')::text,
     'NX', 'GT')::text,
    'SET key JSON PX, SADD of the id to the set of its context, PEXPIRE NX and GT of the set'
);
SELECT ok((SELECT (commands #>> '{0,4}')::bigint BETWEEN 3590000 AND 3600000
              AND commands -> 0 -> 4 = commands -> 2 -> 2 FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL)),
    'with the milliseconds it has left, for the key and its set');
SELECT is(
    (SELECT (repair, verbs)::text FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached), 'tarea')),
    ('ok', '["SADD", "PEXPIRE", "PEXPIRE"]'::jsonb)::text,
    'the same value and TTL: nothing to write, only the context set to keep'
);
SELECT is(
    (SELECT (repair, verbs, commands #>> '{1,1}', commands #>> '{1,2}')::text
     FROM pg_temp.wm('alpha', 'live', '\x00', (SELECT ttl_ms FROM cached), 'notas')),
    ('stale', '["SET", "SREM", "SADD", "PEXPIRE", "PEXPIRE"]'::jsonb, pg_temp.ctx('alpha', 'notas'),
     pg_temp.id('live')::text)::text,
    'another value is stale: SET, and the id leaves the set of its old context'
);
SELECT is(
    (SELECT verbs FROM pg_temp.wm('alpha', 'live', '\x00', (SELECT ttl_ms FROM cached), 'tarea')),
    '["SET", "SADD", "PEXPIRE", "PEXPIRE"]'::jsonb,
    'a stale value of the same context leaves the set alone'
);
SELECT is(
    (SELECT (repair, verbs, commands #>> '{0,1}')::text
     FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached) - 5000, 'tarea')),
    ('ttl', '["PEXPIRE", "SADD", "PEXPIRE", "PEXPIRE"]'::jsonb, pg_temp.key('alpha', 'live'))::text,
    'a TTL over a second off is re-expired, not rewritten'
);
SELECT is((SELECT repair FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), -1, 'tarea')), 'ttl',
    'a key without a TTL is re-expired');
SELECT is((SELECT repair FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached) - 500, 'tarea')), 'ok',
    'a TTL within a second is left alone');
SELECT is(
    (SELECT (repair, commands)::text FROM pg_temp.wm('alpha', 'old', '\x00', 1000, 'tarea')),
    ('expired', jsonb_build_array(jsonb_build_array('DEL', pg_temp.key('alpha', 'old')),
                                  jsonb_build_array('SREM', pg_temp.ctx('alpha', 'tarea'), pg_temp.id('old'))))::text,
    'a key of a row expired in Postgres is deleted and leaves its set'
);
SELECT is((SELECT (repair, verbs)::text FROM pg_temp.wm('alpha', 'nothing', '\x00', 1000, NULL)), ('extra', '["DEL"]'::jsonb)::text,
    'a key of no row is extra');
SELECT is((SELECT commands #>> '{1,1}' FROM pg_temp.wm('alpha', 'nothing', '\x00', 1000, 'notas')), pg_temp.ctx('alpha', 'notas'),
    'and leaves the set of its cached context');
SELECT is(
    (SELECT (d.updated_at = w.updated_at)::text
     FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL) AS d, memory.cache_working_memory(ARRAY[pg_temp.id('live')]) AS w),
    'true',
    'a live row comes with its last update (the warmer''s sync lag)'
);
SELECT is((SELECT repair FROM pg_temp.wm('beta', 'live', '\x00', 1000, NULL)), 'extra',
    'a key naming another agent than the row''s is extra');
SELECT is((SELECT count(*) FROM pg_temp.wm('alpha', 'nothing', NULL, -2, NULL)), 0::bigint,
    'a key absent from Redis and from Postgres needs nothing');
SELECT is(
    (SELECT count(*) FROM memory.cache_diff_working_memory(
        ARRAY[upper(pg_temp.key('alpha', 'live')), pg_temp.key('alpha', 'live') || ':x', 'mem:x:wm:y', pg_temp.key('alpha')],
        ARRAY['\x00'::bytea, '\x00', '\x00', '\x00'], ARRAY[1000::bigint, 1000, 1000, 1000], ARRAY[NULL::text, NULL, NULL, NULL])),
    0::bigint,
    'keys of another form than mem:<agent_id>:wm:<working_id> (lower-case ids) are not the warmer''s: left alone'
);
-- ---------------------------------------------------------------- keys found by SCAN
SELECT is(
    (SELECT array_agg(d.repair ORDER BY d.repair) FROM memory.cache_diff_working_memory(
        ARRAY[pg_temp.key('alpha', 'live'), pg_temp.key('alpha', 'old'), pg_temp.key('alpha', 'nothing')]) AS d),
    ARRAY['expired', 'extra'],
    'without values, only expired and extra keys are returned'
);
-- ---------------------------------------------------------------- blocks
SELECT is(
    (SELECT (d.repair, jsonb_path_query_array(d.commands, '$[*][0]'), d.commands #>> '{0,1}', d.commands #>> '{1,1}',
             d.commands #>> '{1,2}', (d.commands #>> '{1,3}')::jsonb ->> 'value', d.commands #>> '{1,4}',
             jsonb_array_length(d.commands -> 1))::text
     FROM memory.cache_diff_blocks(ARRAY[pg_temp.key('alpha')], ARRAY[NULL::bytea]) AS d),
    ('missing', '["DEL", "HSET"]'::jsonb, pg_temp.key('alpha'), pg_temp.key('alpha'), 'mision', 'recordar el año', 'persona', 6)::text,
    'an absent hash is missing: DEL, then HSET of every label with its JSON, in label order'
);
SELECT is(
    (SELECT count(*) FROM memory.cache_diff_blocks(ARRAY[pg_temp.key('alpha')], ARRAY[(SELECT sha FROM cached_blocks)])),
    0::bigint,
    'the same hash needs nothing (labels in C order, UTF-8, zero-separated)'
);
SELECT is(
    (SELECT (d.repair, jsonb_path_query_array(d.commands, '$[*][0]'))::text
     FROM memory.cache_diff_blocks(ARRAY[pg_temp.key('alpha')], ARRAY['\x00'::bytea]) AS d),
    ('stale', '["DEL", "HSET"]'::jsonb)::text,
    'another hash is stale: the whole hash is rewritten'
);
SELECT is(
    (SELECT (d.repair, d.commands)::text FROM memory.cache_diff_blocks(ARRAY[pg_temp.key('beta')], ARRAY['\x00'::bytea]) AS d),
    ('extra', jsonb_build_array(jsonb_build_array('DEL', pg_temp.key('beta'))))::text,
    'a hash of an agent without blocks is extra'
);
SELECT is(
    (SELECT array_agg(d.repair) FROM memory.cache_diff_blocks(ARRAY[pg_temp.key('alpha'), pg_temp.key('beta'), 'mem:x:blocks']) AS d),
    ARRAY['extra'],
    'without stamps (SCAN), only the hashes of agents without blocks are returned'
);
-- ---------------------------------------------------------------- the keys to check come from SQL too
SELECT is(
    (SELECT key FROM memory.cache_working_memory_page(NULL, 10000) WHERE working_id = pg_temp.id('live')),
    pg_temp.key('alpha', 'live'),
    'a page of live rows gives each row''s key'
);
SELECT is(
    (SELECT key FROM memory.cache_block_agents_page(NULL, 10000) WHERE agent_id = pg_temp.id('alpha')),
    pg_temp.key('alpha'),
    'a page of agents with blocks gives each agent''s hash key'
);
SELECT ok(
    (SELECT bool_and(key = CASE WHEN working_id IS NULL THEN format('mem:%s:blocks', agent_id)
                                ELSE format('mem:%s:wm:%s', agent_id, working_id) END) AND count(*) > 0
     FROM memory.take_cache_changes('test-cache-diff', 100000)),
    'a change taken comes with the key of its item or of its agent''s blocks'
);
-- ---------------------------------------------------------------- bad input
SELECT throws_ok('SELECT * FROM memory.cache_diff_working_memory(NULL)', '22004', 'the keys must not be NULL',
    'NULL keys are refused');
SELECT throws_ok('SELECT * FROM memory.cache_diff_blocks(''{a}'', ''{}'')',
    '22023', 'the arrays must have one element per key', 'stamps of another length than the keys are refused');
SELECT throws_ok('SELECT * FROM memory.cache_diff_working_memory(''{a}'', ARRAY[NULL::bytea])',
    '22023', 'the arrays must have one element per key', 'values without their TTLs and contexts are refused');
SELECT throws_ok('SELECT * FROM memory.cache_diff_blocks(array_fill(''k''::text, ARRAY[10001]))', '22023',
    'at most 10000 keys per call', 'over 10000 keys are refused');
RESET ROLE;
-- ---------------------------------------------------------------- agents are kept out
SELECT tests.act_as('Beta');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_working_memory(ARRAY[%L])', pg_temp.key('alpha', 'live')),
    '42501', NULL, 'an agent cannot ask what another agent''s cache holds');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_blocks(ARRAY[%L])', pg_temp.key('alpha')),
    '42501', NULL, 'nor which agents have blocks');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
