-- memory.list_checkpoints: the agent's own checkpoints, newest first, at most k; bad k
-- (22023) and a session that is not an agent (42501) refused.
BEGIN;
SELECT plan(8);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');

SELECT tests.act_as('Alpha');
SELECT memory.set_block('persona', 'Alpha, a careful implementer.');
SELECT memory.create_checkpoint('manual', '{"n": 1}');
SELECT memory.create_checkpoint('release', '{"n": 2}');

SELECT is(
    (SELECT array_agg(kind ORDER BY created_at DESC, checkpoint_id ASC) FROM memory.list_checkpoints()),
    (SELECT array_agg(kind ORDER BY created_at DESC, checkpoint_id ASC) FROM memory.checkpoints),
    'list_checkpoints returns the agent''s checkpoints, newest first'
);
SELECT is(
    (SELECT count(*) FROM memory.list_checkpoints(k => 1)), 1::bigint, 'k limits the list'
);
SELECT is(
    (SELECT block_count FROM memory.list_checkpoints(k => 1)), 1, 'block_count counts the snapshot''s blocks'
);
SELECT is(
    (SELECT created_by FROM memory.list_checkpoints(k => 1)), session_user::text,
    'created_by is the login role that made it'
);
SELECT throws_ok($$ SELECT * FROM memory.list_checkpoints(k => 0) $$, '22023', 'k must be between 1 and 1000', 'k 0 is refused');
SELECT throws_ok($$ SELECT * FROM memory.list_checkpoints(k => NULL) $$, '22023', 'k must be between 1 and 1000', 'k NULL is refused');

SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.list_checkpoints()), 0::bigint, 'another agent sees none of them');

RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION memory_operator;
SELECT throws_ok($$ SELECT * FROM memory.list_checkpoints() $$, '42501', NULL, 'a session that is not an agent is refused');

SELECT * FROM finish();
ROLLBACK;
