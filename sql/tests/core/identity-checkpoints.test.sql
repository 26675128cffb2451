-- memory.identity_hash, create_checkpoint, restore_checkpoint, auto_checkpoint:
-- the documented serialization, determinism, change detection, the round trip with
-- continuity 1.0, read-only blocks during a restore, and isolation between agents.
BEGIN;
SELECT plan(56);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
SELECT tests.make_agent('Gamma');
CREATE ROLE test_operator LOGIN;
GRANT memory_admin TO test_operator;
CREATE TEMP TABLE ids (name text PRIMARY KEY, id uuid, val text);
GRANT ALL ON ids TO PUBLIC;
INSERT INTO ids SELECT lower(name), agent_id FROM memory.agents WHERE name IN ('Alpha', 'Beta', 'Gamma');

-- ---------------------------------------------------------------- identity_hash
SELECT tests.act_as('Alpha');
SELECT is(
    memory.identity_hash(), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'an agent without blocks has the sha256 of the empty serialization'
);
SELECT memory.set_block('bx', 'plain');
SELECT memory.set_block('b_x', 'ñandú');
SELECT memory.set_block('a', '');
-- Serialization: labels in byte order (a, b_x, bx), netstrings of UTF-8 byte lengths:
-- 1:a,0:,3:b_x,7:ñandú,2:bx,5:plain,   (ñ and ú take two bytes each)
SELECT is(
    memory.identity_hash(),
    encode(sha256(convert_to('1:a,0:,3:b_x,7:ñandú,2:bx,5:plain,', 'UTF8')), 'hex'),
    'identity_hash is the sha256 of the documented netstring serialization'
);
SELECT is(
    memory.identity_hash(), '4cfc568a65dc6769cf867c0d2792d808d307015992ea343793657f902d00a5c6',
    'identity_hash matches the value computed outside the database'
);
SELECT is(memory.identity_hash(), memory.identity_hash(), 'identity_hash is deterministic');
INSERT INTO ids (name, val) SELECT 'alpha_hash_0', memory.identity_hash();

SELECT tests.act_as('Beta');
SELECT memory.set_block('a', '');
SELECT memory.set_block('bx', 'plain', 'a description is not identity', 100, TRUE);
SELECT memory.set_block('b_x', 'ñandú');
SELECT is(
    memory.identity_hash(), (SELECT val FROM ids WHERE name = 'alpha_hash_0'),
    'equal blocks in another order, with other descriptions, limits and flags give the same hash'
);

SELECT tests.act_as('Alpha');
SELECT memory.set_block('bx', 'plain!');
SELECT isnt(
    memory.identity_hash(), (SELECT val FROM ids WHERE name = 'alpha_hash_0'),
    'a changed value changes the hash'
);
SELECT memory.set_block('bx', 'plain', 'now described');
SELECT is(
    memory.identity_hash(), (SELECT val FROM ids WHERE name = 'alpha_hash_0'),
    'the value changed back gives the original hash (a description is not identity)'
);
SELECT memory.set_block('c', 'more');
SELECT isnt(
    memory.identity_hash(), (SELECT val FROM ids WHERE name = 'alpha_hash_0'),
    'a new block changes the hash'
);

-- ---------------------------------------------------------------- create_checkpoint
SELECT memory.set_block('persona', 'I am Alpha.', NULL, 5000, TRUE);
INSERT INTO ids SELECT 'cp1', memory.create_checkpoint('manual', '{"note": "before the experiment"}');
SELECT results_eq(
    $$ SELECT kind, state, identity_hash, jsonb_array_length(blocks), continuity_score, created_by
       FROM memory.checkpoints WHERE checkpoint_id = (SELECT id FROM ids WHERE name = 'cp1') $$,
    $$ SELECT 'manual'::text, '{"note": "before the experiment"}'::jsonb, memory.identity_hash(), 5, NULL::real, 'test_alpha'::text $$,
    'create_checkpoint stores kind, state, the current identity hash and every block'
);
SELECT is(
    (SELECT blocks -> 0 FROM memory.checkpoints WHERE checkpoint_id = (SELECT id FROM ids WHERE name = 'cp1')),
    '{"label": "a", "value": "", "version": 1, "read_only": false, "char_limit": 5000, "description": null}'::jsonb,
    'a checkpoint keeps label, value, description, char_limit, read_only and version of each block'
);
SELECT ok(memory.create_checkpoint() IS NOT NULL, 'create_checkpoint with defaults returns an id');
SELECT is(
    (SELECT kind FROM memory.checkpoints ORDER BY created_at DESC LIMIT 1), 'manual',
    'the default kind is manual'
);

CREATE TEMP TABLE cp_count AS SELECT count(*) AS n FROM memory.checkpoints;
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint(NULL) $$, '22004', 'kind must not be null',
    'a NULL kind is refused'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('manual', NULL) $$, '22004', 'state must not be null',
    'a NULL state is refused'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('Not A Kind') $$, '22023', 'invalid kind',
    'a malformed kind is refused'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('auto') $$, '22023', 'checkpoint kind auto is reserved',
    'the kind auto is reserved for the system'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('restored') $$, '22023', 'checkpoint kind restored is reserved',
    'the kind restored is reserved for the system'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('manual', '[1, 2]') $$, '22023', 'state must be a JSON object',
    'a state that is not an object is refused'
);
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint('manual', jsonb_build_object('big', repeat(md5(random()::text), 70000))) $$,
    '54000', 'state is too large',
    'a state over 1 MB is refused'
);
SELECT throws_ok(
    $$ INSERT INTO memory.checkpoints (agent_id, kind, blocks, identity_hash)
       VALUES (memory.current_agent(), 'manual', '[]', repeat('0', 64)) $$,
    '42501', NULL,
    'an agent cannot write a checkpoint directly (no forged snapshots)'
);
SELECT is((SELECT count(*) FROM memory.checkpoints), (SELECT n FROM cp_count), 'the refused calls wrote no checkpoint');

-- ---------------------------------------------------------------- restore: round trip
INSERT INTO ids (name, val) SELECT 'hash_cp1', identity_hash FROM memory.checkpoints
WHERE checkpoint_id = (SELECT id FROM ids WHERE name = 'cp1');
SELECT memory.set_block('bx', 'drifted');
SELECT memory.set_block('a', 'also drifted', 'and described', 50);
CREATE TEMP TABLE restore1 AS SELECT memory.restore_checkpoint((SELECT id FROM ids WHERE name = 'cp1')) AS r;
SELECT is((SELECT (r ->> 'continuity_score')::numeric FROM restore1), 1.0, 'a full restore has continuity_score 1.0');
SELECT is(
    (SELECT r ->> 'identity_hash' FROM restore1), memory.identity_hash(),
    'the result reports the identity hash after the restore'
);
SELECT is(
    memory.identity_hash(), (SELECT val FROM ids WHERE name = 'hash_cp1'),
    'the identity hash after the restore equals the checkpoint''s'
);
SELECT is((SELECT (r ->> 'restored_blocks')::int FROM restore1), 5, 'restored_blocks counts the checkpoint''s blocks now restored');
SELECT is((SELECT r -> 'changed_blocks' FROM restore1), '["a", "bx"]'::jsonb, 'changed_blocks names the blocks written');
SELECT is((SELECT r -> 'state' FROM restore1), '{"note": "before the experiment"}'::jsonb, 'the checkpoint''s state is returned');
SELECT results_eq(
    $$ SELECT label, value, description, char_limit FROM memory.get_blocks() WHERE label IN ('a', 'bx') $$,
    $$ VALUES ('a', '', NULL::text, 5000), ('bx', 'plain', 'now described', 5000) $$,
    'values, descriptions and limits are back as checkpointed'
);
SELECT results_eq(
    $$ SELECT version, value, changed_by FROM memory.block_history('bx') ORDER BY version DESC LIMIT 2 $$,
    $$ VALUES (5, 'plain', 'test_alpha'), (4, 'drifted', 'test_alpha') $$,
    'a restore is a new version in block_history, not a rewrite of history'
);
SELECT results_eq(
    $$ SELECT kind, continuity_score, state ->> 'restored_from' FROM memory.checkpoints
       WHERE checkpoint_id IN (SELECT (r ->> 'pre_restore_checkpoint_id')::uuid FROM restore1
                               UNION ALL SELECT (r ->> 'restore_checkpoint_id')::uuid FROM restore1)
       ORDER BY created_at $$,
    $$ VALUES ('pre_restore', NULL::real, NULL::text), ('restored', 1::real, (SELECT id::text FROM ids WHERE name = 'cp1')) $$,
    'the restore is recorded: a pre_restore checkpoint before and a restored checkpoint after'
);
SELECT is(
    (SELECT state ->> 'restoring' FROM memory.checkpoints WHERE checkpoint_id = (SELECT (r ->> 'pre_restore_checkpoint_id')::uuid FROM restore1)),
    (SELECT id::text FROM ids WHERE name = 'cp1'),
    'the pre_restore checkpoint names the checkpoint being restored'
);
SELECT is(
    (SELECT memory.restore_checkpoint((SELECT id FROM ids WHERE name = 'cp1')) -> 'changed_blocks'),
    '[]'::jsonb,
    'restoring again changes nothing'
);

-- ---------------------------------------------------------------- restore: read-only and extra blocks
-- An operator changes the read-only persona; the agent cannot restore it back.
SET LOCAL SESSION AUTHORIZATION test_operator;
UPDATE memory.blocks SET value = 'I am Alpha, as the operator says.'
WHERE label = 'persona' AND agent_id = (SELECT id FROM ids WHERE name = 'alpha');
SELECT tests.act_as('Alpha');
SELECT memory.set_block('c', 'changed');
SELECT memory.set_block('d', 'new since the checkpoint');
CREATE TEMP TABLE restore2 AS SELECT memory.restore_checkpoint((SELECT id FROM ids WHERE name = 'cp1')) AS r;
SELECT is(
    (SELECT value FROM memory.get_blocks() WHERE label = 'persona'), 'I am Alpha, as the operator says.',
    'restore_checkpoint does not change a read-only block'
);
SELECT is((SELECT r -> 'skipped_read_only' FROM restore2), '["persona"]'::jsonb, 'the skipped read-only block is reported');
SELECT is((SELECT r -> 'extra_blocks' FROM restore2), '["d"]'::jsonb, 'a block newer than the checkpoint is kept and reported');
SELECT is((SELECT r -> 'changed_blocks' FROM restore2), '["c"]'::jsonb, 'the writable block is restored');
-- union of labels a, b_x, bx, c, d, persona = 6; equal values: a, b_x, bx, c = 4
SELECT is(
    (SELECT (r ->> 'continuity_score')::numeric FROM restore2), 0.6667,
    'continuity_score is the share of labels (over the union) with the checkpointed value'
);
SELECT is((SELECT (r ->> 'restored_blocks')::int FROM restore2), 4, 'restored_blocks excludes the read-only mismatch');
SELECT isnt(
    (SELECT r ->> 'identity_hash' FROM restore2), (SELECT r ->> 'checkpoint_identity_hash' FROM restore2),
    'the identity hash honestly differs from the checkpoint''s'
);

-- ---------------------------------------------------------------- restore: errors and other agents
SELECT throws_ok(
    $$ SELECT memory.restore_checkpoint(NULL) $$, '22004', 'checkpoint_id must not be null',
    'restore_checkpoint(NULL) is refused'
);
SELECT throws_ok(
    $$ SELECT memory.restore_checkpoint(gen_random_uuid()) $$, 'P0002', 'checkpoint not found',
    'an unknown checkpoint id is no_data_found'
);
CREATE TEMP TABLE alpha_blocks AS SELECT * FROM memory.get_blocks();
GRANT SELECT ON alpha_blocks TO PUBLIC;

SELECT tests.act_as('Beta');
CREATE TEMP TABLE beta_cp_count AS SELECT count(*) AS n FROM memory.checkpoints;
SELECT is(
    (SELECT count(*) FROM memory.checkpoints WHERE agent_id = (SELECT id FROM ids WHERE name = 'alpha')), 0::bigint,
    'Beta sees none of Alpha''s checkpoints'
);
SELECT throws_ok(
    $$ SELECT memory.restore_checkpoint((SELECT id FROM ids WHERE name = 'cp1')) $$, 'P0002', 'checkpoint not found',
    'Beta cannot restore Alpha''s checkpoint'
);
SELECT is(
    tests.error_of(format('SELECT memory.restore_checkpoint(%L::uuid)', (SELECT id FROM ids WHERE name = 'cp1'))),
    tests.error_of(format('SELECT memory.restore_checkpoint(%L::uuid)', gen_random_uuid())),
    'the error for another agent''s checkpoint is identical to the one for a missing checkpoint'
);
SELECT is((SELECT count(*) FROM memory.checkpoints), (SELECT n FROM beta_cp_count), 'the refused restore wrote no checkpoint');
SELECT tests.act_as('Alpha');
SELECT results_eq(
    $$ SELECT * FROM memory.get_blocks() $$, $$ SELECT * FROM alpha_blocks $$,
    'Beta''s attempt left Alpha''s blocks unchanged'
);

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT memory.identity_hash() $$, '42501', 'this session is not an agent', 'identity_hash needs an agent session');
SELECT throws_ok(
    $$ SELECT memory.create_checkpoint() $$, '42501', 'this session is not an agent',
    'create_checkpoint needs an agent session'
);
SELECT throws_ok(
    $$ SELECT memory.restore_checkpoint((SELECT id FROM ids WHERE name = 'cp1')) $$, '42501', 'this session is not an agent',
    'restore_checkpoint needs an agent session'
);

-- ---------------------------------------------------------------- auto_checkpoint
-- Alpha: its latest checkpoint (restored) recorded its current blocks. Beta: blocks
-- and no checkpoint. Gamma: neither blocks nor checkpoints.
SELECT cmp_ok(memory.auto_checkpoint(), '>=', 1, 'auto_checkpoint reports the checkpoints it wrote');
SELECT results_eq(
    $$ SELECT a.name, count(c.checkpoint_id) FROM memory.agents AS a
       LEFT JOIN memory.checkpoints AS c ON c.agent_id = a.agent_id AND c.kind = 'auto'
       WHERE a.name IN ('Alpha', 'Beta', 'Gamma') GROUP BY a.name ORDER BY a.name $$,
    $$ VALUES ('Alpha', 0::bigint), ('Beta', 1), ('Gamma', 0) $$,
    'only an agent whose identity changed since its last checkpoint (or never checkpointed) gets an auto checkpoint'
);
SELECT is(
    (SELECT identity_hash FROM memory.checkpoints
     WHERE agent_id = (SELECT id FROM ids WHERE name = 'beta') AND kind = 'auto'),
    '4cfc568a65dc6769cf867c0d2792d808d307015992ea343793657f902d00a5c6',
    'the auto checkpoint holds the agent''s identity hash'
);
SELECT memory.auto_checkpoint();
SELECT is(
    (SELECT count(*) FROM memory.checkpoints AS c
     WHERE c.kind = 'auto' AND c.agent_id IN (SELECT id FROM ids WHERE name IN ('alpha', 'beta', 'gamma'))),
    1::bigint,
    'a second run writes nothing when no identity changed'
);
SELECT tests.act_as('Alpha');
SELECT memory.set_block('c', 'changed again');
RESET SESSION AUTHORIZATION;
SELECT memory.auto_checkpoint();
SELECT is(
    (SELECT identity_hash FROM memory.checkpoints
     WHERE agent_id = (SELECT id FROM ids WHERE name = 'alpha') AND kind = 'auto'),
    (SELECT memory._identity_hash(memory._blocks_snapshot((SELECT id FROM ids WHERE name = 'alpha')))),
    'a changed identity gets an auto checkpoint of the new blocks'
);
SELECT tests.act_as('Alpha');
SELECT throws_ok($$ SELECT memory.auto_checkpoint() $$, '42501', NULL, 'an agent cannot run auto_checkpoint');
SET LOCAL SESSION AUTHORIZATION test_operator;
SELECT lives_ok($$ SELECT memory.auto_checkpoint() $$, 'an operator (the pg_cron job''s role) can run auto_checkpoint');

SELECT * FROM finish();
ROLLBACK;
