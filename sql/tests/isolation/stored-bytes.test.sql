-- Issue 15 (migration 021): working memory, core blocks and the blocks' history count in
-- the stored-bytes quota like episodes and facts; a write that crosses it is refused
-- (53400) and stores nothing.
BEGIN;
SELECT plan(10);

SELECT tests.make_agent('Bytes');
SELECT tests.make_id_table();
INSERT INTO ids SELECT 'agent', a.agent_id FROM memory.agents AS a WHERE a.name = 'Bytes';

CREATE FUNCTION pg_temp.counted() RETURNS bigint LANGUAGE sql AS
$$ SELECT (memory._usage(pg_temp.id('agent'))).stored_bytes $$;
-- the bytes the agent stores, recounted from every table that counts
CREATE FUNCTION pg_temp.recount() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce((SELECT sum(octet_length(e.content)) FROM memory.episodes AS e WHERE e.agent_id = x.a), 0)
         + coalesce((SELECT sum(octet_length(f.concept) + octet_length(f.statement)) FROM memory.facts AS f WHERE f.agent_id = x.a), 0)
         + coalesce((SELECT sum(memory._stored_bytes('memory.working_memory', w)) FROM memory.working_memory AS w WHERE w.agent_id = x.a), 0)
         + coalesce((SELECT sum(memory._stored_bytes('memory.blocks', b)) FROM memory.blocks AS b WHERE b.agent_id = x.a), 0)
         + coalesce((SELECT sum(memory._stored_bytes('memory.block_history', h)) FROM memory.block_history AS h WHERE h.agent_id = x.a), 0)
    FROM (SELECT id AS a FROM ids WHERE k = 'agent') AS x
$$;

SELECT tests.act_as('Bytes');
SELECT memory.remember('an episode of twenty-nine bytes');
SELECT memory.set_working_memory('task', '{"text": "la tarea en curso: revisar el informe"}', key => 'current');
RESET SESSION AUTHORIZATION;
SELECT cmp_ok(
    pg_temp.counted(), '>', octet_length('an episode of twenty-nine bytes')::bigint,
    'a working-memory item counts in the stored bytes'
);
SELECT is(pg_temp.counted(), pg_temp.recount(), 'the counter equals the recount (episodes and working memory)');

SELECT tests.act_as('Bytes');
SELECT memory.set_working_memory('task', '{"text": "otra tarea, más larga que la primera"}', key => 'current');
SELECT memory.set_block('persona', 'Soy un agente de prueba que cuenta sus bytes.');
SELECT memory.set_block('persona', 'Soy un agente de prueba que cuenta sus bytes, versión dos.');
RESET SESSION AUTHORIZATION;
SELECT is(
    pg_temp.counted(), pg_temp.recount(),
    'a changed item, a block and its two versions in the history: the counter equals the recount'
);

SELECT tests.act_as('Bytes');
SELECT memory.clear_working_memory('task');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.counted(), pg_temp.recount(), 'clearing working memory gives its bytes back');

-- the quota: just above what is stored
SELECT memory.set_agent_limits('Bytes', max_stored_bytes => pg_temp.counted() + 100);
SELECT tests.act_as('Bytes');
SELECT throws_ok(
    $$SELECT memory.set_working_memory('task', jsonb_build_object('text', repeat('x', 200)))$$,
    '53400', 'quota exceeded: stored bytes',
    'a working-memory item that crosses the stored-bytes quota is refused with 53400'
);
SELECT is(
    (SELECT count(*) FROM memory.working_memory), 0::bigint,
    'and nothing of it is stored'
);
SELECT throws_ok(
    $$SELECT memory.set_block('notes', repeat('y', 200))$$,
    '53400', 'quota exceeded: stored bytes',
    'a core block that crosses the quota is refused with 53400'
);
SELECT throws_ok(
    $$SELECT memory.set_block('persona', repeat('z', 120))$$,
    '53400', 'quota exceeded: stored bytes',
    'a change of a block whose new version (and its history row) crosses the quota is refused'
);
SELECT is(
    (SELECT b.value FROM memory.blocks AS b WHERE b.label = 'persona'),
    'Soy un agente de prueba que cuenta sus bytes, versión dos.',
    'the block keeps its value'
);
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.counted(), pg_temp.recount(), 'refused writes leave the counter equal to the recount');

SELECT * FROM finish();
ROLLBACK;
