-- remember, update_episode, forget_episode: happy paths and the errors each raises.
BEGIN;
SELECT plan(27);

SELECT tests.make_agent('Alpha');
SELECT tests.act_as('Alpha');

SELECT isa_ok(memory.remember('We decided to use Raft for consensus.'), 'uuid', 'remember returns a uuid');

SELECT tests.make_id_table();
INSERT INTO ids VALUES ('e1', memory.remember(
    content => 'Decidimos usar PostgreSQL como fuente de verdad.',
    importance => 0.9,
    tags => ARRAY['decision', 'db'],
    project => 'cerebro',
    occurred_at => '2025-10-14 10:00+00',
    metadata => '{"source": "meeting"}',
    session_id => 'session_1'
));
SELECT is(
    (SELECT row(content, importance, tags, occurred_at, metadata, session_id)::text FROM memory.episodes
     WHERE episode_id = pg_temp.id('e1')),
    row('Decidimos usar PostgreSQL como fuente de verdad.', 0.9::real, ARRAY['decision', 'db'],
        '2025-10-14 10:00+00'::timestamptz, '{"source": "meeting"}'::jsonb, 'session_1')::text,
    'remember stores every field it is given'
);
SELECT is(
    (SELECT p.name FROM memory.episodes AS e INNER JOIN memory.projects AS p USING (project_id)
     WHERE e.episode_id = pg_temp.id('e1')),
    'cerebro', 'a project named in remember is created on first use'
);
SELECT memory.remember('second episode of the same project', project => 'cerebro');
SELECT is((SELECT count(*) FROM memory.projects WHERE name = 'cerebro'), 1::bigint,
    'a project is reused, not duplicated');
SELECT is(
    (SELECT encode(content_sha256, 'hex') FROM memory.episodes WHERE episode_id = pg_temp.id('e1')),
    encode(sha256(convert_to('Decidimos usar PostgreSQL como fuente de verdad.', 'UTF8')), 'hex'),
    'the content sha256 is kept with the episode'
);
SELECT ok(
    (SELECT fts @@ websearch_to_tsquery('spanish', 'decidir fuentes') FROM memory.episodes
     WHERE episode_id = pg_temp.id('e1')),
    'a Spanish episode is found through the Spanish stemmer'
);
SELECT ok(
    (SELECT fts @@ websearch_to_tsquery('english', 'deciding on consensus') FROM memory.episodes
     WHERE content LIKE 'We decided%'),
    'an English episode is found through the English stemmer'
);
INSERT INTO ids VALUES ('defaults', memory.remember('defaults', importance => NULL, tags => NULL, metadata => NULL));
SELECT is(
    (SELECT (importance, tags, metadata, session_id)::text FROM memory.episodes
     WHERE episode_id = pg_temp.id('defaults')),
    (0.5::real, '{}'::text[], '{}'::jsonb, NULL::text)::text,
    'NULL arguments take their defaults'
);
SELECT lives_ok($$ SELECT memory.remember(repeat('x', 500000)) $$, 'a 500,000-character episode is accepted whole');

-- update_episode
SELECT lives_ok(
    format($$ SELECT memory.update_episode(%L, importance => 0.2, tags => ARRAY['changed']) $$,
           pg_temp.id('e1')),
    'update_episode changes importance and tags'
);
SELECT is(
    (SELECT (content, importance, tags)::text FROM memory.episodes WHERE episode_id = pg_temp.id('e1')),
    ('Decidimos usar PostgreSQL como fuente de verdad.', 0.2::real, ARRAY['changed'])::text,
    'fields not given keep their values'
);
SELECT memory.update_episode(pg_temp.id('e1'), content => 'New text', metadata => '{"v": 2}');
SELECT is(
    (SELECT (content, metadata, encode(content_sha256, 'hex'))::text FROM memory.episodes
     WHERE episode_id = pg_temp.id('e1')),
    ('New text', '{"v": 2}'::jsonb, encode(sha256('New text'::bytea), 'hex'))::text,
    'a new content replaces the old one and its hash; metadata is replaced'
);
SELECT throws_ok(
    format($$ SELECT memory.update_episode(%L, importance => 2) $$, pg_temp.id('e1')),
    '22003', 'importance must be between 0 and 1', 'update_episode refuses an importance out of range'
);
SELECT throws_ok(
    format($$ SELECT memory.update_episode(%L, content => '   ') $$, pg_temp.id('e1')),
    '22023', 'content must not be empty', 'update_episode refuses blank content'
);
SELECT is((SELECT content FROM memory.episodes WHERE episode_id = pg_temp.id('e1')), 'New text',
    'a refused update leaves the episode as it was');
SELECT throws_ok(
    $$ SELECT memory.update_episode(gen_random_uuid(), importance => 0.1) $$,
    'P0002', 'episode not found', 'update_episode of an unknown id raises no_data_found'
);

-- forget_episode
SELECT lives_ok(format($$ SELECT memory.forget_episode(%L) $$, pg_temp.id('e1')),
    'forget_episode deletes an episode');
SELECT is((SELECT count(*) FROM memory.episodes WHERE episode_id = pg_temp.id('e1')), 0::bigint,
    'the forgotten episode is gone');
SELECT throws_ok(format($$ SELECT memory.forget_episode(%L) $$, pg_temp.id('e1')),
    'P0002', 'episode not found', 'forgetting twice raises no_data_found');

-- errors of remember
SELECT throws_ok($$ SELECT memory.remember(NULL) $$, '22023', 'content must not be empty', 'NULL content is refused');
SELECT throws_ok($$ SELECT memory.remember(E' \t\n ') $$, '22023', 'content must not be empty', 'whitespace-only content is refused');
SELECT throws_ok($$ SELECT memory.remember(repeat('x', 500001)) $$, '22001', 'content is too long',
    'content over 500,000 characters is refused, not truncated');
SELECT throws_ok($$ SELECT memory.remember('x', importance => 'NaN') $$, '22003', 'importance must be between 0 and 1',
    'a NaN importance is refused');
SELECT throws_ok($$ SELECT memory.remember('x', occurred_at => 'infinity') $$, '22008', 'occurred_at must be a finite time',
    'an infinite occurred_at is refused');
SELECT throws_ok($$ SELECT memory.remember('x', session_id => '') $$, '22023', 'session_id must not be empty',
    'an empty session_id is refused');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT memory.remember('from a non-agent session') $$, '42501', 'this session is not an agent',
    'a session that is not an agent cannot remember');
SELECT is((SELECT count(*) FROM memory.episodes WHERE content = 'from a non-agent session'), 0::bigint,
    'nothing was stored by the refused call');

SELECT * FROM finish();
ROLLBACK;
