-- memory.embedding_batch_outranked: a newer job more important than a whole batch tells
-- the worker to cut the batch (issue 16, freshness under load); nothing older, nothing of
-- equal importance, nothing while paused. Claims take only the jobs of a test model of 3
-- dimensions (models => '{tap-3d}').
BEGIN;
SELECT plan(12);

SELECT tests.make_agent('Alpha');
SELECT memory.register_embedding_model('tap-3d', 'tap-source', 3, 64, 16, 4) IS NOT NULL AS registered;
SELECT memory.set_active_model('tap-3d');

SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content, importance) VALUES ('the first unimportant note', 0.3);
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE batch1 AS
SELECT DISTINCT lease_id FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
SELECT is((SELECT count(*) FROM batch1), 1::bigint, 'the worker holds a batch of one unimportant job');

SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch1)), false,
    'nothing new: the batch is not outranked');

SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content, importance) VALUES ('the second unimportant note', 0.3);
RESET SESSION AUTHORIZATION;
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch1)), false,
    'a new job of equal importance does not cut the batch');

SELECT tests.act_as('Alpha');
INSERT INTO memory.episodes (content, importance) VALUES ('the lighthouse keeper found the logbook', 0.9);
RESET SESSION AUTHORIZATION;
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch1)), true,
    'a new job more important than the whole batch outranks it');

SELECT memory.pause_embedding('test');
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch1)), false,
    'a paused queue cuts no batch (the next claim would take nothing)');
SELECT memory.resume_embedding();

SELECT is(memory.embedding_batch_outranked('other-worker', ARRAY(SELECT lease_id FROM batch1)), false,
    'another worker''s leases are no batch of this worker');
SELECT is(memory.embedding_batch_outranked('tap-worker', NULL), false, 'no leases: no batch, false');
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY[gen_random_uuid()]), false,
    'unknown leases: no batch, false');
SELECT throws_ok($$ SELECT memory.embedding_batch_outranked('bad worker!', NULL) $$, '22023', 'invalid worker name',
    'a bad worker name is refused');

-- a more important job that was already waiting when the batch was claimed (here: not
-- yet due then) never cuts it: a flood of important texts would cut every batch
SELECT memory.release_embedding_batch('tap-worker', ARRAY(SELECT lease_id FROM batch1));
UPDATE memory.embedding_jobs AS j SET next_attempt_at = now() + interval '1 hour'
FROM memory.embedding_models AS m
WHERE m.model_id = j.model_id AND m.name = 'tap-3d' AND j.priority > 0.5;
CREATE TEMP TABLE batch2 AS
SELECT DISTINCT lease_id FROM memory.claim_embedding_batch('tap-worker', 10, '1 minute', 65536, '{tap-3d}');
-- enqueued long before the claim (a job enqueued in the 2 s before it counts as after:
-- it may have committed after the claim's snapshot)
UPDATE memory.embedding_jobs AS j SET next_attempt_at = now(), enqueued_at = j.enqueued_at - interval '1 hour'
FROM memory.embedding_models AS m
WHERE m.model_id = j.model_id AND m.name = 'tap-3d' AND j.state = 'pending';
SELECT is((SELECT count(*) FROM batch2), 2::bigint, 'the two unimportant jobs are claimed again');
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch2)), false,
    'an important job enqueued well before the claim does not cut the batch');
UPDATE memory.embedding_jobs AS j SET enqueued_at = clock_timestamp() - interval '1 second'
FROM memory.embedding_models AS m
WHERE m.model_id = j.model_id AND m.name = 'tap-3d' AND j.state = 'pending';
SELECT is(memory.embedding_batch_outranked('tap-worker', ARRAY(SELECT lease_id FROM batch2)), true,
    'one enqueued a second before the claim does (it may have committed after the claim''s snapshot)');

SELECT * FROM finish();
ROLLBACK;
