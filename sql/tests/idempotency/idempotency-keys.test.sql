-- Idempotency keys of remember, learn_fact and set_working_memory (issue 18): a retry
-- returns the first id and stores nothing; other arguments under the same key are
-- refused; keys are the agent's own; bad keys; pruning; the pg_cron job.
-- Two sessions racing on one key: python/tests/test_idempotency.py.
BEGIN;
SELECT plan(32);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- remember
INSERT INTO ids VALUES ('e1', memory.remember('la reunión se movió al jueves', 0.7, '{plan}', idempotency_key => 'k-episode'));
SELECT is(
    memory.remember('la reunión se movió al jueves', 0.7, '{plan}', idempotency_key => 'k-episode'),
    pg_temp.id('e1'),
    'remember: a retry with the same key and arguments returns the first id'
);
SELECT is((SELECT count(*) FROM memory.episodes), 1::bigint, 'remember: the retry stored no second episode');
SELECT is((SELECT count(*) FROM memory.embedding_jobs), 1::bigint, 'remember: the retry queued no second embedding');
SELECT is(
    memory.remember('la reunión se movió al jueves', 0.7, '{plan}', occurred_at => now() - interval '1 minute',
                    idempotency_key => 'k-episode'),
    pg_temp.id('e1'),
    'remember: occurred_at is not compared (its default, now(), differs on each retry)'
);
SELECT throws_ok(
    $$SELECT memory.remember('la reunión se movió al viernes', 0.7, '{plan}', idempotency_key => 'k-episode')$$,
    '23505', 'idempotency key already used with other arguments',
    'remember: the same key with other content is refused'
);
SELECT throws_ok(
    $$SELECT memory.remember('la reunión se movió al jueves', 0.9, '{plan}', idempotency_key => 'k-episode')$$,
    '23505', 'idempotency key already used with other arguments',
    'remember: the same key with another importance is refused'
);
SELECT isnt(
    memory.remember('la reunión se movió al jueves', 0.7, '{plan}'),
    pg_temp.id('e1'),
    'remember: without a key the same call is a new episode, as before'
);
SELECT is(
    (SELECT (operation, result_id, octet_length(request_sha256))::text FROM memory.idempotency_keys
     WHERE idempotency_key = 'k-episode'),
    ('remember', pg_temp.id('e1'), 32)::text,
    'the key is stored with its operation, the id it returned and the sha256 of the request'
);

-- ---------------------------------------------------------------- learn_fact
INSERT INTO ids VALUES ('f1', memory.learn_fact('Redis', 'una caché, nunca la verdad', 0.8, idempotency_key => 'k-fact'));
SELECT is(
    memory.learn_fact('Redis', 'una caché, nunca la verdad', 0.8, idempotency_key => 'k-fact'),
    pg_temp.id('f1'),
    'learn_fact: a retry returns the first id'
);
SELECT is((SELECT count(*) FROM memory.facts), 1::bigint, 'learn_fact: the retry stored no second fact');
INSERT INTO ids VALUES ('f2', memory.learn_fact('Redis', 'a cache', supersedes => ARRAY[pg_temp.id('f1')],
                                                idempotency_key => 'k-fact-2'));
SELECT is(
    memory.learn_fact('Redis', 'a cache', supersedes => ARRAY[pg_temp.id('f1')],
                      idempotency_key => 'k-fact-2'),
    pg_temp.id('f2'),
    'learn_fact: a retry of a superseding write returns its id (instead of 55000 for a closed fact)'
);
SELECT throws_ok(
    $$SELECT memory.learn_fact('Redis', 'otra cosa', 0.8, idempotency_key => 'k-fact')$$,
    '23505', 'idempotency key already used with other arguments',
    'learn_fact: the same key with another statement is refused'
);
SELECT throws_ok(
    $$SELECT memory.learn_fact('la reunión se movió al jueves', '0.7', idempotency_key => 'k-episode')$$,
    '23505', 'idempotency key already used with other arguments',
    'a key used by remember is refused to learn_fact'
);

-- ---------------------------------------------------------------- set_working_memory
INSERT INTO ids VALUES ('w1', memory.set_working_memory('task', '{"paso": 1}', '1 hour', idempotency_key => 'k-wm'));
SELECT is(
    memory.set_working_memory('task', '{"paso": 1}', '1 hour', idempotency_key => 'k-wm'),
    pg_temp.id('w1'),
    'set_working_memory: a retry returns the first id'
);
SELECT is((SELECT count(*) FROM memory.working_memory), 1::bigint, 'set_working_memory: the retry stored no second item');
SELECT throws_ok(
    $$SELECT memory.set_working_memory('task', '{"paso": 2}', '1 hour', idempotency_key => 'k-wm')$$,
    '23505', 'idempotency key already used with other arguments',
    'set_working_memory: the same key with other content is refused'
);

-- ---------------------------------------------------------------- bad keys: nothing stored
SELECT throws_ok($$SELECT memory.remember('x', idempotency_key => '')$$, '22023',
    'idempotency_key must have 1 to 200 characters', 'remember: an empty key is refused');
SELECT throws_ok($$SELECT memory.learn_fact('c', 's', idempotency_key => repeat('k', 201))$$, '22023',
    'idempotency_key must have 1 to 200 characters', 'learn_fact: a key over 200 characters is refused');
SELECT throws_ok($$SELECT memory.set_working_memory('task', '{}', idempotency_key => '')$$, '22023',
    'idempotency_key must have 1 to 200 characters', 'set_working_memory: an empty key is refused');
SELECT throws_ok($$SELECT memory.remember('', idempotency_key => 'k-bad')$$, '22023',
    'content must not be empty', 'remember: bad content with a fresh key is refused as before');
SELECT is((SELECT count(*) FROM memory.idempotency_keys WHERE idempotency_key = 'k-bad'), 0::bigint,
    'a refused write leaves its key unclaimed');
SELECT isnt(memory.remember('now right', idempotency_key => 'k-bad'), NULL, 'so the key can be used by a correct call');
SELECT lives_ok($$SELECT memory.remember('x', idempotency_key => repeat('ñ', 200))$$,
    'a key of 200 characters (not bytes) is accepted');

-- ---------------------------------------------------------------- isolation
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.idempotency_keys), 0::bigint, 'B sees none of A''s keys');
INSERT INTO ids VALUES ('b1', memory.remember('la reunión se movió al viernes', idempotency_key => 'k-episode'));
SELECT isnt(pg_temp.id('b1'), pg_temp.id('e1'),
    'B''s write with A''s key string is B''s own new episode, not A''s id');
SELECT is((SELECT count(*) FROM memory.idempotency_keys), 1::bigint, 'B now sees exactly its own key');
SELECT throws_ok(
    $$INSERT INTO memory.idempotency_keys (agent_id, idempotency_key, operation, request_sha256)
      VALUES ((SELECT agent_id FROM memory.agents WHERE name = 'Alpha'), 'forged', 'remember', sha256('x'))$$,
    '42501', NULL, 'B cannot write a key for A'
);
SELECT throws_ok($$DELETE FROM memory.idempotency_keys$$, '42501', NULL, 'agents cannot delete keys');
SELECT tests.act_as('Alpha');
SELECT is(memory.remember('la reunión se movió al jueves', 0.7, '{plan}', idempotency_key => 'k-episode'),
    pg_temp.id('e1'), 'A''s key still returns A''s id after B used the same string');

-- ---------------------------------------------------------------- pruning and the job
RESET SESSION AUTHORIZATION;
UPDATE memory.idempotency_keys SET created_at = now() - interval '25 hours'
WHERE idempotency_key = 'k-episode' AND agent_id = (SELECT agent_id FROM memory.agents WHERE name = 'Alpha');
SELECT is(memory.prune_idempotency_keys(), 1::bigint, 'keys older than 24 hours are pruned');
SELECT is(
    (SELECT (schedule, command, username)::text FROM cron.job WHERE jobname = 'memory-prune-idempotency-keys'),
    ('17 * * * *', 'SELECT memory.prune_idempotency_keys()', 'memory_operator')::text,
    'pg_cron prunes the keys every hour as memory_operator'
);
SELECT tests.act_as('Alpha');
SELECT isnt(memory.remember('la reunión se movió al viernes', idempotency_key => 'k-episode'), NULL,
    'after the retention the key is free: a new write');

SELECT * FROM finish();
ROLLBACK;
