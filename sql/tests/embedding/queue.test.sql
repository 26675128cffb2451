-- The embedding queue: enqueue triggers, claim / complete / fail / release, leases,
-- backoff, dead jobs, stale results, deletes leaving no orphans, model switching.
-- Jobs of the real model are enqueued too but never committed; claims here take only
-- the jobs of a test model of 3 dimensions (models => '{tap-3d}').
BEGIN;
SELECT plan(54);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
-- an episode that exists before the test model does: it cannot cover everything at once
SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content) VALUES ('an episode from before the test model');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- registry
SELECT isnt(memory.register_embedding_model('tap-3d', 'tap-source', 3, 64, 16, 4), NULL,
    'an operator registers a model');
SELECT ok(
    EXISTS (
        SELECT 1 FROM pg_indexes
        WHERE schemaname = 'memory' AND tablename = 'chunks'
          AND indexname = format('chunks_embedding_model_%s_idx', (SELECT model_id FROM memory.embedding_models WHERE name = 'tap-3d'))
          AND indexdef ~ 'hnsw' AND indexdef ~ 'halfvec\(3\)' AND indexdef ~ 'halfvec_cosine_ops'
    ),
    'a registered model gets its own partial HNSW index over the cast to halfvec of its dimension'
);
SELECT ok(
    EXISTS (
        SELECT 1 FROM pg_indexes
        WHERE indexname = 'chunks_embedding_model_1_idx' AND indexdef ~ 'halfvec\(384\)'
          AND indexdef ~ 'halfvec_cosine_ops' AND indexdef ~ 'WHERE \(model_id = 1\)'
    ),
    'the seed model has its partial HNSW index over halfvec(384) (migration 032)'
);
SELECT throws_ok($$ SELECT memory.register_embedding_model('tap-3d', 'x', 3) $$, '23505',
    'embedding model tap-3d already exists', 'a model name is registered once');
SELECT throws_ok($$ SELECT memory.register_embedding_model('tap-bad', 'x', 0) $$, '22023',
    'invalid embedding model settings', 'a model without dimensions is refused');
SELECT throws_ok($$ SELECT memory.set_active_model('no-such-model') $$, '42704',
    'embedding model no-such-model does not exist', 'an unknown model cannot be activated');

SELECT lives_ok($$ SELECT memory.set_active_model('tap-3d') $$, 'an operator activates the test model');
SELECT is((SELECT name FROM memory.embedding_models WHERE is_serving), 'all-MiniLM-L6-v2',
    'search keeps the old model while the new one covers nothing');

-- ---------------------------------------------------------------- enqueue
SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content, importance, tags)
VALUES ('Alpha met Beta at the harbour.', 0.9, '{meeting}'), ('A quiet day.', 0.1, '{}');
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE ep AS
SELECT e.episode_id, e.content FROM memory.episodes AS e
INNER JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Alpha' AND e.content <> 'an episode from before the test model';

SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j INNER JOIN ep USING (episode_id)),
    4::bigint,
    'an insert queues one job per episode and target model (active and serving)'
);
SELECT is(
    (SELECT array_agg(DISTINCT j.state) FROM memory.embedding_jobs AS j INNER JOIN ep USING (episode_id)),
    '{pending}'::text [],
    'new jobs are pending'
);
SELECT is(
    (SELECT j.content_sha256 FROM memory.embedding_jobs AS j INNER JOIN ep USING (episode_id)
     INNER JOIN memory.embedding_models AS m USING (model_id) WHERE m.name = 'tap-3d' AND ep.content = 'A quiet day.'),
    sha256('A quiet day.'::bytea),
    'a job carries the sha256 of the text to embed'
);

CREATE TEMP TABLE jobs_before AS
SELECT j.job_id, j.enqueued_at, j.content_sha256 FROM memory.embedding_jobs AS j INNER JOIN ep USING (episode_id);
UPDATE memory.episodes SET tags = '{changed}', importance = 0.5, access_count = 7
WHERE episode_id IN (SELECT episode_id FROM ep);
SELECT set_eq(
    $$ SELECT j.job_id, j.enqueued_at, j.content_sha256 FROM memory.embedding_jobs AS j JOIN ep USING (episode_id) $$,
    $$ SELECT * FROM jobs_before $$,
    'changing tags, importance or access counts re-queues nothing'
);
UPDATE memory.episodes SET content = content WHERE episode_id IN (SELECT episode_id FROM ep);
SELECT set_eq(
    $$ SELECT j.job_id, j.enqueued_at, j.content_sha256 FROM memory.embedding_jobs AS j JOIN ep USING (episode_id) $$,
    $$ SELECT * FROM jobs_before $$,
    'an update that leaves the text as it was re-queues nothing'
);

-- ---------------------------------------------------------------- claim
CREATE TEMP TABLE claim1 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
SELECT is((SELECT count(DISTINCT job_id) FROM claim1), 2::bigint,
    'a claim takes the due jobs of the models asked for (the older episode has no test-model job)');
SELECT is(
    (SELECT array_agg(chunk_text ORDER BY c.job_id) FROM claim1 AS c INNER JOIN memory.embedding_jobs AS j USING (job_id) WHERE j.episode_id IN (SELECT episode_id FROM ep)),
    ARRAY['Alpha met Beta at the harbour.', 'A quiet day.'],
    'the claim returns the chunk texts, higher importance first'
);
SELECT is(
    (SELECT array_agg(DISTINCT(j.state, j.lease_owner, j.attempts)::text) FROM memory.embedding_jobs AS j WHERE j.job_id IN (SELECT job_id FROM claim1)),
    ARRAY['(processing,tap-worker,1)'],
    'claimed jobs are processing, leased to the worker, one attempt counted'
);
SELECT is(
    (SELECT count(*) FROM memory.claim_embedding_batch('tap-other', 10, '1 minute', 65536, '{tap-3d}')),
    0::bigint,
    'a second worker finds nothing: leased jobs are not claimed twice'
);

-- ---------------------------------------------------------------- complete
CREATE TEMP TABLE done1 AS
SELECT * FROM memory.complete_embedding_batch(
    'tap-worker',
    ARRAY(SELECT lease_id FROM claim1 ORDER BY job_id, chunk_index),
    ARRAY(SELECT chunk_index FROM claim1 ORDER BY job_id, chunk_index),
    ARRAY(SELECT '[1,0,0]'::vector FROM claim1 ORDER BY job_id, chunk_index)
);
SELECT is((SELECT array_agg(DISTINCT outcome) FROM done1), '{done}'::text [], 'a complete result is stored');
SELECT ok((SELECT bool_and(freshness_seconds >= 0) FROM done1), 'completion reports the time from enqueue');
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c INNER JOIN ep USING (episode_id) INNER JOIN memory.embedding_models AS m USING (model_id)
     WHERE m.name = 'tap-3d' AND c.char_start = 0 AND c.char_end = char_length(ep.content)),
    2::bigint,
    'one chunk row per chunk, with its span'
);
SELECT is(
    (SELECT count(*) FROM memory.pooled_embeddings AS p INNER JOIN ep USING (episode_id) WHERE p.embedding = '[1,0,0]'::vector),
    2::bigint,
    'each episode has its pooled vector'
);
SELECT is(
    (SELECT array_agg(DISTINCT(j.state, j.completions, j.lease_id IS NULL, j.embedded_sha256 = j.content_sha256)::text)
     FROM memory.embedding_jobs AS j WHERE j.job_id IN (SELECT job_id FROM claim1)),
    ARRAY['(done,1,t,t)'],
    'completed jobs are done once, lease gone, the embedded hash is the text''s'
);
SELECT is(
    (SELECT array_agg(DISTINCT outcome) FROM memory.complete_embedding_batch(
        'tap-worker', ARRAY(SELECT lease_id FROM claim1), ARRAY(SELECT chunk_index FROM claim1),
        ARRAY(SELECT '[0,1,0]'::vector FROM claim1))),
    '{stale}'::text [],
    'a second completion of the same lease is discarded'
);

-- ---------------------------------------------------------------- content changes
UPDATE memory.episodes SET content = 'Alpha met Beta at the old harbour, in the rain.'
WHERE content = 'Alpha met Beta at the harbour.';
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c INNER JOIN ep USING (episode_id) WHERE ep.content = 'Alpha met Beta at the harbour.'),
    0::bigint,
    'a new text drops the stale vectors at once'
);
SELECT is(
    (SELECT array_agg(DISTINCT(j.state, j.attempts)::text) FROM memory.embedding_jobs AS j INNER JOIN ep USING (episode_id)
     WHERE ep.content = 'Alpha met Beta at the harbour.'),
    ARRAY['(pending,0)'],
    'a new text re-queues the episode for every target model'
);
CREATE TEMP TABLE claim2 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
UPDATE memory.episodes SET content = 'The final text of the meeting.' WHERE content LIKE 'Alpha met Beta at the old harbour%';
SELECT is(
    (SELECT array_agg(outcome) FROM memory.complete_embedding_batch(
        'tap-worker', ARRAY(SELECT lease_id FROM claim2), ARRAY(SELECT chunk_index FROM claim2),
        ARRAY(SELECT '[0,1,0]'::vector FROM claim2))),
    '{stale}'::text [],
    'a result for text that changed while it was embedded is discarded'
);
SELECT is(
    (SELECT j.state FROM memory.embedding_jobs AS j INNER JOIN memory.episodes AS e USING (episode_id)
     INNER JOIN memory.embedding_models AS m USING (model_id) WHERE m.name = 'tap-3d' AND e.content = 'The final text of the meeting.'),
    'pending',
    'the newer job stands'
);
CREATE TEMP TABLE claim3 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
SELECT is((SELECT array_agg(chunk_text) FROM claim3), ARRAY['The final text of the meeting.'],
    'the next claim embeds the final text');

-- ---------------------------------------------------------------- bad results
SELECT throws_ok(
    $$ SELECT * FROM memory.complete_embedding_batch('tap-worker', ARRAY(SELECT lease_id FROM claim3),
        ARRAY(SELECT chunk_index FROM claim3), ARRAY(SELECT '[1,2]'::vector FROM claim3)) $$,
    '22000', NULL, 'a vector of the wrong dimension is refused'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.complete_embedding_batch('tap-worker', ARRAY(SELECT lease_id FROM claim3), '{}', '{}') $$,
    '22023', NULL, 'arrays of different lengths are refused'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.complete_embedding_batch('tap-worker', ARRAY(SELECT lease_id FROM claim3),
        ARRAY(SELECT chunk_index + 5 FROM claim3), ARRAY(SELECT '[1,0,0]'::vector FROM claim3)) $$,
    '22023', NULL, 'a result missing a chunk is refused'
);
SELECT throws_ok($$ SELECT * FROM memory.claim_embedding_batch('bad worker!') $$, '22023', 'invalid worker name',
    'a malformed worker name is refused');

-- ---------------------------------------------------------------- failure, backoff, dead
UPDATE memory.embedding_settings SET max_attempts = 2, retry_base = '10 seconds';
SELECT is(
    (SELECT array_agg(outcome) FROM memory.fail_embedding_batch('tap-worker', ARRAY(SELECT DISTINCT lease_id FROM claim3), 'RuntimeError: boom')),
    '{retry}'::text [],
    'a failure with attempts left is retried'
);
SELECT ok(
    (SELECT j.state = 'pending' AND j.next_attempt_at BETWEEN clock_timestamp() + interval '9 seconds' AND clock_timestamp() + interval '11 seconds'
        AND j.last_error = 'RuntimeError: boom'
     FROM memory.embedding_jobs AS j WHERE j.job_id = (SELECT DISTINCT job_id FROM claim3)),
    'the retry waits retry_base * 2^(attempts-1) and keeps the error'
);
SELECT is((SELECT count(*) FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}')), 0::bigint,
    'a job waiting for its retry is not claimed early');
UPDATE memory.embedding_jobs SET next_attempt_at = now() WHERE job_id = (SELECT DISTINCT job_id FROM claim3);
CREATE TEMP TABLE claim4 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
SELECT is(
    (SELECT array_agg(outcome) FROM memory.fail_embedding_batch('tap-worker', ARRAY(SELECT DISTINCT lease_id FROM claim4), 'RuntimeError: boom again')),
    '{dead}'::text [],
    'out of attempts, the job is dead'
);
SELECT is(
    (SELECT (j.state, j.last_error)::text FROM memory.embedding_jobs AS j WHERE j.job_id = (SELECT DISTINCT job_id FROM claim4)),
    '(dead,"RuntimeError: boom again")',
    'a dead job keeps its last error'
);
SELECT is((memory.health() -> 'embedding' -> 'dead_jobs' -> 0 ->> 'last_error'), 'RuntimeError: boom again',
    'health() lists dead jobs with their last error');
SELECT is(memory.requeue_dead(ARRAY(SELECT DISTINCT job_id FROM claim4)), 1, 'requeue_dead() revives a dead job');
SELECT is(
    (SELECT (j.state, j.attempts)::text FROM memory.embedding_jobs AS j WHERE j.job_id = (SELECT DISTINCT job_id FROM claim4)),
    '(pending,0)',
    'a revived job is pending with fresh attempts'
);

-- ---------------------------------------------------------------- leases
CREATE TEMP TABLE claim5 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
SELECT is(memory.release_embedding_batch('tap-worker', ARRAY(SELECT DISTINCT lease_id FROM claim5)), 1,
    'a stopping worker releases its batch');
SELECT is(
    (SELECT (j.state, j.attempts)::text FROM memory.embedding_jobs AS j WHERE j.job_id = (SELECT DISTINCT job_id FROM claim5)),
    '(pending,0)',
    'a released job is pending and the claim is not counted as an attempt'
);
CREATE TEMP TABLE claim6 AS
SELECT * FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
UPDATE memory.embedding_jobs SET lease_expires_at = now() - interval '1 second' WHERE job_id = (SELECT DISTINCT job_id FROM claim6);
SELECT cmp_ok(memory.reap_expired_leases(), '>=', 1, 'the reaper returns expired leases');
SELECT is(
    (SELECT j.state FROM memory.embedding_jobs AS j WHERE j.job_id = (SELECT DISTINCT job_id FROM claim6)),
    'pending', 'an expired lease goes back to pending'
);
SELECT is(
    (SELECT array_agg(outcome) FROM memory.complete_embedding_batch(
        'tap-worker', ARRAY(SELECT lease_id FROM claim6), ARRAY(SELECT chunk_index FROM claim6),
        ARRAY(SELECT '[1,0,0]'::vector FROM claim6))),
    '{stale}'::text [],
    'a result after the lease expired is discarded'
);

-- ---------------------------------------------------------------- the switch of models
-- Other rows of the database (a developer's own memories) are queued too: count ours.
SELECT cmp_ok(memory.reembed(), '>=', 1, 'reembed() queues what the active model lacks');
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j INNER JOIN memory.episodes AS e USING (episode_id)
     INNER JOIN memory.embedding_models AS m USING (model_id)
     WHERE m.name = 'tap-3d' AND e.content = 'an episode from before the test model' AND j.state = 'pending'),
    1::bigint,
    'the older episode, which the test model lacked, is queued for it'
);
SELECT is(
    (SELECT j.priority < 0 FROM memory.embedding_jobs AS j INNER JOIN memory.episodes AS e USING (episode_id)
     INNER JOIN memory.embedding_models AS m USING (model_id)
     WHERE m.name = 'tap-3d' AND e.content = 'an episode from before the test model'),
    true,
    'backfill jobs rank below fresh writes'
);
-- Drain the test model's queue completely; the dev database may hold rows of others
-- (committed episodes and facts), whose jobs are queued by reembed() as well.
DO $$
DECLARE
    lid uuid [];
    idx integer [];
BEGIN
    LOOP
        SELECT array_agg(c.lease_id), array_agg(c.chunk_index) INTO lid, idx
        FROM memory.claim_embedding_batch('tap-worker', 1000, '1 minute', 100000000, '{tap-3d}') AS c;
        EXIT WHEN lid IS NULL;
        PERFORM memory.complete_embedding_batch('tap-worker', lid, idx, array_fill('[0,0,1]'::vector, ARRAY[cardinality(lid)]));
    END LOOP;
END
$$;
SELECT is((SELECT name FROM memory.embedding_models WHERE is_serving), 'tap-3d',
    'once the active model covers everything, search switches to it');
SELECT is((memory.health() -> 'embedding' ->> 'serving_coverage')::numeric, 1.0, 'health() reports full coverage of the serving model');

-- ---------------------------------------------------------------- deletes
DELETE FROM memory.episodes WHERE episode_id IN (SELECT episode_id FROM ep);
SELECT is(
    (SELECT count(*) FROM memory.chunks WHERE episode_id IN (SELECT episode_id FROM ep))
    + (SELECT count(*) FROM memory.embedding_jobs WHERE episode_id IN (SELECT episode_id FROM ep))
    + (SELECT count(*) FROM memory.pooled_embeddings WHERE episode_id IN (SELECT episode_id FROM ep)),
    0::bigint,
    'deleting episodes leaves no chunk, job or pooled vector'
);
SELECT tests.act_as('Beta');
INSERT INTO memory.facts (concept, statement) VALUES ('harbour', 'The harbour closes at night.');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j INNER JOIN memory.facts AS f USING (fact_id) WHERE f.concept = 'harbour'),
    1::bigint,
    'facts are queued on insert too (for the one model now active and serving)'
);
UPDATE memory.facts SET statement = 'The harbour closes at midnight.' WHERE concept = 'harbour';
SELECT is(
    (SELECT array_agg(DISTINCT j.content_sha256 = sha256(convert_to(E'harbour\nThe harbour closes at midnight.', 'UTF8')))
     FROM memory.embedding_jobs AS j INNER JOIN memory.facts AS f USING (fact_id) WHERE f.concept = 'harbour'),
    '{t}'::boolean [],
    'a corrected fact is re-queued with the hash of concept and statement'
);
DELETE FROM memory.facts WHERE concept = 'harbour';
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j WHERE j.fact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memory.facts AS f WHERE f.fact_id = j.fact_id)),
    0::bigint,
    'deleting a fact leaves no job'
);

SELECT * FROM finish();
ROLLBACK;
