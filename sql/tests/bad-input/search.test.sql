-- Bad input to search, context and query embeddings (search_episodic_memory by text and
-- by vector, search_semantic_memory, build_context, embed_query). Each call must fail
-- with the SQLSTATE and message its RAISE documents, before any work is done (no query
-- is embedded, nothing is logged), and leave everything the agent has stored as it was.
BEGIN;
SELECT plan(47);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
INSERT INTO ids VALUES ('episode', memory.remember('the launch was delayed by rain'));
SELECT memory.learn_fact('launch', 'the launch is on Friday');
RESET SESSION AUTHORIZATION;
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- search_episodic_memory(text, ...)
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('', mode => 'text')$$, '22023', 'query must not be empty',
    'search_episodic_memory: empty query');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory(NULL::text, mode => 'text')$$, '22023', 'query must not be empty',
    'search_episodic_memory: NULL query');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory(E' \n ', mode => 'text')$$, '22023', 'query must not be empty',
    'search_episodic_memory: whitespace-only query');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory(repeat('q', 10001), mode => 'text')$$, '22001', 'query is too long',
    'search_episodic_memory: a query of 10,001 characters');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', 0, 'text')$$, '22023', 'k must be between 1 and 1000',
    'search_episodic_memory: k 0');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', 1001, 'text')$$, '22023', 'k must be between 1 and 1000',
    'search_episodic_memory: k 1001');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', NULL, 'text')$$, '22023', 'k must be between 1 and 1000',
    'search_episodic_memory: NULL k');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'fuzzy')$$, '22023', 'unknown search mode ''fuzzy''',
    'search_episodic_memory: unknown mode');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', tags => ARRAY[['a'], ['b']])$$, '22023',
    'tags must be a one-dimensional array', 'search_episodic_memory: a 2-D tags filter');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', tags => ARRAY['a', NULL])$$, '22023',
    'each tag must have 1 to 100 characters', 'search_episodic_memory: NULL inside the tags filter');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', since => '2025-01-02', until => '2025-01-01')$$,
    '22023', 'since is after until', 'search_episodic_memory: since after until');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', min_importance => 1.5)$$, '22003',
    'min_importance must be between 0 and 1', 'search_episodic_memory: min_importance 1.5');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', recency_weight => 0.8, importance_weight => 0.5)$$,
    '22023', 'recency_weight and importance_weight must be >= 0 with a sum of at most 1',
    'search_episodic_memory: weights summing to more than 1');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', recency_half_life => '0')$$, '22023',
    'recency_half_life must be positive', 'search_episodic_memory: a zero recency half-life');

-- ---------------------------------------------------------------- search_episodic_memory(vector, ...)
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory(NULL::public.vector)$$, '22023', 'query_embedding must not be NULL',
    'search_episodic_memory(vector): a NULL vector');
SELECT throws_ok(
    $$SELECT * FROM memory.search_episodic_memory('[1, 2, 3]'::public.vector)$$,
    '22023',
    (SELECT format('query_embedding has 3 dimensions, the serving model %s has %s', m.name, m.dimensions)
     FROM memory.embedding_models AS m WHERE m.is_serving),
    'search_episodic_memory(vector): a vector of the wrong dimension'
);
SELECT throws_ok(
    $$SELECT * FROM memory.search_episodic_memory(array_fill(0.1::real, ARRAY[384])::public.vector, 0)$$,
    '22023', 'limit_results must be between 1 and 1000', 'search_episodic_memory(vector): limit_results 0'
);
SELECT throws_ok(
    $$SELECT * FROM memory.search_episodic_memory(array_fill(0.1::real, ARRAY[384])::public.vector, 10, 2)$$,
    '22023', 'similarity_threshold must be between -1 and 1', 'search_episodic_memory(vector): similarity_threshold 2'
);

-- ---------------------------------------------------------------- search_semantic_memory
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('launch', as_of => 'infinity', mode => 'text')$$, '22008',
    'as_of must be a finite time', 'search_semantic_memory: as_of infinity');
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('', mode => 'text')$$, '22023', 'query must not be empty',
    'search_semantic_memory: empty query');
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('launch', 0, mode => 'text')$$, '22023', 'k must be between 1 and 1000',
    'search_semantic_memory: k 0');
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('launch', mode => 'exact')$$, '22023', 'unknown search mode ''exact''',
    'search_semantic_memory: unknown mode');
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('launch', mode => 'text', confidence_weight => 2)$$, '22023',
    'confidence_weight must be between 0 and 1', 'search_semantic_memory: confidence_weight 2');

-- ---------------------------------------------------------------- build_context, embed_query
SELECT throws_ok($$SELECT memory.build_context('launch', 0)$$, '22023', 'token_budget must be between 1 and 1,000,000',
    'build_context: token_budget 0');
SELECT throws_ok($$SELECT memory.build_context('launch', NULL)$$, '22023', 'token_budget must be between 1 and 1,000,000',
    'build_context: NULL token_budget');
SELECT throws_ok($$SELECT memory.build_context('launch', 1000001)$$, '22023', 'token_budget must be between 1 and 1,000,000',
    'build_context: token_budget 1,000,001');
SELECT throws_ok($$SELECT memory.build_context('launch', 2000, 101)$$, '22023',
    'max_working_items must be 0..100 and candidates 1..200', 'build_context: 101 working-memory items');
SELECT throws_ok($$SELECT memory.embed_query('')$$, '22023', 'query must not be empty', 'embed_query: empty query');
SELECT throws_ok($$SELECT memory.embed_query(repeat('q', 100001))$$, '22001', 'query is too long',
    'embed_query: a query of 100,001 characters');
SELECT throws_ok($$SELECT memory.embed_query('launch', 'no-such-model')$$, '42704', 'embedding model no-such-model does not exist',
    'embed_query: an unknown model');

-- ---------------------------------------------------------------- not an agent
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text')$$, '42501', 'this session is not an agent',
    'search_episodic_memory: a session that is not an agent');
SELECT throws_ok($$SELECT * FROM memory.search_semantic_memory('launch', mode => 'text')$$, '42501', 'this session is not an agent',
    'search_semantic_memory: a session that is not an agent');
SELECT throws_ok($$SELECT memory.build_context('launch')$$, '42501', 'this session is not an agent',
    'build_context: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused searches nothing of Alpha''s changed (no access logged)');

-- ---------------------------------------------------------------- and the valid calls work
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT s.episode_id FROM memory.search_episodic_memory('rain', 1, 'text') AS s),
    pg_temp.id('episode'),
    'search_episodic_memory (text) with valid arguments finds the episode'
);
SELECT is(
    (SELECT count(*) FROM memory.search_semantic_memory('launch Friday', 1000, mode => 'text')),
    1::bigint,
    'search_semantic_memory (text) with k 1000 finds the fact'
);

-- ---------------------------------------------------------------- found by the property-based suite
-- (python/tests/test_bad_input_properties.py)
-- A score term that underflows is an error in PostgreSQL: an episode more than 1,000
-- half-lives old, or a weight of 1e-300 times an importance of 1e-45, made every search
-- of the agent fail with 22003.
SELECT memory.remember('rain on the first day of 1900', 1e-45, occurred_at => '1900-01-01');
SELECT memory.remember('the first rain on record', occurred_at => '4713-11-24 00:00:00+00 BC');
SELECT memory.learn_fact('drizzle', 'drizzle is light rain', 1e-40);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('rain', 10, 'text')), 3::bigint,
    'search_episodic_memory: episodes from 1900 and 4713 BC are found with the default weights'
);
SELECT lives_ok(
    $$SELECT * FROM memory.search_episodic_memory('rain', mode => 'text', recency_weight => 5e-324, importance_weight => 1e-300,
                                                  recency_half_life => '1 microsecond')$$,
    'search_episodic_memory: subnormal weights and a half-life of 1 microsecond'
);
SELECT lives_ok($$SELECT * FROM memory.search_semantic_memory('drizzle rain', mode => 'text', confidence_weight => 5e-324)$$,
    'search_semantic_memory: a subnormal confidence_weight with a confidence of 1e-40');
SELECT lives_ok($$SELECT memory.build_context('rain')$$, 'build_context: the same episodes and facts');
-- A word of 2,047 bytes or more makes a tsquery fail (54000); it is never indexed either.
SELECT is((SELECT count(*) FROM memory.search_episodic_memory(repeat('x', 9999), mode => 'text')), 0::bigint,
    'search_episodic_memory: a query of one 9,999-character word finds nothing and raises nothing');
SELECT is((SELECT count(*) FROM memory.search_semantic_memory(repeat('x', 3000) || ' drizzle', mode => 'text')), 1::bigint,
    'search_semantic_memory: a 3,000-character word is left out of the query, the other words still match');
-- A zero vector has no direction (its cosine similarity is NaN, above every threshold).
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory(array_fill(0::real, ARRAY[384])::public.vector)$$, '22023',
    'query_embedding must not be a zero vector', 'search_episodic_memory(vector): a zero vector');
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(pg_temp.id('episode'), tests.unit_vector(ARRAY[1]));
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory(('[0,1e-45' || repeat(',0', 382) || ']')::public.vector, 10, -1)),
    0::bigint,
    'search_episodic_memory(vector): a vector too small for single precision (similarity NaN) matches nothing'
);
SELECT throws_ok($$SELECT memory.build_context(repeat('q', 10001))$$, '22001', 'query is too long',
    'build_context: a query of 10,001 characters (documented now)');
SELECT throws_ok($$SELECT * FROM memory.chunk_text('a b c', 2000000000, 1500000000)$$, '22023',
    'overlap_tokens must be between 0 and half of chunk_tokens', 'chunk_text: an overlap whose double overflows an integer');
SELECT throws_ok($$SELECT memory.render_context('{"blocks": "x"}')$$, '22023', 'context section blocks must be a JSON array',
    'render_context: a section that is not an array');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
