-- learn_fact, invalidate_fact, link_facts: bi-temporal facts, supersession, links.
BEGIN;
SELECT plan(26);

SELECT tests.make_agent('Alpha');
SELECT tests.act_as('Alpha');
SELECT tests.make_id_table();

INSERT INTO ids VALUES ('ep', memory.remember('Ricardo said the API is SQL now.'));
INSERT INTO ids VALUES ('f1', memory.learn_fact(
    'api', 'The API is a FastAPI service.', 0.6, ARRAY[pg_temp.id('ep')],
    valid_from => '2025-10-01 00:00+00'));
SELECT is(
    (SELECT (concept, statement, confidence, source_episodes, valid_from, valid_to)::text
     FROM memory.facts WHERE fact_id = pg_temp.id('f1')),
    ('api', 'The API is a FastAPI service.', 0.6::real, ARRAY[pg_temp.id('ep')],
     '2025-10-01 00:00+00'::timestamptz, NULL::timestamptz)::text,
    'learn_fact stores concept, statement, confidence, sources and validity'
);
SELECT ok((SELECT recorded_at IS NOT NULL AND invalidated_at IS NULL FROM memory.facts
           WHERE fact_id = pg_temp.id('f1')), 'a new fact is recorded and not invalidated');

INSERT INTO ids VALUES ('f2', memory.learn_fact(
    'api', 'The API is SQL functions in PostgreSQL.', 0.95,
    valid_from => '2025-11-01 00:00+00', supersedes => ARRAY[pg_temp.id('f1')]));
SELECT is(
    (SELECT (valid_to, superseded_by)::text FROM memory.facts WHERE fact_id = pg_temp.id('f1')),
    ('2025-11-01 00:00+00'::timestamptz, pg_temp.id('f2'))::text,
    'a superseded fact is closed at the new fact''s valid_from and points to it'
);
SELECT ok((SELECT invalidated_at IS NOT NULL FROM memory.facts WHERE fact_id = pg_temp.id('f1')),
    'a superseded fact is marked invalidated in system time');
SELECT is((SELECT count(*) FROM memory.facts), 2::bigint, 'the superseded fact is kept, not deleted');
SELECT throws_ok(
    format($$ SELECT memory.learn_fact('api', 'again', supersedes => ARRAY[%L::uuid]) $$, pg_temp.id('f1')),
    '55000', 'fact is already closed', 'a closed fact cannot be superseded again'
);
SELECT throws_ok(
    format($$ SELECT memory.learn_fact('api', 'older', valid_from => '2025-01-01', supersedes => ARRAY[%L::uuid]) $$,
           pg_temp.id('f2')),
    '22023', 'a fact cannot supersede one that starts later', 'a superseding fact cannot start before the one it replaces'
);
SELECT is((SELECT valid_to FROM memory.facts WHERE fact_id = pg_temp.id('f2')), NULL,
    'a refused supersession leaves the fact open');

-- append-only
SELECT throws_ok(
    format($$ UPDATE memory.facts SET statement = 'rewritten' WHERE fact_id = %L $$, pg_temp.id('f2')),
    '55000', 'facts are append-only', 'an agent cannot rewrite a fact''s statement directly'
);
SELECT throws_ok(
    format($$ UPDATE memory.facts SET valid_to = NULL WHERE fact_id = %L $$, pg_temp.id('f1')),
    '55000', 'a closed fact cannot be reopened or moved', 'an agent cannot reopen a closed fact'
);
SELECT throws_ok(
    format($$ DELETE FROM memory.facts WHERE fact_id = %L $$, pg_temp.id('f1')),
    '42501', NULL, 'an agent cannot delete a fact'
);

-- invalidate_fact
INSERT INTO ids VALUES ('f3', memory.learn_fact('weather', 'It rains.', valid_from => '2025-11-10 00:00+00'));
SELECT throws_ok(
    format($$ SELECT memory.invalidate_fact(%L, '2025-11-09 00:00+00') $$, pg_temp.id('f3')),
    '22023', 'valid_to is before the fact''s valid_from', 'valid_to before valid_from is refused'
);
SELECT lives_ok(
    format($$ SELECT memory.invalidate_fact(%L, '2025-11-11 00:00+00') $$, pg_temp.id('f3')),
    'invalidate_fact closes an open fact'
);
SELECT is((SELECT valid_to FROM memory.facts WHERE fact_id = pg_temp.id('f3')),
    '2025-11-11 00:00+00'::timestamptz, 'the closed fact ends at valid_to');
SELECT throws_ok(
    format($$ SELECT memory.invalidate_fact(%L) $$, pg_temp.id('f3')),
    '55000', 'fact is already closed', 'a closed fact cannot be invalidated again'
);
SELECT throws_ok($$ SELECT memory.invalidate_fact(gen_random_uuid()) $$, 'P0002', 'fact not found',
    'invalidating an unknown fact raises no_data_found');

-- link_facts
SELECT lives_ok(
    format($$ SELECT memory.link_facts(%L, %L, 'contradicts', 0.4) $$,
           pg_temp.id('f2'), pg_temp.id('f3')),
    'link_facts links two facts'
);
SELECT memory.link_facts(pg_temp.id('f2'), pg_temp.id('f3'), 'contradicts', 0.8);
SELECT is((SELECT array_agg(strength) FROM memory.fact_links), ARRAY[0.8::real],
    'linking the same pair and relation again replaces the strength');
SELECT throws_ok(
    format($$ SELECT memory.link_facts(%L, %L, 'Bad Relation') $$,
           pg_temp.id('f2'), pg_temp.id('f3')),
    '22023', 'invalid relation', 'a malformed relation is refused'
);
SELECT throws_ok(
    format($$ SELECT memory.link_facts(%L, %L, 'same') $$,
           pg_temp.id('f2'), pg_temp.id('f2')),
    '22023', 'a fact cannot be linked to itself', 'a self link is refused'
);
SELECT throws_ok(
    format($$ SELECT memory.link_facts(%L, gen_random_uuid(), 'causes') $$, pg_temp.id('f2')),
    'P0002', 'fact not found', 'a link to an unknown fact raises no_data_found'
);
SELECT throws_ok(
    format($$ SELECT memory.link_facts(%L, %L, 'causes', 1.5) $$,
           pg_temp.id('f2'), pg_temp.id('f3')),
    '22003', 'strength must be between 0 and 1', 'a strength out of range is refused'
);

-- errors of learn_fact
SELECT throws_ok($$ SELECT memory.learn_fact('', 'x') $$, '22023', 'concept must not be empty', 'an empty concept is refused');
SELECT throws_ok($$ SELECT memory.learn_fact('c', NULL) $$, '22023', 'statement must not be empty', 'a NULL statement is refused');
SELECT throws_ok($$ SELECT memory.learn_fact('c', 's', 1.01) $$, '22003', 'confidence must be between 0 and 1',
    'a confidence out of range is refused');
SELECT throws_ok($$ SELECT memory.learn_fact('c', 's', source_episodes => ARRAY[gen_random_uuid()]) $$,
    'P0002', 'source episode not found', 'an unknown source episode is refused');

SELECT * FROM finish();
ROLLBACK;
