-- memory.cache_diff_working_memory and memory.cache_diff_blocks: given what the cache
-- warmer read from Redis, what it must write, re-expire and delete (the reconciliation).
BEGIN;
SELECT plan(26);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
CREATE TEMP TABLE ids (name text PRIMARY KEY, id uuid);
GRANT ALL ON ids TO PUBLIC;

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
WHERE working_id = (SELECT id FROM ids WHERE name = 'old');

-- what the daemon would read from Redis for a key holding the right value
CREATE TEMP TABLE cached AS
SELECT sha256(convert_to(payload, 'UTF8')) AS sha, ttl_ms
FROM memory.cache_working_memory(ARRAY(SELECT id FROM ids WHERE name = 'live'));
CREATE TEMP TABLE cached_blocks AS
SELECT sha256(string_agg(convert_to(label, 'UTF8') || '\x00'::bytea || convert_to(payload, 'UTF8') || '\x00'::bytea,
                         ''::bytea ORDER BY label COLLATE "C")) AS sha
FROM memory.cache_blocks(ARRAY(SELECT id FROM ids WHERE name = 'alpha'));
GRANT SELECT ON cached, cached_blocks TO PUBLIC;
CREATE FUNCTION pg_temp.wm(who text, what text, sha bytea, pttl bigint, ctx text)
RETURNS TABLE (repair text, payload text, ttl_ms bigint, context_type text, unindex_context text, updated_at timestamptz)
LANGUAGE sql AS $$
    SELECT d.repair, d.payload, d.ttl_ms, d.context_type, d.unindex_context, d.updated_at
    FROM memory.cache_diff_working_memory(
        ARRAY[(SELECT id FROM ids WHERE name = who)], ARRAY[coalesce((SELECT id FROM ids WHERE name = what), gen_random_uuid())],
        ARRAY[sha], ARRAY[pttl], ARRAY[ctx]) AS d
$$;
GRANT EXECUTE ON FUNCTION pg_temp.wm(text, text, bytea, bigint, text) TO PUBLIC;

SET LOCAL ROLE memory_worker;
-- ---------------------------------------------------------------- working memory, values compared
SELECT is(
    (SELECT (repair, (payload::jsonb) -> 'content' ->> 'paso', context_type, unindex_context)::text
     FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL)),
    ('missing', 'año 1', 'tarea', NULL::text)::text,
    'a live row absent from Redis is missing: its JSON to SET, its context set'
);
SELECT ok((SELECT ttl_ms BETWEEN 3590000 AND 3600000 FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL)),
    'with the milliseconds it has left');
SELECT is(
    (SELECT (repair, payload IS NULL, context_type)::text FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached), 'tarea')),
    ('ok', TRUE, 'tarea')::text,
    'the same value and TTL: nothing to write, only the context set to keep'
);
SELECT is(
    (SELECT (repair, payload IS NOT NULL, unindex_context)::text FROM pg_temp.wm('alpha', 'live', '\x00', (SELECT ttl_ms FROM cached), 'notas')),
    ('stale', TRUE, 'notas')::text,
    'another value is stale: the JSON to SET, and the id leaves the set of its old context'
);
SELECT is(
    (SELECT unindex_context FROM pg_temp.wm('alpha', 'live', '\x00', (SELECT ttl_ms FROM cached), 'tarea')),
    NULL,
    'a stale value of the same context leaves the set alone'
);
SELECT is(
    (SELECT (repair, payload IS NULL)::text FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached) - 5000, 'tarea')),
    ('ttl', TRUE)::text,
    'a TTL over a second off is re-expired, not rewritten'
);
SELECT is((SELECT repair FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), -1, 'tarea')), 'ttl',
    'a key without a TTL is re-expired');
SELECT is((SELECT repair FROM pg_temp.wm('alpha', 'live', (SELECT sha FROM cached), (SELECT ttl_ms FROM cached) - 500, 'tarea')), 'ok',
    'a TTL within a second is left alone');
SELECT is(
    (SELECT (repair, unindex_context)::text FROM pg_temp.wm('alpha', 'old', '\x00', 1000, 'tarea')),
    ('expired', 'tarea')::text,
    'a key of a row expired in Postgres is deleted and leaves its set'
);
SELECT is((SELECT repair FROM pg_temp.wm('alpha', 'nothing', '\x00', 1000, NULL)), 'extra',
    'a key of no row is extra');
SELECT is((SELECT unindex_context FROM pg_temp.wm('alpha', 'nothing', '\x00', 1000, 'notas')), 'notas',
    'and leaves the set of its cached context');
SELECT is(
    (SELECT (d.updated_at = w.updated_at)::text
     FROM pg_temp.wm('alpha', 'live', NULL, -2, NULL) AS d, memory.cache_working_memory(ARRAY(SELECT id FROM ids WHERE name = 'live')) AS w),
    'true',
    'a live row comes with its last update (the warmer''s sync lag)'
);
SELECT is((SELECT repair FROM pg_temp.wm('beta', 'live', '\x00', 1000, NULL)), 'extra',
    'a key naming another agent than the row''s is extra');
SELECT is((SELECT count(*) FROM pg_temp.wm('alpha', 'nothing', NULL, -2, NULL)), 0::bigint,
    'a key absent from Redis and from Postgres needs nothing');
-- ---------------------------------------------------------------- keys found by SCAN
SELECT is(
    (SELECT array_agg(d.repair ORDER BY d.repair) FROM memory.cache_diff_working_memory(
        ARRAY[(SELECT id FROM ids WHERE name = 'alpha'), (SELECT id FROM ids WHERE name = 'alpha'), (SELECT id FROM ids WHERE name = 'alpha')],
        ARRAY[(SELECT id FROM ids WHERE name = 'live'), (SELECT id FROM ids WHERE name = 'old'), gen_random_uuid()]) AS d),
    ARRAY['expired', 'extra'],
    'without values, only expired and extra keys are returned'
);
-- ---------------------------------------------------------------- blocks
SELECT is(
    (SELECT (d.repair, (d.blocks ->> 'mision')::jsonb ->> 'value', (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(d.blocks) AS k))::text
     FROM memory.cache_diff_blocks(ARRAY(SELECT id FROM ids WHERE name = 'alpha'), ARRAY[NULL::bytea]) AS d),
    ('missing', 'recordar el año', ARRAY['mision', 'persona'])::text,
    'an absent hash is missing: every label with its JSON'
);
SELECT is(
    (SELECT count(*) FROM memory.cache_diff_blocks(ARRAY(SELECT id FROM ids WHERE name = 'alpha'), ARRAY[(SELECT sha FROM cached_blocks)])),
    0::bigint,
    'the same hash needs nothing (labels in C order, UTF-8, zero-separated)'
);
SELECT is(
    (SELECT (d.repair, d.blocks ? 'persona')::text FROM memory.cache_diff_blocks(ARRAY(SELECT id FROM ids WHERE name = 'alpha'), ARRAY['\x00'::bytea]) AS d),
    ('stale', TRUE)::text,
    'another hash is stale: the whole hash is rewritten'
);
SELECT is(
    (SELECT (d.repair, d.blocks)::text FROM memory.cache_diff_blocks(ARRAY(SELECT id FROM ids WHERE name = 'beta'), ARRAY['\x00'::bytea]) AS d),
    ('extra', NULL::jsonb)::text,
    'a hash of an agent without blocks is extra'
);
SELECT is(
    (SELECT array_agg(d.repair) FROM memory.cache_diff_blocks(ARRAY(SELECT id FROM ids WHERE name IN ('alpha', 'beta'))) AS d),
    ARRAY['extra'],
    'without stamps (SCAN), only the hashes of agents without blocks are returned'
);
-- ---------------------------------------------------------------- bad input
SELECT throws_ok('SELECT * FROM memory.cache_diff_working_memory(NULL, ''{}'')', '22004', 'the keys must not be NULL',
    'NULL keys are refused');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_working_memory(ARRAY[%L::uuid], ''{}'')', gen_random_uuid()),
    '22023', 'the arrays must have one element per key', 'agent and working ids of different lengths are refused');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_working_memory(ARRAY[%L::uuid], ARRAY[%L::uuid], ARRAY[NULL::bytea])',
                        gen_random_uuid(), gen_random_uuid()),
    '22023', 'the arrays must have one element per key', 'values without their TTLs and contexts are refused');
SELECT throws_ok('SELECT * FROM memory.cache_diff_blocks(array_fill(gen_random_uuid(), ARRAY[10001]))', '22023',
    'at most 10000 keys per call', 'over 10000 keys are refused');
RESET ROLE;
-- ---------------------------------------------------------------- agents are kept out
SELECT tests.act_as('Beta');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_working_memory(ARRAY[%L::uuid], ARRAY[%L::uuid])',
                        (SELECT id FROM ids WHERE name = 'alpha'), (SELECT id FROM ids WHERE name = 'live')),
    '42501', NULL, 'an agent cannot ask what another agent''s cache holds');
SELECT throws_ok(format('SELECT * FROM memory.cache_diff_blocks(ARRAY[%L::uuid])', (SELECT id FROM ids WHERE name = 'alpha')),
    '42501', NULL, 'nor which agents have blocks');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
