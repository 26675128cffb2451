-- Consolidation of near-duplicates (memory-consolidation): what is merged and what is
-- not (a paraphrase, another project, another agent), the kept copy and what it gains,
-- search shows one of the group, old ids resolve, forget says what happened, undo puts
-- the episode back exactly and the pair is not merged again, forget_session takes the
-- session's merged copies, isolation, bad input.
BEGIN;
SELECT plan(48);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();
CREATE TEMP TABLE snap (name text PRIMARY KEY, row jsonb);
GRANT ALL ON snap TO PUBLIC;

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('orig', memory.remember('Mañana llevo el coche al taller, hace un ruido raro.', 0.5, ARRAY['coche'],
                             occurred_at => '2026-01-02 10:00+00', metadata => '{"a": 1, "c": 4}', session_id => 's1')),
    ('dup', memory.remember('mañana llevo el coche al taller hace un ruido raro', 0.8, ARRAY['taller'],
                            metadata => '{"a": 2, "b": 3}', session_id => 's2')),
    ('para', memory.remember('El coche hace un ruido extraño, así que mañana lo llevo al mecánico.', 0.5)),
    ('otherproj', memory.remember('Mañana llevo el coche al taller, hace un ruido raro.', 0.5, project => 'p2')),
    ('other', memory.remember('The restore took three hours.', 0.5)),
    ('x1', memory.remember('We met at the café on Friday.', 0.2, session_id => 'sx')),
    ('x2', memory.remember('We met at the cafe on Friday', 0.9, session_id => 'sy'));
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('beta', memory.remember('Mañana llevo el coche al taller, hace un ruido raro.', 0.9));
RESET SESSION AUTHORIZATION;
UPDATE memory.episodes SET access_count = 7, last_accessed_at = '2026-02-01 00:00+00'
WHERE episode_id = pg_temp.id('orig');
INSERT INTO ids SELECT 'alpha', agent_id FROM memory.agents WHERE name = 'Alpha';
INSERT INTO ids SELECT 'beta_agent', agent_id FROM memory.agents WHERE name = 'Beta';
-- same meaning: one vector for the car sentences (the paraphrase and the other project's
-- copy too, so only their text or project keeps them apart), another for the café pair
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[1, 2])) FROM ids
WHERE k IN ('orig', 'dup', 'para', 'otherproj', 'beta');
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[7])) FROM ids WHERE k = 'other';
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[3, 4])) FROM ids WHERE k IN ('x1', 'x2');
INSERT INTO snap SELECT 'orig', to_jsonb(e) FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('orig');

SELECT is(
    (SELECT schedule || ' ' || command || ' ' || username FROM cron.job WHERE jobname = 'memory-consolidation'),
    '*/15 * * * * SELECT memory.run_consolidation() memory_operator',
    'memory-consolidation runs every 15 minutes as memory_operator'
);

-- ---------------------------------------------------------------- the text side
SELECT cmp_ok(memory.text_similarity('Mañana llevo el coche al taller, hace un ruido raro.',
                                     'mañana llevo el coche al taller hace un ruido raro'), '=', 1::real,
              'punctuation and case do not count (Spanish letters included)');
SELECT cmp_ok(memory.text_similarity('Mañana llevo el coche al taller, hace un ruido raro.',
                                     'El coche hace un ruido extraño, así que mañana lo llevo al mecánico.'), '<', 0.6::real,
              'a paraphrase is far in text');
SELECT is(memory.text_similarity('short', repeat('long ', 20)), 0::real, 'lengths far apart are 0');

-- ---------------------------------------------------------------- the job
SELECT is(
    (SELECT row(examined, merged)::text
     FROM memory._consolidation_batch(pg_temp.id('alpha'), 100, 0.95, 0.6)),
    '(0,0)', 'episodes embedded less than an hour ago are left alone (the job''s default min_age)'
);
SELECT is(
    (SELECT merged FROM memory._consolidation_batch(pg_temp.id('alpha'), 100, 0.95, 0.6, '0')),
    2, 'Alpha''s batch merges the two duplicate pairs'
);
SELECT is(
    (SELECT merged FROM memory._consolidation_batch(pg_temp.id('beta_agent'), 100, 0.95, 0.6, '0')),
    0, 'Beta''s copy of the same text and vector is merged with nothing'
);
CREATE TEMP TABLE cids AS SELECT n.k AS name, c.consolidation_id AS id
FROM memory.consolidations AS c INNER JOIN ids AS n ON n.id = c.merged_id;
GRANT ALL ON cids TO PUBLIC;
SELECT is(
    (SELECT array_agg(n.k ORDER BY n.k) FROM memory.consolidations AS c INNER JOIN ids AS n ON n.id = c.merged_id
     WHERE c.agent_id = pg_temp.id('alpha')),
    ARRAY['orig', 'x1'], 'the less important copies were merged'
);
SELECT is(
    (SELECT count(*) FROM memory.episodes WHERE episode_id IN (SELECT id FROM ids WHERE k IN ('para', 'otherproj', 'other', 'beta', 'dup', 'x2'))),
    6::bigint, 'the paraphrase, the other project''s copy, the unrelated one, Beta''s and the kept ones stay'
);
SELECT is(
    (SELECT count(*) FROM memory.episodes WHERE episode_id IN (SELECT id FROM ids WHERE k IN ('orig', 'x1'))),
    0::bigint, 'the merged episodes are no longer episodes'
);
SELECT is(
    (SELECT count(*) FROM memory.chunks WHERE episode_id IN (SELECT id FROM ids WHERE k IN ('orig', 'x1'))),
    0::bigint, 'nor have chunks'
);
SELECT is(
    (SELECT e.tags FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('dup')),
    ARRAY['taller', 'coche'], 'the kept copy gains the merged one''s tags'
);
SELECT is(
    (SELECT e.metadata FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('dup')),
    '{"a": 2, "b": 3, "c": 4}'::jsonb, 'and its metadata keys, the kept values winning'
);
SELECT is(
    (SELECT row(c.added_tags, c.added_metadata, c.kept_importance_before, c.kept_importance_after)::text
     FROM memory.consolidations AS c WHERE c.merged_id = pg_temp.id('orig')),
    row(ARRAY['coche'], '{"c": 4}'::jsonb, 0.8::real, 0.8::real)::text,
    'the consolidation records what the merge added'
);
SELECT is(
    (SELECT c.merged_episode ->> 'content' FROM memory.consolidations AS c
     WHERE c.merged_id = pg_temp.id('orig')),
    'Mañana llevo el coche al taller, hace un ruido raro.', 'and keeps the merged episode''s row'
);
SELECT is(
    (SELECT merged FROM memory._consolidation_batch(pg_temp.id('alpha'), 100, 0.95, 0.6, '0')),
    0, 'a second batch finds nothing new (the cursor moved on)'
);

-- ---------------------------------------------------------------- what the agent sees
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT array_agg(n.k ORDER BY n.k) FROM memory.search_episodic_memory('coche taller ruido', 10, 'text') AS s
     INNER JOIN ids AS n ON n.id = s.episode_id WHERE n.k IN ('orig', 'dup')),
    ARRAY['dup'], 'search shows one copy of the group'
);
SELECT is(memory.resolve_episode(pg_temp.id('orig')), pg_temp.id('dup'),
          'a merged id resolves to the kept episode');
SELECT is(memory.resolve_episode(pg_temp.id('dup')), pg_temp.id('dup'),
          'an episode resolves to itself');
SELECT throws_ok(
    format('SELECT memory.forget_episode(%L)', pg_temp.id('orig')),
    'P0002', 'episode was merged into another by consolidation', 'forget by a merged id says what happened'
);
SELECT throws_ok(
    format('SELECT memory.update_episode(%L, importance => 0.1)', pg_temp.id('orig')),
    'P0002', 'episode was merged into another by consolidation', 'so does update'
);
SELECT is((SELECT count(*) FROM memory.consolidations), 2::bigint, 'Alpha reads its two consolidations');
SELECT is(
    (SELECT l.kept_id::text || ' ' || l.merged_content FROM memory.list_consolidations() AS l
     WHERE l.merged_id = pg_temp.id('orig')),
    (SELECT pg_temp.id('dup')::text || ' ' || (row ->> 'content') FROM snap WHERE name = 'orig'),
    'list_consolidations shows the merge: the kept id and the merged copy''s text'
);
SELECT is((SELECT count(*) FROM memory.list_consolidations(k => 1)), 1::bigint, 'k limits the list');
SELECT throws_ok($$ SELECT * FROM memory.list_consolidations(k => 1001) $$, '22023', 'k must be between 1 and 1000',
                 'list_consolidations refuses k 1001');

-- ---------------------------------------------------------------- isolation
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.consolidations), 0::bigint, 'Beta sees none of Alpha''s consolidations');
SELECT is((SELECT count(*) FROM memory.list_consolidations(1000)), 0::bigint, 'nor through list_consolidations');
SELECT is(memory.resolve_episode(pg_temp.id('orig')), NULL::uuid,
          'Alpha''s merged id resolves to nothing for Beta');
SELECT throws_ok(
    format('SELECT memory.undo_consolidation(%s)', (SELECT id FROM cids WHERE name = 'orig')),
    'P0002', 'consolidation not found', 'Beta cannot undo Alpha''s merge (same error as a missing one)'
);
SELECT throws_ok(
    format('SELECT memory.forget_episode(%L)', pg_temp.id('orig')),
    'P0002', 'episode not found', 'forget of Alpha''s merged id tells Beta nothing about it'
);

-- ---------------------------------------------------------------- undo
SELECT tests.act_as('Alpha');
SELECT is(
    memory.undo_consolidation((SELECT consolidation_id FROM memory.consolidations
                               WHERE merged_id = pg_temp.id('orig'))),
    pg_temp.id('orig'), 'undo returns the restored id'
);
SELECT is(
    (SELECT to_jsonb(e) FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('orig')),
    (SELECT row FROM snap WHERE name = 'orig'), 'the merged episode is back exactly as it was, every column'
);
SELECT is(
    (SELECT row(e.tags, e.metadata, e.importance)::text FROM memory.episodes AS e
     WHERE e.episode_id = pg_temp.id('dup')),
    row(ARRAY['taller'], '{"a": 2, "b": 3}'::jsonb, 0.8::real)::text, 'the kept one loses what the merge gave it'
);
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs WHERE episode_id = pg_temp.id('orig')
       AND state = 'pending'),
    1::bigint, 'the restored episode is queued for embedding'
);
SELECT throws_ok(
    format('SELECT memory.undo_consolidation(%s)',
           (SELECT consolidation_id FROM memory.consolidations WHERE merged_id = pg_temp.id('orig'))),
    '55000', 'consolidation already undone', 'a second undo is refused'
);
SELECT is(
    (SELECT l.undone_at IS NOT NULL AND l.merged_content IS NULL FROM memory.list_consolidations() AS l
     WHERE l.merged_id = pg_temp.id('orig')),
    true, 'list_consolidations shows the undone merge with undone_at and no copy'
);
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[1, 2])) FROM ids WHERE k = 'orig';
SELECT is(
    (SELECT merged FROM memory._consolidation_batch(pg_temp.id('alpha'), 100, 0.95, 0.6, '0')),
    0, 'an undone pair is not merged again'
);

-- ---------------------------------------------------------------- forget_session takes merged copies
SELECT tests.act_as('Alpha');
SELECT is(memory.forget_session('sx'), 0, 'forget_session of the merged copy''s session (no episode left in it)');
SELECT is(
    (SELECT count(*) FROM memory.consolidations WHERE merged_id = pg_temp.id('x1')),
    0::bigint, 'removes the merged copy of that session'
);
SELECT is(memory.resolve_episode(pg_temp.id('x1')), NULL::uuid, 'whose id now resolves to nothing');

-- ---------------------------------------------------------------- bad input
SELECT throws_ok('SELECT memory.undo_consolidation(NULL)', '22023', 'consolidation_id must not be NULL',
                 'undo of NULL');
SELECT throws_ok('SELECT memory.undo_consolidation(-1)', 'P0002', 'consolidation not found', 'undo of no such id');
SELECT throws_ok('SELECT memory.resolve_episode(NULL)', '22023', 'episode_id must not be NULL', 'resolve of NULL');
RESET SESSION AUTHORIZATION;
SELECT throws_ok('SELECT memory.run_consolidation(batch_rows => 0)', '22023', 'batch_rows must be between 1 and 10000',
                 'run_consolidation with batch_rows 0');
SELECT throws_ok('SELECT memory.run_consolidation(min_cosine => 2)', '22023',
                 'min_cosine must be between 0.5 and 1, min_text between 0.3 and 1', 'a cosine threshold over 1');
SELECT throws_ok($$SELECT memory.run_consolidation(min_age => '-1 second')$$, '22023',
                 'min_age must be a finite interval of 0 or more', 'a negative min_age');
SELECT throws_ok('SELECT memory.undo_consolidation(1)', '42501', NULL, 'undo needs an agent');
SELECT throws_ok('SELECT * FROM memory.list_consolidations()', '42501', NULL, 'list_consolidations needs an agent');

SELECT * FROM finish();
ROLLBACK;
