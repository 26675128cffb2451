-- search_semantic_memory (as-of behaviour of facts) and build_context (budget).
BEGIN;
SELECT plan(21);

SELECT tests.make_agent('Alpha');
SELECT tests.make_id_table();
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('old', memory.learn_fact('api', 'The API is a FastAPI service in Python.', 0.6,
                                                  valid_from => '2025-10-01 00:00+00'));
INSERT INTO ids VALUES ('new', memory.learn_fact('api', 'The API is SQL functions inside PostgreSQL.', 0.9,
                                                  valid_from => '2025-11-01 00:00+00',
                                                  supersedes => ARRAY[pg_temp.id('old')]));
INSERT INTO ids VALUES ('later', memory.learn_fact('api', 'The API will get a GraphQL layer.', 0.3,
                                                    valid_from => now() + interval '30 days'));

SELECT is(
    ARRAY(SELECT fact_id FROM memory.search_semantic_memory('what is the API?', mode => 'text')),
    ARRAY[pg_temp.id('new')],
    'by default only facts valid now are returned'
);
SELECT is(
    ARRAY(SELECT fact_id FROM memory.search_semantic_memory('what is the API?', as_of => '2025-10-15', mode => 'text')),
    ARRAY[pg_temp.id('old')],
    'as_of inside the superseded fact''s validity returns it and not its successor'
);
SELECT is(
    ARRAY(SELECT fact_id FROM memory.search_semantic_memory('what is the API?', as_of => '2025-11-01', mode => 'text')),
    ARRAY[pg_temp.id('new')],
    'at the moment of supersession the new fact holds (valid_to is exclusive)'
);
SELECT is(
    ARRAY(SELECT fact_id FROM memory.search_semantic_memory('what is the API?', as_of => '2025-09-01', mode => 'text')),
    '{}'::uuid[],
    'before any fact was valid nothing is returned'
);
SELECT is(
    (SELECT count(*) FROM memory.search_semantic_memory('what is the API?', include_invalid => true, mode => 'text')),
    3::bigint,
    'include_invalid returns superseded and future facts too'
);
SELECT is(
    (SELECT valid_to FROM memory.search_semantic_memory('what is the API?', as_of => '2025-10-15', mode => 'text')),
    '2025-11-01 00:00+00'::timestamptz,
    'results carry their validity interval'
);
RESET SESSION AUTHORIZATION;
SELECT tests.put_fact_vector(pg_temp.id('new'), tests.unit_vector(ARRAY[7]));
SELECT tests.cache_query_vector('how do clients talk to the memory?', tests.unit_vector(ARRAY[7, 8]));
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT fact_id FROM memory.search_semantic_memory('how do clients talk to the memory?', mode => 'vector')),
    pg_temp.id('new'),
    'vector mode finds a fact by meaning'
);
SELECT throws_ok($$ SELECT * FROM memory.search_semantic_memory('x', as_of => 'infinity') $$, '22008',
    'as_of must be a finite time', 'an infinite as_of is refused');
SELECT throws_ok($$ SELECT * FROM memory.search_semantic_memory('x', k => 5000) $$, '22023',
    'k must be between 1 and 1000', 'k out of range is refused');

-- build_context
SELECT memory.set_block('persona', 'Technical implementer; builds things that really work.');
SELECT memory.set_block('aria', 'Digital sister; brain-to-brain collaboration.');
SELECT memory.set_working_memory('task', jsonb_build_object('n', n), priority => CASE WHEN n = 1 THEN 'critical' ELSE 'low' END)
FROM generate_series(1, 9) AS n;
SELECT memory.remember('We decided the API is SQL: search_episodic_memory from psql.');
SELECT memory.remember(repeat('A very long episode about the API. ', 200));

CREATE TEMP TABLE ctx ON COMMIT DROP AS SELECT memory.build_context('what is the API?', 2000) AS c;
SELECT is((SELECT jsonb_object_keys(c) FROM ctx ORDER BY 1 LIMIT 1), 'blocks', 'the context has a blocks key');
SELECT ok((SELECT c ?& ARRAY['blocks', 'working_memory', 'episodes', 'facts', 'token_estimate'] FROM ctx),
    'the context has the keys of the contract');
SELECT is((SELECT jsonb_array_length(c -> 'blocks') FROM ctx), 2, 'core blocks come first and whole');
SELECT is((SELECT jsonb_array_length(c -> 'working_memory') FROM ctx), 7, 'at most 7 working-memory items');
SELECT is((SELECT c -> 'working_memory' -> 0 -> 'priority' FROM ctx), '"critical"'::jsonb,
    'the most important working-memory item comes first');
SELECT ok((SELECT jsonb_array_length(c -> 'episodes') >= 1 AND jsonb_array_length(c -> 'facts') >= 1 FROM ctx),
    'episodes and facts relevant to the query are included');
SELECT ok((SELECT (c ->> 'token_estimate')::integer <= 2000 FROM ctx), 'the estimate stays within the budget');

SELECT ok(
    (SELECT bool_and((memory.build_context('what is the API?', b) ->> 'token_estimate')::integer <= b)
     FROM unnest(ARRAY[30, 50, 100, 300, 700, 1500]) AS b),
    'every budget is respected'
);
SELECT ok(
    (SELECT bool_and(ceil(char_length(memory.build_context_text('what is the API?', b)) / 4.0) <= b)
     FROM unnest(ARRAY[50, 100, 300, 700, 1500]) AS b),
    'the rendered text stays within the budget too'
);
SELECT ok(
    (SELECT (c -> 'omitted' ->> 'episodes')::integer >= 1 FROM (SELECT memory.build_context('what is the API?', 400) AS c) AS x),
    'an item that does not fit is left out whole and counted in omitted'
);
SELECT ok(
    (SELECT memory.build_context_text('what is the API?', 2000) LIKE '## Core memory%'),
    'the text rendering starts with the core memory'
);
SELECT throws_ok($$ SELECT memory.build_context('x', 0) $$, '22023', 'token_budget must be between 1 and 1,000,000',
    'a zero budget is refused');

SELECT * FROM finish();
ROLLBACK;
