-- Bad input to core memory and identity (set_block, block_history, create_checkpoint,
-- restore_checkpoint, heartbeat). Each call must fail with the SQLSTATE and message
-- documented in COMMENT ON FUNCTION, and leave everything the agent has stored exactly
-- as it was (row counts and contents of every table keyed on agent_id).
BEGIN;
SELECT plan(47);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
SELECT memory.set_block('persona', 'I am Alpha.', 'who I am', 100);
SELECT memory.set_block('guarded', 'fixed forever', NULL, 5000, TRUE);
SELECT memory.heartbeat('the focus', '{"calm": 0.5}', '{"ctx": 1}');
INSERT INTO ids VALUES
    ('checkpoint', memory.create_checkpoint('manual', '{"note": "first"}')),
    ('unknown', gen_random_uuid());
RESET SESSION AUTHORIZATION;
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- set_block
SELECT throws_ok($$SELECT memory.set_block(NULL, 'value')$$, '22004', 'label must not be null', 'set_block: NULL label');
SELECT throws_ok(
    format('SELECT memory.set_block(%L, %L)', l, 'value'),
    '22023', 'invalid label', format('set_block: bad label %s', quote_literal(left(l, 20)))
)
FROM unnest(ARRAY['Persona', '', 'has space', '1abc', '_x', 'a' || repeat('b', 63), 'persona;drop', 'persöna']) AS l;
SELECT throws_ok($$SELECT memory.set_block('persona', NULL)$$, '22004', 'value must not be null', 'set_block: NULL value');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', NULL, 0)$$, '22023', 'char_limit must be between 1 and 100000',
    'set_block: char_limit 0');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', NULL, -1)$$, '22023', 'char_limit must be between 1 and 100000',
    'set_block: char_limit -1');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', NULL, 100001)$$, '22023', 'char_limit must be between 1 and 100000',
    'set_block: char_limit 100,001');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', NULL, NULL)$$, '22023', 'char_limit must be between 1 and 100000',
    'set_block: NULL char_limit');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', NULL, 100, NULL)$$, '22004', 'read_only must not be null',
    'set_block: NULL read_only');
SELECT throws_ok($$SELECT memory.set_block('persona', repeat('x', 101), NULL, 100)$$, '22001',
    'value of block persona exceeds its char_limit', 'set_block: a value one character over its char_limit');
SELECT throws_ok($$SELECT memory.set_block('fresh', repeat('x', 5001))$$, '22001', 'value of block fresh exceeds its char_limit',
    'set_block: a value over the default char_limit of 5000');
SELECT throws_ok($$SELECT memory.set_block('persona', 'v', repeat('d', 2001), 100)$$, '22001',
    'description is too long', 'set_block: a description of 2,001 characters');
SELECT throws_ok($$SELECT memory.set_block('guarded', 'changed')$$, '42501', 'block guarded is read-only',
    'set_block: changing a read-only block');
SELECT throws_ok($$SELECT memory.set_block('guarded', 'fixed forever', NULL, 5000, FALSE)$$, '42501', 'block guarded is read-only',
    'set_block: making a read-only block writable');
SELECT throws_ok($$UPDATE memory.blocks SET value = 'changed' WHERE label = 'guarded'$$, '42501', 'block guarded is read-only',
    'a direct UPDATE of a read-only block');
SELECT throws_ok($$UPDATE memory.blocks SET label = 'renamed' WHERE label = 'persona'$$, '23514',
    'the id, agent and label of a block cannot change', 'a direct UPDATE of a block''s label');

-- ---------------------------------------------------------------- block_history
SELECT throws_ok($$SELECT * FROM memory.block_history(NULL)$$, '22004', 'label must not be null', 'block_history: NULL label');
SELECT throws_ok($$SELECT * FROM memory.block_history('Bad Label')$$, '22023', 'invalid label',
    'block_history: a malformed label');
SELECT throws_ok($$SELECT * FROM memory.block_history('never_set')$$, 'P0002', 'no block labelled never_set',
    'block_history: a label the agent has no block for');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.set_block('persona', 'v')$$, '42501', 'this session is not an agent',
    'set_block: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused block calls every block, version and history row is unchanged');
INSERT INTO snaps VALUES ('before checkpoints', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- create_checkpoint, restore_checkpoint
SELECT throws_ok($$SELECT memory.create_checkpoint(NULL)$$, '22004', 'kind must not be null',
    'create_checkpoint: NULL kind');
SELECT throws_ok($$SELECT memory.create_checkpoint('manual', NULL)$$, '22004', 'state must not be null',
    'create_checkpoint: NULL state');
SELECT throws_ok($$SELECT memory.create_checkpoint('Manual')$$, '22023', 'invalid kind',
    'create_checkpoint: a malformed kind');
SELECT throws_ok($$SELECT memory.create_checkpoint('')$$, '22023', 'invalid kind', 'create_checkpoint: an empty kind');
SELECT throws_ok(
    format('SELECT memory.create_checkpoint(%L)', k),
    '22023', format('checkpoint kind %s is reserved', k), format('create_checkpoint: the reserved kind %s', k)
)
FROM unnest(ARRAY['auto', 'pre_restore', 'restored']) AS k;
SELECT throws_ok($$SELECT memory.create_checkpoint('manual', '[1, 2]')$$, '22023', 'state must be a JSON object',
    'create_checkpoint: a state that is a JSON array');
SELECT throws_ok($$SELECT memory.create_checkpoint('manual', jsonb_build_object('text', repeat('x', 1048576)))$$, '54000',
    'state is too large', 'create_checkpoint: a state over 1 MB');
SELECT throws_ok($$SELECT memory.create_checkpoint('manual', (SELECT j FROM pg_temp.big))$$, '54000', 'state is too large',
    'create_checkpoint: a 5 MB state that arrives compressed is refused as over 1 MB');
SELECT throws_ok($$SELECT memory.restore_checkpoint(NULL)$$, '22004', 'checkpoint_id must not be null',
    'restore_checkpoint: a NULL id');
SELECT throws_ok(format('SELECT memory.restore_checkpoint(%L)', pg_temp.id('unknown')), 'P0002', 'checkpoint not found',
    'restore_checkpoint: an unknown id');

RESET SESSION AUTHORIZATION;
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before checkpoints'),
    'after the refused checkpoint calls Alpha has exactly its one checkpoint and unchanged blocks');
INSERT INTO snaps VALUES ('before heartbeat', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- heartbeat
SELECT throws_ok($$SELECT memory.heartbeat(repeat('f', 10001))$$, '22001', 'focus is too long',
    'heartbeat: a focus of 10,001 characters');
SELECT throws_ok($$SELECT memory.heartbeat(NULL, '[0.1, 0.2]')$$, '22023', 'emotional_vector must be a JSON object',
    'heartbeat: an emotional_vector that is a JSON array');
SELECT throws_ok($$SELECT memory.heartbeat(NULL, '"happy"')$$, '22023', 'emotional_vector must be a JSON object',
    'heartbeat: an emotional_vector that is a JSON string');
SELECT throws_ok($$SELECT memory.heartbeat(NULL, NULL, to_jsonb(repeat('x', 1048576)))$$, '54000', 'working_context is too large',
    'heartbeat: a working_context over 1 MB');
SELECT throws_ok($$SELECT memory.heartbeat(NULL, NULL, (SELECT j FROM pg_temp.big))$$, '54000', 'working_context is too large',
    'heartbeat: a 5 MB working_context that arrives compressed is refused as over 1 MB');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.heartbeat('focus')$$, '42501', 'this session is not an agent',
    'heartbeat: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before heartbeat'),
    'after the refused heartbeats Alpha''s state (focus, emotions, context, last heartbeat) is unchanged');

SELECT * FROM finish();
ROLLBACK;
