-- Bad input to semantic memory (learn_fact, invalidate_fact, link_facts). Each call
-- must fail with the SQLSTATE and message documented in COMMENT ON FUNCTION, and leave
-- everything the agent has stored exactly as it was (row counts and contents of every
-- table keyed on agent_id, compared before and after each group of calls).
BEGIN;
SELECT plan(45);

-- the agent, the tables ids, snaps and big (fixtures.sql); acting as Alpha
SELECT tests.start_bad_input_suite('Alpha');

-- ---------------------------------------------------------------- data
INSERT INTO ids VALUES
    ('episode', memory.remember('an episode to cite')),
    ('open', memory.learn_fact('sky', 'the sky is blue', 0.9, valid_from => '2024-01-01')),
    ('other', memory.learn_fact('sea', 'the sea is green', 0.5, valid_from => '2024-01-01')),
    ('later', memory.learn_fact('sun', 'the sun is hot', 0.5, valid_from => '2030-01-01')),
    ('closed', memory.learn_fact('moon', 'the moon is cheese', 0.1, valid_from => '2024-01-01')),
    ('unknown', gen_random_uuid());
SELECT memory.invalidate_fact(pg_temp.id('closed'), '2024-06-01');
SELECT memory.link_facts(pg_temp.id('open'), pg_temp.id('other'), 'relates_to');
RESET SESSION AUTHORIZATION;
INSERT INTO snaps VALUES ('start', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- learn_fact
SELECT throws_ok($$SELECT memory.learn_fact('', 'statement')$$, '22023', 'concept must not be empty', 'learn_fact: empty concept');
SELECT throws_ok($$SELECT memory.learn_fact('   ', 'statement')$$, '22023', 'concept must not be empty',
    'learn_fact: whitespace-only concept');
SELECT throws_ok($$SELECT memory.learn_fact('concept', NULL)$$, '22023', 'statement must not be empty', 'learn_fact: NULL statement');
SELECT throws_ok($$SELECT memory.learn_fact('concept', E'\t\n ')$$, '22023', 'statement must not be empty',
    'learn_fact: whitespace-only statement');
SELECT throws_ok($$SELECT memory.learn_fact(repeat('c', 501), 'statement')$$, '22001', 'concept is too long',
    'learn_fact: a concept of 501 characters');
SELECT throws_ok($$SELECT memory.learn_fact('concept', repeat('s', 100001))$$, '22001', 'statement is too long',
    'learn_fact: a statement of 100,001 characters');
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement', 1.5)$$, '22003', 'confidence must be between 0 and 1',
    'learn_fact: confidence 1.5');
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement', -0.1)$$, '22003', 'confidence must be between 0 and 1',
    'learn_fact: confidence -0.1');
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement', 'NaN')$$, '22003', 'confidence must be between 0 and 1',
    'learn_fact: confidence NaN');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, source_episodes => ARRAY[%L]::uuid[])', 'c', 's', pg_temp.id('unknown')),
    'P0002', 'source episode not found', 'learn_fact: an unknown source episode');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, source_episodes => ARRAY[%L, NULL]::uuid[])', 'c', 's', pg_temp.id('episode')),
    'P0002', 'source episode not found', 'learn_fact: NULL among the source episodes');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, source_episodes => array_fill(%L::uuid, ARRAY[1001]))', 'c', 's', pg_temp.id('episode')),
    '22023', 'too many ids', 'learn_fact: 1,001 source episodes');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L]::uuid[])', 'c', 's', pg_temp.id('unknown')),
    'P0002', 'fact not found', 'learn_fact: superseding an unknown fact');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L, NULL]::uuid[])', 'c', 's', pg_temp.id('other')),
    'P0002', 'fact not found', 'learn_fact: NULL among the superseded facts (the open one is not closed either)');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L]::uuid[])', 'c', 's', pg_temp.id('closed')),
    '55000', 'fact is already closed', 'learn_fact: superseding a closed fact');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L, %L]::uuid[])', 'c', 's', pg_temp.id('open'), pg_temp.id('closed')),
    '55000', 'fact is already closed', 'learn_fact: superseding an open and a closed fact at once');
SELECT throws_ok(format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L]::uuid[])', 'c', 's', pg_temp.id('later')),
    '22023', 'a fact cannot supersede one that starts later', 'learn_fact: superseding a fact that starts after the new one');
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement', valid_from => 'infinity')$$, '22008',
    'valid_from must be a finite time', 'learn_fact: valid_from infinity');
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement', valid_from => '-infinity')$$, '22008',
    'valid_from must be a finite time', 'learn_fact: valid_from -infinity');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.learn_fact('concept', 'statement')$$, '42501', 'this session is not an agent',
    'learn_fact: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'start'),
    'after the refused learn_fact calls nothing of Alpha''s changed (no new fact, no superseded fact closed, no job)');
INSERT INTO snaps VALUES ('before invalidate', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- invalidate_fact
SELECT throws_ok(format('SELECT memory.invalidate_fact(%L)', pg_temp.id('unknown')), 'P0002', 'fact not found',
    'invalidate_fact: an unknown id');
SELECT throws_ok($$SELECT memory.invalidate_fact(NULL)$$, 'P0002', 'fact not found', 'invalidate_fact: a NULL id');
SELECT throws_ok(format('SELECT memory.invalidate_fact(%L, %L)', pg_temp.id('open'), '2023-12-31'), '22023',
    'valid_to is before the fact''s valid_from', 'invalidate_fact: valid_to before valid_from');
SELECT throws_ok(format('SELECT memory.invalidate_fact(%L)', pg_temp.id('closed')), '55000', 'fact is already closed',
    'invalidate_fact: a fact that is already closed');
SELECT throws_ok(format('SELECT memory.invalidate_fact(%L, %L)', pg_temp.id('closed'), '2025-01-01'), '55000',
    'fact is already closed', 'invalidate_fact: moving the end of a closed fact');
SELECT throws_ok(format('SELECT memory.invalidate_fact(%L, %L)', pg_temp.id('open'), 'infinity'), '22008',
    'valid_to must be a finite time', 'invalidate_fact: valid_to infinity');

RESET SESSION AUTHORIZATION;
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before invalidate'),
    'after the refused invalidate_fact calls every fact keeps its validity');
INSERT INTO snaps VALUES ('before link', tests.stored(pg_temp.id('alpha')));
SELECT tests.act_as('Alpha');

-- ---------------------------------------------------------------- link_facts
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L)', pg_temp.id('open'), pg_temp.id('open'), 'relates_to'), '22023',
    'a fact cannot be linked to itself', 'link_facts: a self link');
SELECT throws_ok(
    format('SELECT memory.link_facts(%L, %L, %L)', pg_temp.id('open'), pg_temp.id('other'), r),
    '22023', 'invalid relation', format('link_facts: bad relation name %s', coalesce(quote_literal(left(r, 20)), 'NULL'))
)
FROM unnest(ARRAY['Causes', 'part of', '', NULL, '1st', 'a' || repeat('b', 63), 'causes; DROP TABLE memory.facts', 'é']) AS r;
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L)', pg_temp.id('unknown'), pg_temp.id('other'), 'relates_to'), 'P0002',
    'fact not found', 'link_facts: an unknown from_fact');
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L)', pg_temp.id('open'), pg_temp.id('unknown'), 'relates_to'), 'P0002',
    'fact not found', 'link_facts: an unknown to_fact');
SELECT throws_ok(format('SELECT memory.link_facts(NULL, %L, %L)', pg_temp.id('other'), 'relates_to'), 'P0002', 'fact not found',
    'link_facts: a NULL from_fact');
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L, 1.5)', pg_temp.id('open'), pg_temp.id('other'), 'relates_to'), '22003',
    'strength must be between 0 and 1', 'link_facts: strength 1.5');
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L, -1)', pg_temp.id('open'), pg_temp.id('other'), 'relates_to'), '22003',
    'strength must be between 0 and 1', 'link_facts: strength -1');
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L, %L)', pg_temp.id('open'), pg_temp.id('other'), 'relates_to', 'NaN'),
    '22003', 'strength must be between 0 and 1', 'link_facts: strength NaN (the existing link keeps its strength)');

RESET SESSION AUTHORIZATION;
SELECT throws_ok(format('SELECT memory.link_facts(%L, %L, %L)', pg_temp.id('open'), pg_temp.id('other'), 'relates_to'), '42501',
    'this session is not an agent', 'link_facts: a session that is not an agent');
SELECT is(tests.stored(pg_temp.id('alpha')), (SELECT s FROM snaps WHERE k = 'before link'),
    'after the refused link_facts calls Alpha has exactly its one link, with its strength');

SELECT * FROM finish();
ROLLBACK;
