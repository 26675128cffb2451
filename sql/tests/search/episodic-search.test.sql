-- search_episodic_memory(text, ...): modes, filters, fusion, fallback, access stats, errors.
-- Vectors are written directly (tests.put_episode_vector) and the query vector comes
-- from the query cache (tests.cache_query_vector), so no model is needed here; the
-- daemon's own path is tested in python/tests.
BEGIN;
SELECT plan(32);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('raft', memory.remember('We decided to use Raft for consensus between the instances.', 0.9, ARRAY['decision', 'infra'],
                             'cerebro', '2025-10-01 10:00+00', '{}', 'session_1')),
    ('pg', memory.remember('Decidimos usar PostgreSQL como fuente de verdad.', 0.7, ARRAY['decision'],
                           'cerebro', '2025-10-05 10:00+00', '{}', 'session_2')),
    ('hike', memory.remember('The weather was sunny and we went hiking in the mountains.', 0.2, ARRAY['life'],
                             NULL, '2025-09-01 10:00+00', '{}', 'session_1')),
    ('redis', memory.remember('Redis is only a cache; Postgres is the source of truth.', 0.5, ARRAY['infra'],
                              'cerebro', '2025-10-10 10:00+00'));
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(pg_temp.id('raft'), tests.unit_vector(ARRAY[1]));
SELECT tests.put_episode_vector(pg_temp.id('pg'), tests.unit_vector(ARRAY[2]));
SELECT tests.put_episode_vector(pg_temp.id('hike'), tests.unit_vector(ARRAY[3]));
SELECT tests.put_episode_vector(pg_temp.id('redis'), tests.unit_vector(ARRAY[2, 4]));
-- "how do we agree?" means consensus but shares no word with it
SELECT tests.cache_query_vector('how do we agree?', tests.unit_vector(ARRAY[1, 5]));
SELECT tests.cache_query_vector('source of truth', tests.unit_vector(ARRAY[2, 4, 6]));
SELECT tests.act_as('Beta');
SELECT memory.remember('Beta also decided something about consensus, privately.');
SELECT tests.act_as('Alpha');

-- vector mode
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('how do we agree?', k => 1, mode => 'vector')),
    pg_temp.id('raft'),
    'vector mode finds the episode nearest in meaning with no word in common'
);
SELECT ok(
    (SELECT vector_score > 0.7 AND text_score IS NULL
     FROM memory.search_episodic_memory('how do we agree?', k => 1, mode => 'vector')),
    'vector mode returns the cosine similarity and no text score'
);
SELECT is(
    (SELECT matched_chunk FROM memory.search_episodic_memory('how do we agree?', k => 1, mode => 'vector')),
    'We decided to use Raft for consensus between the instances.',
    'matched_chunk is the text of the best chunk'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('how do we agree?', k => 10, mode => 'vector')),
    4::bigint, 'vector mode returns only the agent''s own episodes'
);

-- text mode
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('what did we decide about consensus?', k => 1, mode => 'text')),
    pg_temp.id('raft'),
    'text mode ranks the episode with the question''s words first'
);
SELECT ok(
    (SELECT bool_and(vector_score IS NULL AND text_score > 0)
     FROM memory.search_episodic_memory('what did we decide about consensus?', mode => 'text')),
    'text mode returns text scores and no vector score'
);
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('¿qué fuente de verdad decidimos?', k => 1, mode => 'text')),
    pg_temp.id('pg'),
    'a Spanish question finds the Spanish episode'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('what is the', mode => 'text')),
    0::bigint, 'a question of stop words only finds nothing in text mode, without error'
);

-- hybrid
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('source of truth', k => 1)),
    pg_temp.id('redis'),
    'hybrid ranks first the episode found by both lists'
);
SELECT ok(
    (SELECT vector_score IS NOT NULL AND text_score IS NOT NULL
     FROM memory.search_episodic_memory('source of truth', k => 1)),
    'a hybrid hit found by both lists carries both scores'
);
SELECT ok(
    (SELECT bool_and(score > 0) AND count(*) = 4 FROM memory.search_episodic_memory('source of truth')),
    'hybrid returns the union of both lists'
);

-- filters
SELECT is(
    ARRAY(SELECT episode_id FROM memory.search_episodic_memory('source of truth', tags => ARRAY['infra']) ORDER BY 1),
    ARRAY(SELECT id FROM ids WHERE k IN ('raft', 'redis') ORDER BY 1),
    'the tags filter keeps episodes that have all the tags'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('source of truth', project => 'cerebro')),
    3::bigint, 'the project filter applies'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('source of truth', project => 'no such project')),
    0::bigint, 'an unknown project matches nothing'
);
SELECT is(
    ARRAY(SELECT episode_id FROM memory.search_episodic_memory('source of truth', session_id => 'session_1') ORDER BY 1),
    ARRAY(SELECT id FROM ids WHERE k IN ('raft', 'hike') ORDER BY 1),
    'the session_id filter applies'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('source of truth', since => '2025-10-02', until => '2025-10-07')),
    1::bigint, 'since and until bound occurred_at'
);
SELECT is(
    ARRAY(SELECT episode_id FROM memory.search_episodic_memory('source of truth', min_importance => 0.6) ORDER BY 1),
    ARRAY(SELECT id FROM ids WHERE k IN ('raft', 'pg') ORDER BY 1),
    'min_importance applies'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('how do we agree?', mode => 'vector', tags => ARRAY['life'])),
    1::bigint, 'filters apply in vector mode too'
);

-- weighting
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('source of truth', k => 1, mode => 'vector',
                                                           importance_weight => 0, recency_weight => 0)),
    pg_temp.id('redis'),
    'with no importance weight the most similar episode ranks first'
);
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('source of truth', k => 1, mode => 'vector',
                                                           importance_weight => 0.9, recency_weight => 0)),
    pg_temp.id('raft'),
    'a high importance_weight lifts the most important episode to the top'
);

-- fallback when the daemon cannot embed the query
RESET SESSION AUTHORIZATION;
SELECT tests.daemon_unreachable();
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT episode_id FROM memory.search_episodic_memory('what did we decide about Raft?', k => 1)),
    pg_temp.id('raft'), 'with the daemon unreachable, hybrid search still answers from full text'
);
SELECT ok(
    (SELECT bool_and(vector_score IS NULL) FROM memory.search_episodic_memory('what did we decide about Raft?')),
    'fallback results are marked with vector_score NULL'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('Raft consensus', mode => 'vector', neighbour_weight => 0)),
    1::bigint, 'vector mode falls back to full text too, rather than failing'
);

-- access statistics
RESET SESSION AUTHORIZATION;
DELETE FROM memory.episode_access_log;
SELECT tests.act_as('Alpha');
SELECT count(*) FROM memory.search_episodic_memory('Raft consensus', mode => 'text');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*) FROM memory.episode_access_log), 0::bigint, 'a search writes nothing to the access log');
SELECT tests.act_as('Alpha');
SELECT is(memory.mark_used(ARRAY(SELECT episode_id FROM memory.search_episodic_memory('Raft consensus', mode => 'text',
                                                                                      neighbour_weight => 0))),
    1, 'memory.mark_used logs the episode the caller used');
RESET SESSION AUTHORIZATION;
SELECT cmp_ok(memory.fold_access_stats(), '>=', 1, 'fold_access_stats folds the log into the episodes');
SELECT is((SELECT access_count FROM memory.episodes WHERE episode_id = pg_temp.id('raft')), 1,
    'the returned episode''s access_count went up');

-- errors
SELECT tests.act_as('Alpha');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('x', k => 0) $$, '22023', 'k must be between 1 and 1000',
    'k = 0 is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('x', mode => 'fuzzy') $$, '22023',
    'unknown search mode ''fuzzy''', 'an unknown mode is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('  ') $$, '22023', 'query must not be empty',
    'an empty query is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('x', since => '2025-02-01', until => '2025-01-01') $$,
    '22023', 'since is after until', 'since after until is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('x', min_importance => 2) $$, '22003',
    'min_importance must be between 0 and 1', 'min_importance out of range is refused');

SELECT * FROM finish();
ROLLBACK;
