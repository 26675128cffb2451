-- memory.set_block, get_blocks, block_history and the triggers on memory.blocks:
-- versions, history snapshots with changed_by, read-only enforcement (set_block and
-- direct UPDATE), operators, bad input that must leave everything unchanged, and
-- isolation between agents.
BEGIN;
SELECT plan(61);

SELECT tests.make_agents('Alpha', 'Beta');
CREATE ROLE test_operator LOGIN;
GRANT memory_admin TO test_operator;
-- ids handed between sessions
SELECT tests.make_id_table();
INSERT INTO ids SELECT 'alpha', agent_id FROM memory.agents WHERE name = 'Alpha';

-- ---------------------------------------------------------------- happy paths
SELECT tests.act_as('Alpha');
SELECT is(memory.set_block('persona', 'I am Alpha.', 'who I am', 5000, TRUE), 1, 'set_block creates a block at version 1');
SELECT is(memory.set_block('notes', 'first'), 1, 'set_block with defaults creates a block at version 1');
SELECT is(memory.set_block('notes', 'second'), 2, 'a changed value is version 2');
SELECT is(memory.set_block('notes', 'second'), 2, 'setting the same value again returns the version unchanged');
SELECT is((SELECT count(*) FROM memory.block_history('notes')), 2::bigint, 'an unchanged value writes no history row');
SELECT is(memory.set_block('notes', 'second', 'my notes'), 3, 'a changed description is a new version');
SELECT is(memory.set_block('notes', 'third'), 4, 'a new value without description is version 4');
SELECT is(
    (SELECT description FROM memory.get_blocks() WHERE label = 'notes'), 'my notes',
    'a NULL description keeps the current description'
);
SELECT results_eq(
    $$ SELECT label, value, description, char_limit, read_only, version FROM memory.get_blocks() $$,
    $$ VALUES ('notes', 'third', 'my notes', 5000, FALSE, 4), ('persona', 'I am Alpha.', 'who I am', 5000, TRUE, 1) $$,
    'get_blocks returns the agent''s blocks sorted by label'
);
SELECT results_eq(
    $$ SELECT version, value, changed_by FROM memory.block_history('notes') $$,
    $$ VALUES (1, 'first', 'test_alpha'), (2, 'second', 'test_alpha'), (3, 'second', 'test_alpha'), (4, 'third', 'test_alpha') $$,
    'block_history lists every version oldest first with the login role that made it'
);
SELECT results_eq(
    $$ SELECT description, char_limit, read_only FROM memory.block_history AS h WHERE h.label = 'notes' AND h.version = 3 $$,
    $$ VALUES ('my notes', 5000, FALSE) $$,
    'a history row is a full snapshot (description, char_limit, read_only)'
);
SELECT is(memory.set_block('notes', 'third', NULL, 10), 5, 'a changed char_limit is a new version');
SELECT is(memory.set_block('notes', 'third', '', 5000), 6, 'an empty description clears it');
SELECT is((SELECT description FROM memory.get_blocks() WHERE label = 'notes'), '', 'the description is now empty');

-- Direct UPDATE by the agent goes through the same triggers.
UPDATE memory.blocks SET value = 'direct' WHERE label = 'notes';
SELECT results_eq(
    $$ SELECT version, value, changed_by FROM memory.block_history('notes') WHERE version = 7 $$,
    $$ VALUES (7, 'direct', 'test_alpha') $$,
    'a direct UPDATE is versioned and recorded in block_history'
);
UPDATE memory.blocks SET version = 100, updated_at = now() - interval '1 day', updated_by = 'someone' WHERE label = 'notes';
SELECT results_eq(
    $$ SELECT version, updated_by FROM memory.blocks WHERE label = 'notes' $$,
    $$ VALUES (7, 'test_alpha') $$,
    'an UPDATE that changes no content is skipped: version and author cannot be forged'
);
SELECT is((SELECT count(*) FROM memory.block_history('notes')), 7::bigint, 'the skipped UPDATE wrote no history row');
SELECT throws_ok(
    $$ UPDATE memory.blocks SET label = 'renamed' WHERE label = 'notes' $$,
    '23514', 'the id, agent and label of a block cannot change',
    'a block cannot be renamed'
);

-- ---------------------------------------------------------------- read-only
SELECT throws_ok(
    $$ SELECT memory.set_block('persona', 'I am someone else.', NULL, 5000, TRUE) $$,
    '42501', 'block persona is read-only',
    'set_block cannot change a read-only block'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('persona', 'I am Alpha.', 'who I am') $$,
    '42501', 'block persona is read-only',
    'set_block cannot make a read-only block writable'
);
SELECT throws_ok(
    $$ UPDATE memory.blocks SET value = 'I am someone else.' WHERE label = 'persona' $$,
    '42501', 'block persona is read-only',
    'a direct UPDATE of a read-only block is refused'
);
SELECT throws_ok(
    $$ UPDATE memory.blocks SET read_only = FALSE WHERE label = 'persona' $$,
    '42501', 'block persona is read-only',
    'a direct UPDATE cannot unlock a read-only block'
);
SELECT is(
    memory.set_block('persona', 'I am Alpha.', 'who I am', 5000, TRUE), 1,
    'set_block with the identical content of a read-only block is a no-op'
);
SELECT results_eq(
    $$ SELECT value, read_only, version FROM memory.get_blocks() WHERE label = 'persona' $$,
    $$ VALUES ('I am Alpha.', TRUE, 1) $$,
    'the read-only block is unchanged'
);
SELECT is(memory.set_block('mood', 'calm'), 1, 'a writable block is created');
SELECT is(memory.set_block('mood', 'calm', NULL, 5000, TRUE), 2, 'an agent may lock its own block');

-- An operator (member of memory_admin, identified by the login role) can change it.
SET LOCAL SESSION AUTHORIZATION test_operator;
SELECT lives_ok(
    $$ UPDATE memory.blocks SET value = 'I am Alpha, revised.' WHERE label = 'persona' AND agent_id = pg_temp.id('alpha') $$,
    'an operator can change a read-only block with a direct UPDATE'
);
SELECT results_eq(
    $$ SELECT h.version, h.value, h.changed_by FROM memory.block_history AS h
       WHERE h.label = 'persona' AND h.agent_id = pg_temp.id('alpha') ORDER BY h.version $$,
    $$ VALUES (1, 'I am Alpha.', 'test_alpha'), (2, 'I am Alpha, revised.', 'test_operator') $$,
    'the operator''s change is versioned with the operator as changed_by'
);
RESET SESSION AUTHORIZATION;
SELECT lives_ok(
    $$ UPDATE memory.blocks SET read_only = FALSE WHERE label = 'mood' AND agent_id = pg_temp.id('alpha') $$,
    'a superuser can unlock a read-only block'
);
SELECT tests.act_as('Alpha');
SELECT is(memory.set_block('mood', 'curious'), 4, 'the unlocked block is writable by its agent again');
SELECT results_eq(
    $$ SELECT version, changed_by FROM memory.block_history('mood') $$,
    $$ VALUES (1, 'test_alpha'), (2, 'test_alpha'), (3, 'postgres'), (4, 'test_alpha') $$,
    'history records agent, superuser and agent in turn'
);

-- ---------------------------------------------------------------- bad input
CREATE TEMP TABLE alpha_before AS SELECT * FROM memory.get_blocks();
CREATE TEMP TABLE alpha_history_before AS SELECT label, version FROM memory.block_history ORDER BY label, version;

SELECT throws_ok(
    $$ SELECT memory.set_block('notes', repeat('x', 1048576)) $$,
    '22001', 'value of block notes exceeds its char_limit',
    'a 1 MB value over the default limit is refused, not truncated'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('huge', repeat('x', 1048576), NULL, 100000) $$,
    '22001', 'value of block huge exceeds its char_limit',
    'a 1 MB value over the largest limit is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'ok', NULL, 0) $$,
    '22023', 'char_limit must be between 1 and 100000',
    'char_limit 0 is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'ok', NULL, 10000000) $$,
    '22023', 'char_limit must be between 1 and 100000',
    'char_limit 10,000,000 is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'ok', NULL, NULL) $$,
    '22023', 'char_limit must be between 1 and 100000',
    'a NULL char_limit is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('Bad Label!', 'ok') $$,
    '22023', 'invalid label',
    'a malformed label is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('', 'ok') $$,
    '22023', 'invalid label',
    'an empty label is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block(repeat('a', 64), 'ok') $$,
    '22023', 'invalid label',
    'a label of 64 characters is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block(NULL, 'ok') $$,
    '22004', 'label must not be null',
    'a NULL label is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', NULL) $$,
    '22004', 'value must not be null',
    'a NULL value is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'ok', NULL, 5000, NULL) $$,
    '22004', 'read_only must not be null',
    'a NULL read_only is refused'
);
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'ok', repeat('d', 2001)) $$,
    '22001', 'description is too long',
    'a description over 2000 characters is refused'
);
SELECT throws_ok(
    $$ INSERT INTO memory.blocks (label, value, char_limit) VALUES ('direct', repeat('x', 1048576), 100000) $$,
    '23514', NULL,
    'a direct INSERT over the limit violates the table''s check'
);
SELECT results_eq(
    $$ SELECT * FROM memory.get_blocks() $$,
    $$ SELECT * FROM alpha_before $$,
    'the refused calls left every block unchanged'
);
SELECT results_eq(
    $$ SELECT label, version FROM memory.block_history ORDER BY label, version $$,
    $$ SELECT * FROM alpha_history_before $$,
    'the refused calls wrote no history'
);

SELECT throws_ok(
    $$ SELECT * FROM memory.block_history('nope') $$,
    'P0002', 'no block labelled nope',
    'block_history of an unknown label is no_data_found'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.block_history(NULL) $$,
    '22004', 'label must not be null',
    'block_history of NULL is refused'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.block_history('Not a label') $$,
    '22023', 'invalid label',
    'block_history of a malformed label is refused'
);
SELECT throws_ok(
    $$ INSERT INTO memory.block_history (block_id, version, agent_id, label, value, char_limit, read_only, changed_by)
       SELECT block_id, 99, agent_id, label, 'forged', char_limit, read_only, 'test_alpha' FROM memory.blocks LIMIT 1 $$,
    '42501', NULL,
    'an agent cannot write block_history directly'
);

-- ---------------------------------------------------------------- not an agent
RESET SESSION AUTHORIZATION;
SELECT throws_ok(
    $$ SELECT memory.set_block('notes', 'x') $$, '42501', 'this session is not an agent',
    'set_block needs an agent session'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.get_blocks() $$, '42501', 'this session is not an agent',
    'get_blocks needs an agent session'
);
SELECT throws_ok(
    $$ SELECT * FROM memory.block_history('notes') $$, '42501', 'this session is not an agent',
    'block_history needs an agent session'
);

-- ---------------------------------------------------------------- other agents
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.get_blocks()), 0::bigint, 'another agent sees none of Alpha''s blocks');
SELECT is((SELECT count(*) FROM memory.block_history), 0::bigint, 'another agent reads none of Alpha''s history');
SELECT throws_ok(
    $$ SELECT * FROM memory.block_history('persona') $$,
    'P0002', 'no block labelled persona',
    'Alpha''s label is unknown to Beta, the same error as any unknown label'
);
SELECT is(memory.set_block('persona', 'I am Beta.'), 1, 'Beta has its own persona block, independent of Alpha''s');
UPDATE memory.blocks SET value = 'hijacked' WHERE agent_id = pg_temp.id('alpha');
SELECT throws_ok(
    $$ INSERT INTO memory.blocks (agent_id, label, value) VALUES (pg_temp.id('alpha'), 'planted', 'x') $$,
    '42501', NULL,
    'Beta cannot insert a block for Alpha'
);
SELECT throws_ok(
    $$ UPDATE memory.blocks SET agent_id = pg_temp.id('alpha') WHERE label = 'persona' $$,
    '42501', 'permission denied for table blocks',
    'Beta cannot move its block to Alpha (agent_id is not an updatable column for agents)'
);
SELECT tests.act_as('Alpha');
SELECT results_eq(
    $$ SELECT * FROM memory.get_blocks() $$,
    $$ SELECT * FROM alpha_before $$,
    'Beta''s attempts left Alpha''s blocks unchanged'
);
SELECT is(
    (SELECT value FROM memory.get_blocks() WHERE label = 'persona'), 'I am Alpha, revised.',
    'Alpha''s persona is still its own'
);

SELECT * FROM finish();
ROLLBACK;
