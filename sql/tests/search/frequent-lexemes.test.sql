-- Each large agent's frequent lexemes (migration 036, memory.refresh_frequent_lexemes):
-- the job records the words in 1,000 or more of an agent's own rows; the search's word
-- weights skip them without counting and are the same as when it counted them; another
-- agent's list changes nothing of an agent's weights; the job counts an agent again only
-- when its rows changed; bad arguments and agents are refused.
BEGIN;
SELECT plan(11);

SELECT tests.make_agent('Many');
SELECT tests.make_agent('Few');
SELECT tests.act_as('Many');
-- 1,000 episodes hold "harbour"; 5 of them also "lighthouse"
SELECT memory.remember(format('harbour note %s%s', i, CASE WHEN i <= 5 THEN ' with the lighthouse' ELSE '' END))
FROM generate_series(1, 1000) AS i;
CREATE TEMP TABLE w (step text, term text, weight double precision) ON COMMIT DROP;
GRANT ALL ON w TO PUBLIC;
INSERT INTO pg_temp.w SELECT 'counted', x.term::text, x.weight
FROM memory._term_weights(memory._query_terms('harbour lighthouse'), 'episodes') AS x;
SELECT tests.act_as('Few');
SELECT memory.remember('the harbour at dawn');
SELECT memory.remember('a lighthouse in the fog');
INSERT INTO pg_temp.w SELECT 'few before', x.term::text, x.weight
FROM memory._term_weights(memory._query_terms('harbour lighthouse'), 'episodes') AS x;
RESET SESSION AUTHORIZATION;

SELECT is((SELECT count(*) FROM pg_temp.w WHERE step = 'counted'), 1::bigint,
          'counted: "harbour" (in 1,000 rows) weighs nothing, "lighthouse" (in 5) weighs');

-- every agent due (other suites' too), so that the second call below has none left
SELECT cmp_ok(memory.refresh_frequent_lexemes(10000), '>=', 1, 'the job counts the agents of 1,000 rows or more');
SELECT ok(
    (SELECT f.lexemes @@ 'harbour'::tsquery AND NOT f.lexemes @@ 'lighthous'::tsquery AND f.rows_counted = 1000
     FROM memory.agent_frequent_lexemes AS f INNER JOIN memory.agents AS a USING (agent_id)
     WHERE a.name = 'Many' AND f.source = 'episodes'),
    'the Many agent''s frequent lexemes hold "harbour", not "lighthouse", counted over its 1,000 rows'
);
SELECT is(
    (SELECT count(*) FROM memory.agent_frequent_lexemes AS f INNER JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'Few'),
    0::bigint, 'an agent of 2 rows has no row'
);

SELECT tests.act_as('Many');
INSERT INTO pg_temp.w SELECT 'skipped', x.term::text, x.weight
FROM memory._term_weights(memory._query_terms('harbour lighthouse'), 'episodes') AS x;
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT array_agg(term || '=' || weight ORDER BY term) FROM pg_temp.w WHERE step = 'skipped'),
    (SELECT array_agg(term || '=' || weight ORDER BY term) FROM pg_temp.w WHERE step = 'counted'),
    'with the frequent word skipped, the weights are exactly those counted'
);
-- the list is what is read: a word put in it weighs nothing
UPDATE memory.agent_frequent_lexemes AS f SET lexemes = f.lexemes || 'lighthous'::tsvector
FROM memory.agents AS a WHERE a.agent_id = f.agent_id AND a.name = 'Many';
SELECT tests.act_as('Many');
SELECT is((SELECT count(*) FROM memory._term_weights(memory._query_terms('harbour lighthouse'), 'episodes')), 0::bigint,
          'a word in the agent''s list is left out uncounted');
-- another agent's list changes nothing: the Few agent still weighs both words
SELECT tests.act_as('Few');
SELECT is(
    (SELECT array_agg(x.term::text || '=' || x.weight ORDER BY x.term::text)
     FROM memory._term_weights(memory._query_terms('harbour lighthouse'), 'episodes') AS x),
    (SELECT array_agg(term || '=' || weight ORDER BY term) FROM pg_temp.w WHERE step = 'few before'),
    'the Few agent''s weights do not move with the Many agent''s list'
);
SELECT throws_ok($$SELECT * FROM memory.agent_frequent_lexemes$$, '42501', NULL, 'an agent cannot read the lists');
SELECT throws_ok($$SELECT memory.refresh_frequent_lexemes()$$, '42501', NULL, 'nor run the job');
RESET SESSION AUTHORIZATION;

SELECT is(memory.refresh_frequent_lexemes(), 0, 'an agent whose rows did not change is not counted again');
SELECT throws_ok($$SELECT memory.refresh_frequent_lexemes(0)$$, '22023', 'max_agents must be between 1 and 10000',
                 'max_agents 0 is refused');

SELECT * FROM finish();
ROLLBACK;
