-- The full-text list of search (memory._episode_text_list, memory._fact_text_list,
-- SECURITY DEFINER so that the GIN index serves it): ts_rank keeps the best 400 matches (10 * candidates),
-- ts_rank_cd orders them. Below 400 matches that is exactly the ts_rank_cd order; above,
-- documents holding every word of the question are not crowded out by documents that
-- repeat one of them (ts_rank_cd alone would put those first).
BEGIN;
SELECT plan(11);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
SELECT tests.make_agent('Gamma');

-- Alpha: 300 matches of varied length and word counts
SELECT tests.act_as('Alpha');
SELECT count(memory.remember(
    format('entry %s: %s%s', i, repeat('ledger ', 1 + i % 5),
           CASE WHEN i % 3 = 0 THEN 'and the reconciliation ' || repeat('of the month ', i % 4) ELSE 'noted' END),
    0.5))
FROM generate_series(1, 300) AS i;
SELECT results_eq(
    $$ SELECT episode_id FROM memory.search_episodic_memory('ledger reconciliation', k => 10, mode => 'text',
                                                           recency_weight => 0, importance_weight => 0) $$,
    $$ SELECT episode_id FROM memory.episodes
       WHERE fts @@ memory._fts_query('ledger reconciliation')
       ORDER BY ts_rank_cd(fts, memory._fts_query('ledger reconciliation'), 1) DESC, episode_id LIMIT 10 $$,
    'with 300 matches the text list is the exact ts_rank_cd order'
);
SELECT results_eq(
    $$ SELECT text_score FROM memory.search_episodic_memory('ledger reconciliation', k => 10, mode => 'text',
                                                           recency_weight => 0, importance_weight => 0) $$,
    $$ SELECT ts_rank_cd(fts, memory._fts_query('ledger reconciliation'), 1)::double precision FROM memory.episodes
       WHERE fts @@ memory._fts_query('ledger reconciliation')
       ORDER BY 1 DESC, episode_id LIMIT 10 $$,
    'text_score is ts_rank_cd'
);

-- Beta: 500 episodes with both words once, 10 that repeat one word twelve times
SELECT tests.act_as('Beta');
SELECT count(memory.remember(format('entry %s ledger reconciliation done', i), 0.5)) FROM generate_series(1, 500) AS i;
SELECT count(memory.remember(format('entry %s', i) || repeat(' ledger', 12), 0.5)) FROM generate_series(501, 510) AS i;
SELECT ok(
    (SELECT bool_and(content NOT LIKE '%reconciliation%')
     FROM (SELECT content FROM memory.episodes
           WHERE fts @@ memory._fts_query('ledger reconciliation')
           ORDER BY ts_rank_cd(fts, memory._fts_query('ledger reconciliation'), 1) DESC LIMIT 10) AS x),
    'control: ts_rank_cd alone puts the ten one-word repeaters first'
);
SELECT ok(
    (SELECT bool_and(content LIKE '%ledger reconciliation%') AND count(*) = 10
     FROM memory.search_episodic_memory('ledger reconciliation', k => 10, mode => 'text',
                                        recency_weight => 0, importance_weight => 0)),
    'with 510 matches the ten results hold both words of the question'
);

-- the same for facts
SELECT tests.act_as('Gamma');
SELECT count(memory.learn_fact('books', format('ledger %s reconciliation is monthly', i), 0.5))
FROM generate_series(1, 500) AS i;
SELECT count(memory.learn_fact('books', format('entry %s', i) || repeat(' ledger', 12), 0.5))
FROM generate_series(501, 510) AS i;
SELECT ok(
    (SELECT bool_and(statement LIKE '%reconciliation%') AND count(*) = 10
     FROM memory.search_semantic_memory('ledger reconciliation', k => 10, mode => 'text', confidence_weight => 0)),
    'facts: with 510 matches the ten results hold both words of the question'
);
SELECT results_eq(
    $$ SELECT fact_id FROM memory.search_semantic_memory('ledger reconciliation', k => 5, mode => 'text',
                                                        confidence_weight => 0) $$,
    $$ SELECT fact_id FROM (
           SELECT fact_id, fts FROM memory.facts WHERE fts @@ memory._fts_query('ledger reconciliation')
           ORDER BY ts_rank(fts, memory._fts_query('ledger reconciliation'), 1) DESC, fact_id LIMIT 400
       ) AS p
       ORDER BY ts_rank_cd(fts, memory._fts_query('ledger reconciliation'), 1) DESC, fact_id LIMIT 5 $$,
    'facts: the text list is the ts_rank_cd order of the best 400 matches by ts_rank'
);

-- the text lists run as the tables' owner: scoped to the session's agent, whatever is asked
SELECT tests.act_as('Beta');
SELECT is(
    (SELECT count(*) FROM memory._episode_text_list('ledger'::tsquery, 10000)),
    510::bigint, 'the episode text list of Beta holds Beta''s 510 matches and none of Alpha''s 300'
);
SELECT is(
    (SELECT count(*) FROM memory._fact_text_list('ledger'::tsquery, 10000, now(), true)),
    0::bigint, 'the fact text list of Beta holds none of Gamma''s facts'
);
SELECT throws_ok($$ SELECT * FROM memory._episode_text_list('ledger'::tsquery, 0) $$, '22023',
    'lim must be between 1 and 10000', 'a text list of 0 rows is refused');
SELECT throws_ok($$ SELECT * FROM memory._fact_text_list('ledger'::tsquery, 10001, now(), false) $$, '22023',
    'lim must be between 1 and 10000', 'a fact text list over 10,000 rows is refused');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT * FROM memory._episode_text_list('ledger'::tsquery, 10) $$, '42501', NULL,
    'a session that is not an agent gets no text list');

SELECT * FROM finish();
ROLLBACK;
