-- The full-text list of search (memory._episode_text_list, memory._fact_text_list,
-- SECURITY DEFINER so that the GIN index serves it): each word of the question weighs
-- ln(1001 / (df + 0.5)), df = how many of the CALLER'S OWN rows hold it (bounded at 1,000;
-- a word in 1,000 rows or more weighs nothing); a row scores the sum of the weights of the
-- words it holds. Other agents' rows change nothing (issue 14 item 4, issue 15 item 1).
BEGIN;
SELECT plan(27);

SELECT tests.make_agents('Alpha', 'Beta', 'Gamma');

-- Alpha: 300 episodes with "ledger", every third also "reconciliation"
SELECT tests.act_as('Alpha');
SELECT count(memory.remember(
    format('entry %s: %s%s', i, repeat('ledger ', 1 + i % 5),
           CASE WHEN i % 3 = 0 THEN 'and the reconciliation ' || repeat('of the month ', i % 4) ELSE 'noted' END),
    0.5))
FROM generate_series(1, 300) AS i;
SELECT results_eq(
    $$ SELECT term::text, round(weight::numeric, 9)
       FROM memory._term_weights(memory._query_terms('Which ledger reconciliation?'), 'episodes') ORDER BY 1 $$,
    $$ VALUES ('''ledg'' | ''ledger''', round(ln(1001 / 300.5)::numeric, 9)),
              ('''reconcili'' | ''reconciliation''', round(ln(1001 / 100.5)::numeric, 9)) $$,
    'each word weighs ln(1001 / (df + 0.5)) with df among Alpha''s own episodes; "which" is a stop word'
);
SELECT results_eq(
    $$ SELECT round(text_score::numeric, 9) FROM memory.search_episodic_memory('ledger reconciliation', k => 3,
           mode => 'text', recency_weight => 0, importance_weight => 0) $$,
    $$ VALUES (round((ln(1001 / 300.5) + ln(1001 / 100.5))::numeric, 9)),
              (round((ln(1001 / 300.5) + ln(1001 / 100.5))::numeric, 9)),
              (round((ln(1001 / 300.5) + ln(1001 / 100.5))::numeric, 9)) $$,
    'text_score is the sum of the weights of the words an episode holds'
);
SELECT ok(
    (SELECT bool_and(content LIKE '%reconciliation%') AND count(*) = 100
     FROM memory.search_episodic_memory('ledger reconciliation', k => 100, mode => 'text')),
    'the 100 episodes holding both words come first'
);

-- Beta: "ledger" in 1,000 episodes: Beta's own stop word, it weighs nothing
SELECT tests.act_as('Beta');
SELECT count(memory.remember(format('entry %s ledger', i), 0.5)) FROM generate_series(1, 1000) AS i;
SELECT count(memory.remember(format('entry %s ledger reconciliation', i), 0.5)) FROM generate_series(1, 5) AS i;
SELECT is(
    (SELECT array_agg(term::text) FROM memory._term_weights(memory._query_terms('ledger reconciliation'), 'episodes')),
    ARRAY['''reconcili'' | ''reconciliation'''],
    'a word in 1,000 or more of the agent''s rows is left out'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('ledger', k => 10, mode => 'text')),
    0::bigint, 'a question of the agent''s own stop words only finds nothing by text'
);

-- facts: the same weights, from the agent's own facts
SELECT tests.act_as('Gamma');
SELECT count(memory.learn_fact('books', format('ledger %s is monthly', i), 0.5)) FROM generate_series(1, 40) AS i;
SELECT count(memory.learn_fact('books', format('ledger %s reconciliation is monthly', i), 0.5))
FROM generate_series(41, 45) AS i;
SELECT ok(
    (SELECT bool_and(statement LIKE '%reconciliation%') AND count(*) = 5
     FROM memory.search_semantic_memory('ledger reconciliation', k => 5, mode => 'text', confidence_weight => 0)),
    'facts: the rarer word ranks first'
);

-- other agents' rows move nothing: Alpha's ranking before and after Delta stores many
-- episodes sharing Alpha's words, and after ANALYZE
SELECT tests.act_as('Alpha');
CREATE TEMP TABLE before_ranks AS
SELECT q.n, m.mode, s.episode_id, s.ord
FROM (VALUES (1, 'ledger reconciliation'), (2, 'month of the ledger'), (3, 'entry 42 noted'),
             (4, 'reconciliation of the month')) AS q (n, query),
     (VALUES ('text'), ('hybrid')) AS m (mode),
     LATERAL (SELECT x.episode_id, row_number() OVER () AS ord
              FROM memory.search_episodic_memory(q.query, k => 20, mode => m.mode) AS x) AS s;
RESET SESSION AUTHORIZATION;
SELECT tests.make_agent('Delta');
SELECT tests.act_as('Delta');
SELECT count(memory.remember(format('ledger reconciliation month entry %s noted', i), 0.5))
FROM generate_series(1, 700) AS i;
RESET SESSION AUTHORIZATION;
ANALYZE memory.episodes;
SELECT tests.act_as('Alpha');
SELECT results_eq(
    $$ SELECT q.n, m.mode, s.episode_id, s.ord
       FROM (VALUES (1, 'ledger reconciliation'), (2, 'month of the ledger'), (3, 'entry 42 noted'),
                    (4, 'reconciliation of the month')) AS q (n, query),
            (VALUES ('text'), ('hybrid')) AS m (mode),
            LATERAL (SELECT x.episode_id, row_number() OVER () AS ord
                     FROM memory.search_episodic_memory(q.query, k => 20, mode => m.mode) AS x) AS s
       ORDER BY 1, 2, 4 $$,
    $$ SELECT n, mode, episode_id, ord FROM before_ranks ORDER BY 1, 2, 4 $$,
    'another agent''s 700 episodes with the same words leave Alpha''s rankings unchanged (ids and order, text and hybrid)'
);
SELECT ok((SELECT count(*) FROM before_ranks) >= 120, 'the rankings compared are not empty');

-- issue 15 item 1: the common-lexeme function is gone and nothing else tells B A's words
RESET SESSION AUTHORIZATION;
SELECT tests.make_agent('Eve');
SELECT tests.act_as('Alpha');
SELECT count(memory.remember('ALICESECRET diary entry ' || g || ' about project nightingale and the zebra-4471 launch'))
FROM generate_series(1, 80) AS g;
RESET SESSION AUTHORIZATION;
ANALYZE memory.episodes;
SELECT tests.act_as('Eve');
SELECT throws_ok($$ SELECT memory._common_lexemes('episodes') $$, '42883', NULL,
    'memory._common_lexemes no longer exists');
SELECT is(
    (SELECT count(*) FROM memory._term_weights(memory._query_terms('alicesecret nightingale zebra-4471 diary'), 'episodes')),
    0::bigint, 'Eve, holding nothing, gets no weight for Alpha''s words'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('alicesecret nightingale zebra diary', mode => 'text')),
    0::bigint, 'Eve''s search finds nothing of Alpha''s'
);

-- neighbour expansion: a strong hit pulls the turns just before and after it in its
-- session (the adjacent ones among the agent's own episodes passing the filters)
RESET SESSION AUTHORIZATION;
SELECT tests.make_agent('Zeta');
SELECT tests.act_as('Zeta');
SELECT memory.remember(x.c, 0.5, occurred_at => '2024-01-01 10:00'::timestamptz + x.i * interval '1 second',
                       session_id => x.s, tags => x.t)
FROM (VALUES (1, 'we met at the harbour', 's1', '{a}'::text[]), (2, 'the walrus sang loudly', 's1', '{a}'),
             (3, 'then it rained all day', 's1', '{b}'), (4, 'an unrelated morning', 's1', '{a}'),
             (5, 'another talk entirely', 's2', '{a}')) AS x (i, c, s, t);
SELECT results_eq(
    $$ SELECT content FROM memory.search_episodic_memory('walrus', k => 5) $$,
    $$ VALUES ('the walrus sang loudly'), ('then it rained all day'), ('we met at the harbour') $$,
    'a text hit pulls in the episodes just before and after it in its session, below it'
);
SELECT results_eq(
    $$ SELECT content FROM memory.search_episodic_memory('walrus', k => 5, tags => '{a}') $$,
    $$ VALUES ('the walrus sang loudly'), ('an unrelated morning'), ('we met at the harbour') $$,
    'with a filter, the neighbours are the adjacent episodes among those that pass it'
);
SELECT results_eq(
    $$ SELECT content FROM memory.search_episodic_memory('walrus', k => 5, neighbour_weight => 0) $$,
    $$ VALUES ('the walrus sang loudly') $$,
    'neighbour_weight 0 turns the expansion off'
);
SELECT results_eq(
    $$ SELECT content FROM memory.search_episodic_memory('walrus', k => 5, mode => 'text') $$,
    $$ VALUES ('the walrus sang loudly') $$,
    'mode text returns the text list alone (the expansion is part of hybrid ranking)'
);
-- a neighbour's own relevance counts (neighbour_own_weight): with a text list of one
-- candidate (the walrus, newer than the harbour at equal weight), the neighbour that holds
-- a word of the question (0.5 * 1 + 0.6 * 1) ranks above the seed (1) and the neighbour
-- holding none (0.5 * 1 + 0)
SELECT results_eq(
    $$ SELECT content, round(text_score::numeric, 6) FROM memory.search_episodic_memory('walrus harbour', k => 5, candidates => 1) $$,
    $$ VALUES ('we met at the harbour', round(ln(1001 / 1.5)::numeric, 6)),
              ('the walrus sang loudly', round(ln(1001 / 1.5)::numeric, 6)),
              ('then it rained all day', NULL) $$,
    'a pulled neighbour that holds a word of the question gains its own relevance, and shows its text_score'
);
SELECT results_eq(
    $$ SELECT content FROM memory.search_episodic_memory('walrus harbour', k => 5, candidates => 1,
                                                         neighbour_own_weight => 0) $$,
    $$ VALUES ('the walrus sang loudly'), ('then it rained all day'), ('we met at the harbour') $$,
    'neighbour_own_weight 0: both neighbours at half the seed''s relevance, newest first'
);
-- the same with vectors (written directly; the query's from the cache): the seed's cosine
-- is 1, the harbour's 1/sqrt(2), the rain's 0; relevance = 0.35 * text / best text +
-- 0.65 * cosine, a neighbour's = 0.5 * the seed's + 0.6 * its own
RESET SESSION AUTHORIZATION;
SELECT tests.make_agent('Omega');
SELECT tests.act_as('Omega');
CREATE TEMP TABLE omega AS
SELECT x.i, memory.remember(x.c, 0.5, occurred_at => '2024-01-01 10:00'::timestamptz + x.i * interval '1 second',
                            session_id => 's1') AS id
FROM (VALUES (1, 'we met at the harbour'), (2, 'the walrus sang loudly'), (3, 'then it rained all day')) AS x (i, c);
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(id, tests.unit_vector(CASE i WHEN 1 THEN ARRAY[1, 2] WHEN 2 THEN ARRAY[1] ELSE ARRAY[3] END))
FROM omega;
SELECT tests.cache_query_vector('walrus harbour', tests.unit_vector(ARRAY[1]));
SELECT tests.act_as('Omega');
SELECT results_eq(
    $$ SELECT content, round(score::numeric, 6), round(vector_score::numeric, 6)
       FROM memory.search_episodic_memory('walrus harbour', k => 5, candidates => 1, recency_weight => 0,
                                          importance_weight => 0) $$,
    $$ VALUES ('the walrus sang loudly', 1.000000, 1.000000),
              ('we met at the harbour', round((0.5 + 0.6 * (0.35 + 0.65 / sqrt(2)))::numeric, 6), round((1 / sqrt(2))::numeric, 6)),
              ('then it rained all day', 0.500000, 0.000000) $$,
    'a pulled neighbour: neighbour_weight times the seed''s relevance plus neighbour_own_weight times its own (text and cosine)'
);
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('walrus', neighbour_own_weight => 1.5) $$, '22023',
    'neighbour_own_weight must be between 0 and 1', 'neighbour_own_weight over 1 is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('walrus', neighbour_own_weight => NULL) $$, '22023',
    'neighbour_own_weight must be between 0 and 1', 'a NULL neighbour_own_weight is refused');

-- the text lists run as the tables' owner: scoped to the session's agent, whatever is asked
SELECT tests.act_as('Beta');
SELECT is(
    (SELECT count(*) FROM memory._episode_text_list(ARRAY['reconciliation'::tsquery], ARRAY[1.0::float8], 10000)),
    5::bigint, 'the episode text list of Beta holds Beta''s 5 matches and none of Alpha''s 100'
);
SELECT is(
    (SELECT count(*) FROM memory._fact_text_list(ARRAY['ledger'::tsquery], 10000, now(), true)),
    0::bigint, 'the fact text list of Beta holds none of Gamma''s facts'
);
SELECT throws_ok($$ SELECT * FROM memory._episode_text_list(ARRAY['ledger'::tsquery], ARRAY[1.0::float8], 0) $$, '22023',
    'lim must be between 1 and 10000', 'a text list of 0 rows is refused');
SELECT throws_ok($$ SELECT * FROM memory._episode_text_list(ARRAY['ledger'::tsquery], ARRAY[1.0::float8, 2.0], 10) $$,
    '22023', 'terms and weights must be arrays of the same length, at most 64',
    'terms and weights of different lengths are refused');
SELECT throws_ok($$ SELECT * FROM memory._shared_episode_text_list(ARRAY['ledger'::tsquery], NULL, 10, NULL, NULL, NULL,
                                                                   NULL, NULL, NULL, NULL) $$,
    '22023', 'terms and weights must be arrays of the same length, at most 64',
    'the shared text list refuses terms without weights');
SELECT throws_ok($$ SELECT * FROM memory._fact_text_list(ARRAY['ledger'::tsquery], 10001, now(), false) $$, '22023',
    'lim must be between 1 and 10000', 'a fact text list over 10,000 rows is refused');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$ SELECT * FROM memory._episode_text_list(ARRAY['ledger'::tsquery], ARRAY[1.0::float8], 10) $$, '42501', NULL,
    'a session that is not an agent gets no text list');

SELECT * FROM finish();
ROLLBACK;
