-- Isolation against leaks through error messages. Constraint errors on tables with
-- row-level security must not print key values or row images; a foreign key to
-- another agent's row must fail exactly like one to a row that does not exist.
-- Existence oracles: agents may not choose ids on INSERT (column-level grants) and
-- fact_links' key starts with agent_id (migration 009), so an insert with another
-- agent's id fails exactly like one with an unused id.
BEGIN;
SELECT plan(13);

SELECT tests.make_agents('Alpha', 'Beta');

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);
SELECT tests.make_error_log();

CREATE FUNCTION pg_temp.seed(who text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    m text := lower(who) || '-secret-zq7';
    f1 uuid;
    f2 uuid;
BEGIN
    PERFORM tests.act_as(who);
    INSERT INTO pg_temp.ids VALUES (who, 'episode', memory.remember(m || ' episode', project => 'project ' || m));
    f1 := memory.learn_fact('concept ' || m, 'statement one ' || m);
    f2 := memory.learn_fact('concept ' || m, 'statement two ' || m);
    PERFORM memory.link_facts(f1, f2, 'contradicts');
    PERFORM memory.set_block('persona', 'I am ' || m);
    INSERT INTO pg_temp.ids VALUES
        (who, 'agent', memory.current_agent()), (who, 'fact', f1), (who, 'fact2', f2),
        (who, 'project', (SELECT p.project_id FROM memory.projects AS p)),
        (who, 'working', memory.set_working_memory('task', jsonb_build_object('note', m))),
        (who, 'block', (SELECT b.block_id FROM memory.blocks AS b WHERE b.label = 'persona')),
        (who, 'instance', memory.register_instance('instance-' || lower(who)));
    EXECUTE 'RESET SESSION AUTHORIZATION';
END
$$;

SELECT pg_temp.seed('Alpha');
SELECT pg_temp.seed('Beta');
INSERT INTO ids VALUES ('nobody', 'a', gen_random_uuid()), ('nobody', 'b', gen_random_uuid());

SELECT tests.act_as('Beta');

-- ---------------------------------------------------------------- foreign keys
SELECT tests.like_unknown(c.call, c.theirs, c.unknown, c.alike)
FROM (VALUES
    ('INSERT INTO memory.episodes (content, project_id) VALUES (''probe'', %L)',
     ARRAY[pg_temp.id('Alpha', 'project')], ARRAY[pg_temp.id('nobody', 'a')],
     'an episode naming Alpha''s project fails exactly like one naming a project that does not exist'),
    ('UPDATE memory.episodes SET project_id = %L WHERE episode_id = %L',
     ARRAY[pg_temp.id('Alpha', 'project'), pg_temp.id('Beta', 'episode')],
     ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('Beta', 'episode')],
     'moving Beta''s episode into Alpha''s project fails exactly like into a project that does not exist'),
    ('UPDATE memory.facts SET superseded_by = %L WHERE fact_id = %L',
     ARRAY[pg_temp.id('Alpha', 'fact'), pg_temp.id('Beta', 'fact')],
     ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('Beta', 'fact')],
     'marking Beta''s fact as superseded by Alpha''s fails exactly like by a fact that does not exist')
) AS c (call, theirs, unknown, alike);

-- ---------------------------------------------------------------- no key values, no row images
SELECT unalike(
    tests.failure(format('INSERT INTO memory.episodes (episode_id, content) VALUES (%L, %L)', pg_temp.id('Alpha', 'episode'), 'probe')),
    '%Key (%',
    'a unique violation on another agent''s key shows no key values'
);
SELECT is(
    tests.failure(format('UPDATE memory.episodes SET importance = 2 WHERE episode_id = %L', pg_temp.id('Beta', 'episode'))),
    '23514: new row for relation "episodes" violates check constraint "episodes_importance_range" / detail:  / hint: ',
    'a check violation on a table with row-level security prints no failing row'
);
SELECT unalike(
    tests.failure(format('INSERT INTO memory.fact_links (from_fact, to_fact, relation) VALUES (%L, %L, %L)',
                           pg_temp.id('Alpha', 'fact'), pg_temp.id('Alpha', 'fact2'), 'contradicts')),
    '%Key (%',
    'a unique violation on Alpha''s fact link shows no key values'
);

-- ---------------------------------------------------------------- existence oracles
SELECT tests.like_unknown(c.call, c.theirs, c.unknown, c.alike)
FROM (VALUES
    ('INSERT INTO memory.episodes (episode_id, content) VALUES (%L, ''probe'')',
     ARRAY[pg_temp.id('Alpha', 'episode')], ARRAY[pg_temp.id('nobody', 'a')],
     'an episode with the id of Alpha''s episode fails exactly like one with an unused id'),
    ('INSERT INTO memory.projects (project_id, name) VALUES (%L, ''probe'')',
     ARRAY[pg_temp.id('Alpha', 'project')], ARRAY[pg_temp.id('nobody', 'a')],
     'a project with the id of Alpha''s project fails exactly like one with an unused id'),
    ('INSERT INTO memory.facts (fact_id, concept, statement) VALUES (%L, ''c'', ''s'')',
     ARRAY[pg_temp.id('Alpha', 'fact')], ARRAY[pg_temp.id('nobody', 'a')],
     'a fact with the id of Alpha''s fact fails exactly like one with an unused id'),
    ('INSERT INTO memory.working_memory (working_id, context_type, content, expires_at) '
     'VALUES (%L, ''probe'', ''{}'', now() + interval ''1 hour'')',
     ARRAY[pg_temp.id('Alpha', 'working')], ARRAY[pg_temp.id('nobody', 'a')],
     'a working-memory item with the id of Alpha''s fails exactly like one with an unused id'),
    ('INSERT INTO memory.blocks (block_id, label, value) VALUES (%L, ''probe'', ''x'')',
     ARRAY[pg_temp.id('Alpha', 'block')], ARRAY[pg_temp.id('nobody', 'a')],
     'a block with the id of Alpha''s block fails exactly like one with an unused id'),
    ('INSERT INTO memory.instances (instance_id, name) VALUES (%L, ''probe'')',
     ARRAY[pg_temp.id('Alpha', 'instance')], ARRAY[pg_temp.id('nobody', 'a')],
     'an instance with the id of Alpha''s instance fails exactly like one with an unused id'),
    ('INSERT INTO memory.fact_links (from_fact, to_fact, relation) VALUES (%L, %L, ''contradicts'')',
     ARRAY[pg_temp.id('Alpha', 'fact'), pg_temp.id('Alpha', 'fact2')], ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('nobody', 'b')],
     'a link between Alpha''s two facts fails exactly like one between unknown facts (it reveals Alpha''s links)')
) AS c (call, theirs, unknown, alike);

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
