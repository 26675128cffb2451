-- memory.drop_agent (through its batch step, as the procedure commits and pgTAP runs in
-- one transaction): every row of the dropped agent goes, in every table the catalog
-- shows with an agent column; the other agent keeps everything; cached queries only it
-- asked for go; confirmation, bad input, who may call it; forget_session, forget_project.
BEGIN;
SELECT plan(37);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.make_id_table();

-- --------------------------------------------------------------- Alpha everywhere
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('e1', memory.remember('Decidimos usar Raft.', 0.9, ARRAY['decision'], 'cerebro',
                                              session_id => 's1'));
INSERT INTO ids VALUES ('e2', memory.remember('Second episode of session one', session_id => 's1'));
INSERT INTO ids VALUES ('e3', memory.remember('In project cerebro only', project => 'cerebro'));
INSERT INTO ids VALUES ('e4', memory.remember('Neither session nor project'));
INSERT INTO ids VALUES ('f1', memory.learn_fact('api', 'The API is FastAPI.', 0.5, valid_from => '2025-01-01'));
INSERT INTO ids VALUES ('f2', memory.learn_fact('api', 'The API is SQL.', 0.9, valid_from => '2025-02-01',
                                                supersedes => ARRAY[pg_temp.id('f1')]));
SELECT memory.link_facts(pg_temp.id('f2'), pg_temp.id('f1'), 'replaces');
SELECT memory.set_working_memory('task', '{"step": 1}', key => 'now');
SELECT memory.set_block('persona', 'Alpha the tester');
SELECT memory.create_checkpoint('manual', '{}');
SELECT memory.heartbeat(focus => 'being dropped');
INSERT INTO ids VALUES ('i1', memory.register_instance('alpha-1', 'primary', 'lab', '{}'));
INSERT INTO ids VALUES ('d1', memory.propose_decision('drop me', '{}'));
SELECT memory.vote(pg_temp.id('d1'), pg_temp.id('i1'), true);

SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('b1', memory.remember('Beta keeps this', session_id => 's1', project => 'cerebro'));
SELECT memory.set_block('persona', 'Beta stays');
RESET SESSION AUTHORIZATION;

-- rows written by the daemon, the search log, imports and the query cache
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[1])) FROM ids WHERE k IN ('e1', 'e2', 'e3', 'e4', 'b1');
SELECT tests.put_fact_vector(id, tests.unit_vector(ARRAY[2])) FROM ids WHERE k IN ('f1', 'f2');
INSERT INTO memory.pooled_embeddings (agent_id, episode_id, model_id, content_sha256, chunk_count, embedding)
SELECT e.agent_id, e.episode_id, 1, e.content_sha256, 1, tests.unit_vector(ARRAY[1])
FROM memory.episodes AS e INNER JOIN ids ON ids.id = e.episode_id;
INSERT INTO memory.episode_access_log (agent_id, episode_id)
SELECT e.agent_id, e.episode_id FROM memory.episodes AS e INNER JOIN ids ON ids.id = e.episode_id;
INSERT INTO memory.legacy_imports (server_name, agent_id)
VALUES ('lt_old_alpha', (SELECT agent_id FROM memory.agents WHERE name = 'Alpha'));
INSERT INTO memory.agent_imports (agent_id, export_sha256, source_agent_id, source_agent_name, remapped_ids)
SELECT b.agent_id, repeat('a', 64), a.agent_id, 'Alpha', false
FROM memory.agents AS a, memory.agents AS b WHERE a.name = 'Alpha' AND b.name = 'Beta';
SELECT tests.cache_query_vector('only alpha asked', tests.unit_vector(ARRAY[3]));
SELECT tests.cache_query_vector('both asked', tests.unit_vector(ARRAY[4]));
INSERT INTO memory.query_embedding_askers (model_id, query_sha256, agent_id)
SELECT c.model_id, c.query_sha256, a.agent_id
FROM memory.query_embedding_cache AS c, memory.agents AS a
WHERE (c.query_sha256 = memory._sha256('only alpha asked') AND a.name = 'Alpha')
   OR (c.query_sha256 = memory._sha256('both asked') AND a.name IN ('Alpha', 'Beta'))
ON CONFLICT DO NOTHING;
-- consolidation: one merge (memory.consolidations) and the job's cursor (consolidation_progress)
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES ('e5', memory.remember('Same words twice, said once more.'));
INSERT INTO ids VALUES ('e6', memory.remember('same words twice said once more'));
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[5])) FROM ids WHERE k IN ('e5', 'e6');
SELECT is(
    (SELECT merged FROM memory._consolidation_batch((SELECT agent_id FROM memory.agents WHERE name = 'Alpha'),
                                                    100, 0.9, 0.6, '0')),
    1, 'the fixture merges one duplicate of Alpha''s'
);
INSERT INTO ids SELECT 'alpha', agent_id FROM memory.agents WHERE name = 'Alpha';
INSERT INTO ids SELECT 'beta', agent_id FROM memory.agents WHERE name = 'Beta';

-- The catalog's view of "a table holding an agent's rows", written independently of
-- memory._agent_tables: any table of schema memory with a uuid column named agent_id or
-- *_agent_id, or a foreign key to memory.agents. memory.agent_drops is the tombstone.
CREATE FUNCTION pg_temp.rows_of(agent uuid)
RETURNS TABLE (tbl text, n bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT DISTINCT c.oid::regclass::text AS rel, a.attname
        FROM pg_class AS c
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
          AND c.oid <> 'memory.agent_drops'::regclass
          AND ((a.atttypid = 'uuid'::regtype AND a.attname ~ '(^|_)agent_id$')
               OR EXISTS (SELECT 1 FROM pg_constraint AS k
                          WHERE k.conrelid = c.oid AND k.contype = 'f'
                            AND k.confrelid = 'memory.agents'::regclass AND a.attnum = ANY (k.conkey)))
        ORDER BY 1, 2
    LOOP
        tbl := t.rel || '.' || t.attname;
        EXECUTE format('SELECT count(*) FROM %s WHERE %I = $1', t.rel, t.attname) INTO n USING agent;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE TEMP TABLE before_beta AS SELECT * FROM pg_temp.rows_of(pg_temp.id('beta'));
SELECT cmp_ok(
    (SELECT count(*) FROM pg_temp.rows_of(pg_temp.id('alpha')) WHERE n > 0),
    '>=', 19::bigint,
    'the fixture puts rows of Alpha in (nearly) every table with an agent column'
);
SELECT is(
    ARRAY(SELECT tbl FROM pg_temp.rows_of(pg_temp.id('alpha'))
          EXCEPT
          SELECT x.table_name::text || '.' || x.column_name FROM memory._agent_tables() AS x
          EXCEPT
          SELECT 'memory.agents.agent_id'),
    '{}'::text[],
    'drop_agent''s table list covers every table and column the catalog shows'
);

-- ---------------------------------------------------------------- the agent's own erasures
SELECT tests.act_as('Alpha');
SELECT is(memory.forget_session('s1'), 2, 'forget_session removes the session''s two episodes');
SELECT is(memory.forget_session('s1'), 0, 'a second forget_session finds nothing');
SELECT is((SELECT count(*) FROM memory.episodes WHERE session_id = 's1'), 0::bigint, 'no episode of s1 is left');
SELECT is(memory.forget_project('cerebro'), 1, 'forget_project removes what is left of the project');
SELECT is((SELECT count(*) FROM memory.projects WHERE name = 'cerebro'), 0::bigint, 'and the project');
SELECT is((SELECT count(*) FROM memory.episodes), 2::bigint, 'the episodes outside both stay (e4, e6 the kept copy)');
SELECT is((SELECT count(*) FROM memory.chunks WHERE episode_id IS NOT NULL), 2::bigint,
          'the forgotten episodes'' vectors went with them');
SELECT throws_ok($$SELECT memory.forget_project('cerebro')$$, 'P0002', 'project not found',
                 'forget_project of a missing project: P0002');
SELECT throws_ok($$SELECT memory.forget_session(NULL)$$, '22023', 'session_id must not be empty',
                 'forget_session(NULL): 22023');
SELECT throws_ok($$SELECT memory.forget_session(' ')$$, '22023', 'session_id must not be empty',
                 'forget_session of blanks: 22023');
SELECT throws_ok($$SELECT memory.forget_session(repeat('s', 201))$$, '22001', 'session_id is too long',
                 'forget_session over 200 characters: 22001');
SELECT throws_ok($$SELECT memory.forget_project('')$$, '22023', 'name must not be empty',
                 'forget_project(''''): 22023');
SELECT throws_ok($$SELECT memory.forget_project(repeat('p', 201))$$, '22001', 'name is too long',
                 'forget_project over 200 characters: 22001');

-- isolation: Alpha's erasures never reach Beta's session or project of the same names
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.episodes WHERE session_id = 's1'), 1::bigint,
          'Beta''s episode of a session named s1 is still there');
SELECT throws_ok($$SELECT memory._drop_agent_batch('Alpha', 'Alpha')$$, '42501', NULL,
                 'an agent cannot run a drop step');
SELECT throws_ok($$CALL memory.drop_agent('Alpha', 'Alpha')$$, '42501', NULL, 'an agent cannot CALL drop_agent');
SELECT throws_ok($$SELECT * FROM memory.agent_drops$$, '42501', NULL, 'an agent cannot read the drops');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.forget_session('s1')$$, '42501', NULL, 'forget_session outside an agent: 42501');

-- ---------------------------------------------------------------- bad input of drop_agent
SELECT throws_ok($$SELECT memory._drop_agent_batch('Alpha', NULL)$$, '22023',
                 'drop_agent needs confirm => the agent''s name', 'no confirmation: 22023');
SELECT throws_ok($$SELECT memory._drop_agent_batch('Alpha', 'alpha')$$, '22023',
                 'drop_agent needs confirm => the agent''s name', 'a confirmation that is not the exact name: 22023');
SELECT throws_ok($$SELECT memory._drop_agent_batch('Alpha', 'Alpha', 0)$$, '22023',
                 'batch_rows must be between 1 and 100000', 'batch_rows 0: 22023');
SELECT throws_ok($$SELECT memory._drop_agent_batch('no such', 'no such')$$, '22023', 'invalid agent name',
                 'a malformed name: 22023');
SELECT throws_ok($$SELECT memory._drop_agent_batch('Gamma', 'Gamma')$$, 'P0002', 'agent Gamma does not exist',
                 'an unknown agent: P0002');
SELECT is((SELECT count(*) FROM memory.agent_drops WHERE agent_name = 'Alpha'), 0::bigint,
          'a refused call starts nothing');

-- ---------------------------------------------------------------- the drop, 3 rows a batch
DO $$
DECLARE
    r jsonb;
    i integer := 0;
BEGIN
    LOOP
        r := memory._drop_agent_batch('Alpha', 'Alpha', 3);
        i := i + 1;
        EXIT WHEN r ->> 'state' = 'done' OR i > 1000;
    END LOOP;
    CREATE TEMP TABLE drop_result AS SELECT r AS result, i AS calls;
END
$$;
SELECT is((SELECT result ->> 'state' FROM drop_result), 'done', 'the drop finishes');
SELECT cmp_ok((SELECT calls FROM drop_result), '>', 5, 'in several batches');
SELECT is(
    ARRAY(SELECT tbl || '=' || n FROM pg_temp.rows_of(pg_temp.id('alpha')) WHERE n > 0),
    '{}'::text[],
    'nothing of Alpha is left in any table with an agent column'
);
SELECT is(
    ARRAY(SELECT tbl || '=' || n FROM pg_temp.rows_of(pg_temp.id('beta'))
          EXCEPT
          SELECT tbl || '=' || n FROM before_beta),
    ARRAY['memory.agent_imports.agent_id=0'],
    'Beta keeps every row but its record of having imported Alpha''s export'
);
SELECT is((SELECT count(*) FROM memory.agent_imports WHERE source_agent_id = pg_temp.id('alpha')),
          0::bigint, 'no import record names Alpha as its source');
SELECT is(
    ARRAY(SELECT q FROM unnest(ARRAY['only alpha asked', 'both asked']) AS q
          WHERE EXISTS (SELECT 1 FROM memory.query_embedding_cache AS c WHERE c.query_sha256 = memory._sha256(q))),
    ARRAY['both asked'],
    'the cached query only Alpha asked for is gone, the shared one stays'
);
SELECT ok(NOT pg_has_role('test_alpha', 'memory_agent', 'MEMBER'), 'Alpha''s login role is no longer an agent');
SELECT is(
    (SELECT memory._drop_agent_batch('Alpha', 'Alpha') ->> 'state'), 'done',
    'calling again after the end reports the finished drop'
);

-- An operator dropped the login role before the agent: the agent's memory still goes
-- (there is no membership left to revoke).
SELECT tests.make_agent('Gamma');
SELECT tests.act_as('Gamma');
SELECT memory.remember('gamma remembers this');
RESET SESSION AUTHORIZATION;
DROP ROLE test_gamma;
SELECT is(tests.drop_agent('Gamma'), 'done', 'an agent whose login role was dropped first is dropped');
SELECT is(
    (SELECT count(*) FROM memory.episodes WHERE content = 'gamma remembers this'), 0::bigint,
    'and its episodes are gone'
);

SELECT * FROM finish();
ROLLBACK;
