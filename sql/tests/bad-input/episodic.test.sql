-- Bad input to episodic memory (remember, update_episode, forget_episode). Each call
-- must fail with the SQLSTATE and message documented in COMMENT ON FUNCTION, and leave
-- everything the agent has stored exactly as it was (row counts and contents of every
-- table keyed on agent_id, compared before and after each group of calls).
BEGIN;
SELECT plan(53);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
INSERT INTO ids VALUES
    ('episode', memory.remember('the original episode', 0.4, ARRAY['keep'], 'proj', '2024-01-01', '{"k": "v"}', 'sess')),
    ('unknown', gen_random_uuid());
RESET SESSION AUTHORIZATION;
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- remember
SELECT throws_ok($$SELECT memory.remember('')$$, '22023', 'content must not be empty', 'remember: empty content');
SELECT throws_ok($$SELECT memory.remember('     ')$$, '22023', 'content must not be empty', 'remember: spaces only');
SELECT throws_ok($$SELECT memory.remember(E' \t\n\r ')$$, '22023', 'content must not be empty',
    'remember: tabs and line breaks only');
SELECT throws_ok($$SELECT memory.remember(NULL)$$, '22023', 'content must not be empty', 'remember: NULL content');
SELECT throws_ok($$SELECT memory.remember(repeat('x', 500001))$$, '22001', 'content is too long',
    'remember: 500,001 characters (one over the limit) are refused, never truncated');
SELECT throws_ok($$SELECT memory.remember('ok', 1.5)$$, '22003', 'importance must be between 0 and 1', 'remember: importance 1.5');
SELECT throws_ok($$SELECT memory.remember('ok', -0.1)$$, '22003', 'importance must be between 0 and 1', 'remember: importance -0.1');
SELECT throws_ok($$SELECT memory.remember('ok', 'NaN')$$, '22003', 'importance must be between 0 and 1', 'remember: importance NaN');
SELECT throws_ok($$SELECT memory.remember('ok', 'Infinity')$$, '22003', 'importance must be between 0 and 1',
    'remember: importance Infinity');
SELECT throws_ok($$SELECT memory.remember('ok', tags => array_fill('t'::text, ARRAY[10000]))$$, '22023', 'too many tags',
    'remember: 10,000 tags');
SELECT throws_ok($$SELECT memory.remember('ok', tags => ARRAY['a', ''])$$, '22023', 'each tag must have 1 to 100 characters',
    'remember: an empty tag');
SELECT throws_ok($$SELECT memory.remember('ok', tags => ARRAY['a', NULL])$$, '22023', 'each tag must have 1 to 100 characters',
    'remember: NULL inside tags');
SELECT throws_ok($$SELECT memory.remember('ok', tags => ARRAY[repeat('t', 101)])$$, '22023',
    'each tag must have 1 to 100 characters', 'remember: a tag of 101 characters');
SELECT throws_ok($$SELECT memory.remember('ok', tags => ARRAY[['a', 'b'], ['c', 'd']])$$, '22023',
    'tags must be a one-dimensional array', 'remember: a 2-D tags array');
SELECT throws_ok($$SELECT memory.remember('ok', metadata => '[1, 2]')$$, '22023', 'metadata must be a JSON object',
    'remember: metadata that is a JSON array');
SELECT throws_ok($$SELECT memory.remember('ok', metadata => '"text"')$$, '22023', 'metadata must be a JSON object',
    'remember: metadata that is a JSON string');
SELECT throws_ok($$SELECT memory.remember('ok', metadata => 'null')$$, '22023', 'metadata must be a JSON object',
    'remember: metadata that is JSON null');
SELECT throws_ok($$SELECT memory.remember('ok', occurred_at => 'infinity')$$, '22008', 'occurred_at must be a finite time',
    'remember: occurred_at infinity');
SELECT throws_ok($$SELECT memory.remember('ok', occurred_at => '-infinity')$$, '22008', 'occurred_at must be a finite time',
    'remember: occurred_at -infinity');
SELECT throws_ok($$SELECT memory.remember('ok', project => '   ')$$, '22023', 'project must not be empty',
    'remember: a blank project name');
SELECT throws_ok($$SELECT memory.remember('ok', project => repeat('p', 201))$$, '22001', 'project is too long',
    'remember: a project name of 201 characters');
SELECT throws_ok($$SELECT memory.remember('ok', session_id => '')$$, '22023', 'session_id must not be empty',
    'remember: an empty session_id');
SELECT throws_ok($$SELECT memory.remember('ok', session_id => repeat('s', 201))$$, '22001', 'session_id is too long',
    'remember: a session_id of 201 characters');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.remember('from a session that is no agent')$$, '42501', 'this session is not an agent',
    'remember: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused remember calls nothing of Alpha''s changed (no episode, project, job or access row)');
INSERT INTO snaps VALUES ('before update', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- update_episode
SELECT throws_ok(format('SELECT memory.update_episode(%L, %L)', pg_temp.id('unknown'), 'new text'), 'P0002', 'episode not found',
    'update_episode: an unknown id');
SELECT throws_ok($$SELECT memory.update_episode(NULL, 'new text')$$, 'P0002', 'episode not found', 'update_episode: a NULL id');
SELECT throws_ok(format('SELECT memory.update_episode(%L, content => %L)', pg_temp.id('episode'), ''), '22023',
    'content must not be empty', 'update_episode: empty content');
SELECT throws_ok(format('SELECT memory.update_episode(%L, content => %L)', pg_temp.id('episode'), E' \n '), '22023',
    'content must not be empty', 'update_episode: whitespace-only content');
SELECT throws_ok(format('SELECT memory.update_episode(%L, content => repeat(%L, 500001))', pg_temp.id('episode'), 'x'), '22001',
    'content is too long', 'update_episode: 500,001 characters');
SELECT throws_ok(format('SELECT memory.update_episode(%L, importance => 1.5)', pg_temp.id('episode')), '22003',
    'importance must be between 0 and 1', 'update_episode: importance 1.5');
SELECT throws_ok(format('SELECT memory.update_episode(%L, importance => %L)', pg_temp.id('episode'), 'NaN'), '22003',
    'importance must be between 0 and 1', 'update_episode: importance NaN');
SELECT throws_ok(format('SELECT memory.update_episode(%L, importance => -0.1)', pg_temp.id('episode')), '22003',
    'importance must be between 0 and 1', 'update_episode: importance -0.1');
SELECT throws_ok(format('SELECT memory.update_episode(%L, tags => ARRAY[%L, NULL])', pg_temp.id('episode'), 'a'), '22023',
    'each tag must have 1 to 100 characters', 'update_episode: NULL inside tags');
SELECT throws_ok(format('SELECT memory.update_episode(%L, tags => ARRAY[[%L], [%L]])', pg_temp.id('episode'), 'a', 'b'), '22023',
    'tags must be a one-dimensional array', 'update_episode: a 2-D tags array');
SELECT throws_ok(format('SELECT memory.update_episode(%L, tags => array_fill(%L::text, ARRAY[10000]))', pg_temp.id('episode'), 't'),
    '22023', 'too many tags', 'update_episode: 10,000 tags');
SELECT throws_ok(format('SELECT memory.update_episode(%L, metadata => %L)', pg_temp.id('episode'), '[]'), '22023',
    'metadata must be a JSON object', 'update_episode: metadata that is a JSON array');
-- one bad field spoils the whole call: the good ones are not applied either
SELECT throws_ok(format('SELECT memory.update_episode(%L, %L, 0.9, ARRAY[%L], %L)', pg_temp.id('episode'), 'good text', 'good', '[]'),
    '22023', 'metadata must be a JSON object', 'update_episode: good content, importance and tags with bad metadata');

RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT memory.update_episode(%L, %L)', pg_temp.id('episode'), 'x'), '42501', 'this session is not an agent',
    'update_episode: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before update'),
    'after the refused update_episode calls Alpha''s episode (content, importance, tags, metadata, updated_at) is unchanged');
SELECT is(
    (SELECT (e.content, e.importance, e.tags, e.metadata)::text FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('episode')),
    ('the original episode', 0.4::real, ARRAY['keep'], '{"k": "v"}'::jsonb)::text,
    'the episode still holds its original content, importance, tags and metadata'
);
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- forget_episode
SELECT throws_ok(format('SELECT memory.forget_episode(%L)', pg_temp.id('unknown')), 'P0002', 'episode not found',
    'forget_episode: an unknown id');
SELECT throws_ok($$SELECT memory.forget_episode(NULL)$$, 'P0002', 'episode not found', 'forget_episode: a NULL id');
SELECT lives_ok(format('SELECT memory.forget_episode(%L)', pg_temp.id('episode')), 'forget_episode: the real episode goes');
SELECT throws_ok(format('SELECT memory.forget_episode(%L)', pg_temp.id('episode')), 'P0002', 'episode not found',
    'forget_episode: the same id a second time');

RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT memory.forget_episode(%L)', pg_temp.id('unknown')), '42501', 'this session is not an agent',
    'forget_episode: a session that is not an agent');
SELECT is(
    (SELECT count(*) FROM memory.episodes WHERE agent_id = pg_temp.id('alpha'))
    + (SELECT count(*) FROM memory.projects WHERE agent_id = pg_temp.id('alpha')),
    1::bigint,
    'after the refused forget_episode calls only the one episode forgotten on purpose is gone (its project stays)'
);

-- ---------------------------------------------------------------- the limits themselves are accepted
SELECT tests.act_as('Alpha');
SELECT lives_ok($$SELECT memory.remember(repeat('x', 500000), 1, array_fill('t'::text, ARRAY[64]), repeat('p', 200), session_id => repeat('s', 200))$$,
    'remember: exactly 500,000 characters, importance 1, 64 tags, 200-character project and session are accepted');
SELECT is(
    (SELECT char_length(e.content) FROM memory.episodes AS e WHERE e.importance = 1),
    500000,
    'the 500,000 characters are stored whole'
);
-- Found by python/tests/test_bad_input_properties.py: a text of many distinct words has
-- a full-text vector over the tsvector limit of 1 MB (54000); it is stored anyway.
CREATE TEMP TABLE diverse AS
SELECT string_agg(chr(131072 + i % 40000) || chr(131072 + i / 40000) || chr(135168 + (i * 7) % 40000) || chr(19968), ' ') AS t
FROM generate_series(1, 99999) AS i;
GRANT SELECT ON diverse TO PUBLIC;
SELECT lives_ok($$SELECT memory.remember((SELECT t FROM pg_temp.diverse), 0.25)$$,
    'remember: 499,994 characters of 99,999 distinct words of 4-byte letters (2 MB of lexemes) are accepted');
SELECT is(
    (SELECT (char_length(e.content), e.content = d.t, length(e.fts) > 0)::text FROM memory.episodes AS e, pg_temp.diverse AS d
     WHERE e.importance = 0.25),
    (499994, TRUE, TRUE)::text,
    'the text of many distinct words is stored whole, with a full-text vector of the words that fit'
);
SELECT lives_ok($$SELECT memory.update_episode((SELECT e.episode_id FROM memory.episodes AS e WHERE e.importance = 1),
    (SELECT t FROM pg_temp.diverse))$$,
    'update_episode: the same text as a new content is accepted');
SELECT is(
    (SELECT count(*) FROM memory.episodes AS e, pg_temp.diverse AS d WHERE e.content = d.t),
    2::bigint,
    'both episodes hold the text of many distinct words'
);

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
