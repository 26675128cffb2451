-- Export and import of an agent (sql/functions/140-export.sql, 141-import.sql), inside one
-- transaction: the file's header and checksum, a round trip under another name (ids
-- remapped, since the source agent holds them in this database), idempotence, vectors
-- reused for the same model and dropped for another, who may run it, and every kind of
-- malformed file refused with a clear error and nothing written.
-- The round trip into a fresh database is python/tests/test_export_import.py.
BEGIN;
SELECT plan(50);

SELECT tests.make_agent('PortA');
CREATE ROLE test_portb LOGIN;
CREATE ROLE test_portc LOGIN;
CREATE ROLE test_portq LOGIN;

-- ---------------------------------------------------------------- PortA's memory
SELECT tests.make_id_table();
CREATE FUNCTION pg_temp.id_of(key text)
RETURNS uuid
LANGUAGE sql
STABLE
AS $$ SELECT i.id FROM pg_temp.ids AS i WHERE i.k = $1 $$;
SELECT tests.act_as('PortA');
INSERT INTO pg_temp.ids VALUES
    ('e1', memory.remember('first episode: the old brain had 4,704 episodes and no vectors', 0.9, ARRAY['migration', 'bug'], 'brain')),
    ('e2', memory.remember(repeat('Una sesión larga con Ricardo sobre la memoria — 🧬 "comillas" y \barras\. ', 90), 0.4,
                           '{}', NULL, '2025-08-01 10:00+00', '{"source": "terminal"}', 'session-7')),
    ('e3', memory.remember('third, in another project', 0.2, ARRAY['x'], 'other', idempotency_key => 'port-e3'));
INSERT INTO pg_temp.ids VALUES ('f1', memory.learn_fact('Redis', 'a cache in front of PostgreSQL', 0.6,
                                                        ARRAY[pg_temp.id_of('e1')]));
INSERT INTO pg_temp.ids VALUES ('f2', memory.learn_fact('Redis', 'a cache, never the source of truth', 0.9, '{}',
                                                        now(), ARRAY[pg_temp.id_of('f1')]));
INSERT INTO pg_temp.ids VALUES ('f3', memory.learn_fact('PostgreSQL', 'the source of truth'));
SELECT memory.link_facts(pg_temp.id_of('f2'), pg_temp.id_of('f3'), 'depends_on', 0.8);
SELECT memory.set_block('persona', 'first version');
SELECT memory.set_block('persona', 'second version', 'who I am');
SELECT memory.set_block('mission', 'keep every memory', NULL, 200, true);
INSERT INTO pg_temp.ids VALUES ('c1', memory.create_checkpoint('manual', '{"note": "before"}'));
SELECT memory.set_block('persona', 'third version');
SELECT memory.restore_checkpoint(pg_temp.id_of('c1'));
SELECT memory.set_working_memory('task', '{"step": 3}', '2 hours', 'high', 'current');
SELECT memory.heartbeat('the migration', '{"calm": 0.5}', '{"open": ["issue 7"]}');
INSERT INTO pg_temp.ids VALUES ('i1', memory.register_instance('terminal-1'));
INSERT INTO pg_temp.ids VALUES ('d1', memory.propose_decision('adopt the new brain', '{"vote": "now"}'));
SELECT memory.vote(pg_temp.id_of('d1'), pg_temp.id_of('i1'), true);
RESET SESSION AUTHORIZATION;
-- e1 has vectors of the serving model (as the daemon would leave them)
SELECT tests.put_episode_vector(pg_temp.id_of('e1'), tests.unit_vector(ARRAY[1, 2]));
INSERT INTO memory.pooled_embeddings (agent_id, episode_id, model_id, content_sha256, chunk_count, embedding)
SELECT e.agent_id, e.episode_id, m.model_id, e.content_sha256, 1, tests.unit_vector(ARRAY[1, 2])
FROM memory.episodes AS e, memory.embedding_models AS m
WHERE e.episode_id = pg_temp.id_of('e1') AND m.is_serving;
UPDATE memory.embedding_jobs SET state = 'done', done_at = now(), embedded_sha256 = content_sha256
WHERE episode_id = pg_temp.id_of('e1');

-- ---------------------------------------------------------------- helpers
CREATE FUNCTION pg_temp.export_text(agent text)
RETURNS text
LANGUAGE sql
AS $$
    SELECT string_agg(x.l, E'\n' ORDER BY x.n) || E'\n' FROM memory.export_agent(agent) WITH ORDINALITY AS x (l, n)
$$;
CREATE FUNCTION pg_temp.lines(t text)
RETURNS text []
LANGUAGE sql
AS $$ SELECT string_to_array(left(t, -1), E'\n') $$;
-- Header and body again, with the counts, line count and sha256 of the edited body.
CREATE FUNCTION pg_temp.reseal(l text [])
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    h jsonb := l[1]::jsonb;
    body text := array_to_string(l[2:], E'\n') || E'\n';
BEGIN
    h := jsonb_set(h, '{counts}', (
        SELECT jsonb_object_agg(k.key, (
            SELECT count(*) FROM unnest(l[2:]) AS x WHERE substring(x FROM '"type" ?: ?"([a-z_]+)"') = k.key))
        FROM jsonb_each(h -> 'counts') AS k));
    h := jsonb_set(h, '{lines}', to_jsonb(cardinality(l) - 1));
    h := jsonb_set(h, '{sha256}', to_jsonb(encode(sha256(convert_to(body, 'UTF8')), 'hex')));
    RETURN h::text || E'\n' || body;
END
$$;
-- The line of the first record of a type.
CREATE FUNCTION pg_temp.first_of(l text [], rtype text)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT min(x.n)::integer FROM unnest(l) WITH ORDINALITY AS x (v, n)
    WHERE x.v LIKE '{"type" : "' || rtype || '"%'
$$;
-- An export's records with every uuid masked, sorted: equal for two agents whose
-- memories differ only in ids.
CREATE FUNCTION pg_temp.shape(t text)
RETURNS text []
LANGUAGE sql
AS $$
    SELECT array_agg(m ORDER BY m) FROM (
        SELECT regexp_replace(x, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g') AS m
        FROM unnest((pg_temp.lines(t))[2:]) AS x
    ) AS s
$$;
CREATE TEMP TABLE ex (agent text PRIMARY KEY, t text);
INSERT INTO pg_temp.ex VALUES ('PortA', pg_temp.export_text('PortA'));
-- Malformed variants of PortA's export.
CREATE FUNCTION pg_temp.bad(kind text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    t text := (SELECT x.t FROM pg_temp.ex AS x WHERE x.agent = 'PortA');
    l text [] := pg_temp.lines(t);
    e integer := pg_temp.first_of(pg_temp.lines(t), 'episode');
BEGIN
    CASE kind
        WHEN 'version' THEN l[1] := jsonb_set(l[1]::jsonb, '{version}', '2')::text;
            RETURN array_to_string(l, E'\n') || E'\n';
        WHEN 'cut' THEN RETURN left(t, length(t) / 2);
        WHEN 'short' THEN RETURN array_to_string(l[1:cardinality(l) - 2], E'\n') || E'\n';
        WHEN 'corrupted' THEN l[e] := replace(l[e], '"content" : "', '"content" : "X');
            RETURN array_to_string(l, E'\n') || E'\n';
        WHEN 'json' THEN l[e] := left(l[e], 40);
        WHEN 'other_agent' THEN
            l[e] := regexp_replace(l[e], '"agent_id" : "[0-9a-f-]+"', '"agent_id" : "00000000-0000-4000-8000-000000000000"');
        WHEN 'model' THEN
            l[pg_temp.first_of(l, 'embedding')] := replace(l[pg_temp.first_of(l, 'embedding')], '"model" : "all-MiniLM-L6-v2"', '"model" : "no-such-model"');
        WHEN 'other_model' THEN l := ARRAY(SELECT replace(x, 'all-MiniLM-L6-v2', 'other-model') FROM unnest(l) AS x);
        WHEN 'twice' THEN l := l || l[e];
        WHEN 'dangling' THEN
            l[pg_temp.first_of(l, 'fact_link')] := regexp_replace(l[pg_temp.first_of(l, 'fact_link')],
                '"to_fact" : "[0-9a-f-]+"', '"to_fact" : "00000000-0000-4000-8000-000000000000"');
        WHEN 'dangling_vote' THEN
            l[pg_temp.first_of(l, 'vote')] := regexp_replace(l[pg_temp.first_of(l, 'vote')],
                '"instance_id" : "[0-9a-f-]+"', '"instance_id" : "00000000-0000-4000-8000-000000000000"');
        WHEN 'dangling_project' THEN  -- every episode's project (one of them has none)
            l := ARRAY(SELECT CASE WHEN x LIKE '{"type" : "episode"%' THEN regexp_replace(x, '"project_id" : "[0-9a-f-]+"',
                                       '"project_id" : "00000000-0000-4000-8000-000000000000"') ELSE x END
                       FROM unnest(l) WITH ORDINALITY AS u (x, o) ORDER BY u.o);
        WHEN 'type' THEN l[e] := replace(l[e], '"type" : "episode"', '"type" : "episodes"');
        WHEN 'field' THEN l[e] := (l[e]::jsonb - 'importance')::text;
        WHEN 'checksum' THEN l[e] := replace(l[e], '"content" : "', '"content" : "X');
        WHEN 'value' THEN l[e] := (jsonb_set(l[e]::jsonb, '{importance}', '7'))::text;
    END CASE;
    RETURN pg_temp.reseal(l);
END
$$;

-- ---------------------------------------------------------------- the export
SELECT is(
    (SELECT (pg_temp.lines(t))[1]::jsonb #>> '{format}' || ' v' || ((pg_temp.lines(t))[1]::jsonb ->> 'version') FROM pg_temp.ex),
    'agent-memory-export v1',
    'the first line is the header, format agent-memory-export version 1'
);
SELECT is(
    (SELECT (pg_temp.lines(t))[1]::jsonb -> 'counts' FROM pg_temp.ex),
    '{"agent_state": 1, "project": 2, "episode": 3, "fact": 3, "fact_link": 1, "block": 2, "block_version": 5,
      "checkpoint": 3, "working_memory": 1, "instance": 1, "decision": 1, "vote": 1, "embedding": 1,
      "idempotency_key": 1}'::jsonb,
    'the header counts every record by type: state, projects, episodes, facts, links, blocks with their history, checkpoints, working memory, instances, decisions, votes, vectors, idempotency keys'
);
SELECT is(
    (SELECT (pg_temp.lines(t))[1]::jsonb ->> 'sha256' FROM pg_temp.ex),
    (SELECT encode(sha256(convert_to(substr(t, strpos(t, E'\n') + 1), 'UTF8')), 'hex') FROM pg_temp.ex),
    'the header holds the sha256 of every line after it'
);
SELECT is(
    (SELECT (pg_temp.lines(t))[1]::jsonb -> 'models' FROM pg_temp.ex),
    '[{"name": "all-MiniLM-L6-v2", "dimensions": 384, "max_tokens": 256, "chunk_tokens": 200, "chunk_overlap": 32}]'::jsonb,
    'the header names the model of the vectors with its dimension and chunking'
);
SELECT is(pg_temp.export_text('PortA'), (SELECT t FROM pg_temp.ex), 'two exports of the same memory are identical');
SELECT ok(
    (SELECT bool_and(x::jsonb ->> 'agent_id' = (SELECT agent_id::text FROM memory.agents WHERE name = 'PortA'))
     FROM unnest((SELECT (pg_temp.lines(t))[2:] FROM pg_temp.ex)) AS x),
    'every record carries the agent''s id'
);
SELECT is(
    (SELECT count(*) FROM unnest((SELECT (pg_temp.lines(t))[2:] FROM pg_temp.ex)) AS x
     WHERE x::jsonb ->> 'type' = 'fact' AND x::jsonb ->> 'valid_to' IS NOT NULL AND x::jsonb ->> 'superseded_by' IS NOT NULL),
    1::bigint,
    'a superseded fact keeps its validity interval and successor'
);
SELECT throws_ok(
    $$SELECT * FROM memory.export_agent('Nobody')$$,
    'P0002', 'agent Nobody does not exist',
    'exporting an unknown agent is refused'
);

-- ---------------------------------------------------------------- who may
SELECT ok(
    has_function_privilege('memory_admin', 'memory.export_agent(text)', 'EXECUTE')
    AND has_function_privilege('memory_admin', 'memory.import_agent(text, text, name, boolean)', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.export_agent(text)', 'EXECUTE')
    AND NOT has_function_privilege('memory_agent', 'memory.import_agent(text, text, name, boolean)', 'EXECUTE')
    AND NOT has_function_privilege('memory_reader', 'memory.export_agent(text)', 'EXECUTE')
    AND NOT has_function_privilege('memory_worker', 'memory.export_agent(text)', 'EXECUTE'),
    'operators export and import; agents, readers and the daemon may not (an agent cannot export another)'
);
SELECT tests.act_as('PortA');
SELECT throws_ok(
    $$SELECT * FROM memory.export_agent('PortA')$$,
    '42501', 'permission denied for function export_agent',
    'an agent cannot call export_agent at all'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- round trip under another name
CREATE TEMP TABLE result (k text PRIMARY KEY, r jsonb);
INSERT INTO pg_temp.result
SELECT 'b1', memory.import_agent((SELECT t FROM pg_temp.ex), 'PortB', 'test_portb');
SELECT is(
    (SELECT r -> 'remapped_ids' FROM pg_temp.result WHERE k = 'b1'), 'true'::jsonb,
    'ids are remapped: the source agent holds them in this database'
);
SELECT is(
    (SELECT r -> 'inserted' FROM pg_temp.result WHERE k = 'b1'),
    '{"agent_state": 1, "project": 2, "episode": 3, "fact": 3, "fact_link": 1, "block": 2, "block_version": 5,
      "checkpoint": 3, "working_memory": 1, "instance": 1, "decision": 1, "vote": 1, "idempotency_key": 1}'::jsonb,
    'every record is written'
);
INSERT INTO pg_temp.ids VALUES ('b-e3', memory._remap_id((SELECT agent_id FROM memory.agents WHERE name = 'PortB'), pg_temp.id_of('e3')));
SELECT tests.act_as('PortB');
SELECT is(
    memory.remember('third, in another project', 0.2, ARRAY['x'], 'other', idempotency_key => 'port-e3'),
    pg_temp.id_of('b-e3'),
    'the imported idempotency key answers a retry with the imported (remapped) episode''s id'
);
RESET SESSION AUTHORIZATION;
SELECT is((SELECT (r ->> 'vectors_reused')::integer FROM pg_temp.result WHERE k = 'b1'), 1, 'the vectors of the same model are reused');
SELECT is(
    (SELECT count(*) FROM memory.embedding_jobs AS j INNER JOIN memory.agents AS a USING (agent_id)
     WHERE a.name = 'PortB' AND j.state = 'pending'),
    5::bigint,
    'the texts without vectors (2 episodes, 3 facts) wait for the daemon'
);
SELECT ok(
    EXISTS (SELECT 1 FROM memory.embedding_jobs AS j INNER JOIN memory.agents AS a USING (agent_id)
            INNER JOIN memory.pooled_embeddings AS p ON p.episode_id = j.episode_id AND p.model_id = j.model_id
            WHERE a.name = 'PortB' AND j.state = 'done' AND j.embedded_sha256 = p.content_sha256),
    'the reused vectors are there and their job is done'
);
INSERT INTO pg_temp.ex VALUES ('PortB', pg_temp.export_text('PortB'));
SELECT is(
    pg_temp.shape((SELECT t FROM pg_temp.ex WHERE agent = 'PortB')),
    pg_temp.shape((SELECT t FROM pg_temp.ex WHERE agent = 'PortA')),
    'exported again, the copy equals the original except for ids'
);
SELECT is(
    (SELECT (pg_temp.lines(t))[1]::jsonb - '{agent,sha256}'::text [] FROM pg_temp.ex WHERE agent = 'PortB'),
    (SELECT (pg_temp.lines(t))[1]::jsonb - '{agent,sha256}'::text [] FROM pg_temp.ex WHERE agent = 'PortA'),
    'and its header differs only in the agent and the checksum'
);
SELECT is(
    (SELECT array_agg(x.version || ':' || x.value ORDER BY x.version) FROM memory.agents AS a
     INNER JOIN memory.blocks AS b ON b.agent_id = a.agent_id AND b.label = 'persona'
     INNER JOIN memory.block_history AS x ON x.block_id = b.block_id WHERE a.name = 'PortB'),
    ARRAY['1:first version', '2:second version', '3:third version', '4:second version'],
    'a block arrives with its whole history, versions as they were'
);
SELECT is(
    (SELECT c.state ->> 'restored_from' FROM memory.checkpoints AS c INNER JOIN memory.agents AS a USING (agent_id)
     WHERE a.name = 'PortB' AND c.kind = 'restored'),
    (SELECT c.checkpoint_id::text FROM memory.checkpoints AS c INNER JOIN memory.agents AS a USING (agent_id)
     WHERE a.name = 'PortB' AND c.kind = 'manual'),
    'checkpoint references inside a state follow the remapped ids'
);
SELECT is(
    (SELECT r -> 'rows_written' FROM (SELECT memory.import_agent((SELECT t FROM pg_temp.ex WHERE agent = 'PortA'), 'PortB') AS r) AS x),
    '0'::jsonb,
    'importing the same file again writes nothing'
);
SELECT is(
    (SELECT r -> 'rows_written' FROM (SELECT memory.import_agent((SELECT t FROM pg_temp.ex WHERE agent = 'PortA')) AS r) AS x),
    '0'::jsonb,
    'importing it into the agent it came from writes nothing either'
);
SELECT is(pg_temp.export_text('PortB'), (SELECT t FROM pg_temp.ex WHERE agent = 'PortB'), 'and changes nothing of the copy');

-- another model: vectors are not reused, the texts are re-embedded
INSERT INTO pg_temp.result SELECT 'c1', memory.import_agent(pg_temp.bad('other_model'), 'PortC', 'test_portc');
SELECT is(
    (SELECT r -> 'models_missing' FROM pg_temp.result WHERE k = 'c1'), '["other-model"]'::jsonb,
    'a model this database does not have is reported'
);
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c INNER JOIN memory.agents AS a USING (agent_id) WHERE a.name = 'PortC'),
    0::bigint,
    'its vectors are not stored'
);
SELECT is(
    (SELECT (r ->> 'queued_for_embedding')::integer FROM pg_temp.result WHERE k = 'c1'), 6,
    'and every episode and fact is queued for the active model'
);

-- ---------------------------------------------------------------- malformed files: clear errors, nothing written
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM memory.agents) AS agents, (SELECT count(*) FROM memory.episodes) AS episodes,
       (SELECT count(*) FROM memory.blocks) AS blocks, (SELECT count(*) FROM memory.agent_imports) AS imports;
SELECT throws_ok($$SELECT memory.import_agent('', 'PortQ', 'test_portq')$$,
    '22023', 'export is empty', 'an empty file is refused');
SELECT throws_ok($$SELECT memory.import_agent(E'hello\nworld\n', 'PortQ', 'test_portq')$$,
    '22P02', 'export header is not valid JSON', 'a file that is not JSON is refused');
SELECT throws_ok($$SELECT memory.import_agent(E'{"format": "something-else"}\n', 'PortQ', 'test_portq')$$,
    '22023', 'not an agent-memory export', 'a JSON file of another format is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('version'), 'PortQ', 'test_portq')$$,
    '0A000', 'unsupported export version 2', 'a file of another version is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('cut'), 'PortQ', 'test_portq')$$,
    '22000', 'export is truncated', 'a file cut in the middle of a line is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('short'), 'PortQ', 'test_portq')$$,
    '22000', 'export is truncated', 'a file that lost its last lines is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('corrupted'), 'PortQ', 'test_portq')$$,
    '22000', 'export is corrupted', 'a file changed after the export (checksum) is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('json'), 'PortQ', 'test_portq')$$,
    '22P02', 'export holds a line that is not valid JSON', 'a line that is not JSON is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('other_agent'), 'PortQ', 'test_portq')$$,
    '22000', 'export holds a record of another agent', 'an episode of another agent id is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('model'), 'PortQ', 'test_portq')$$,
    '42704', 'export names an unknown embedding model', 'vectors of a model the header does not declare are refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('twice'), 'PortQ', 'test_portq')$$,
    '23505', 'export holds a record twice', 'a record given twice is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('dangling'), 'PortQ', 'test_portq')$$,
    '23503', 'export refers to a record it does not hold', 'a link to a fact that is not in the file is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('dangling_vote'), 'PortQ', 'test_portq')$$,
    '23503', 'export refers to a record it does not hold', 'a vote of an instance that is not in the file is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('dangling_project'), 'PortQ', 'test_portq')$$,
    '23503', 'export refers to a record it does not hold', 'an episode of a project that is not in the file is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('type'), 'PortQ', 'test_portq')$$,
    '22000', 'export holds a record of unknown type', 'a record of an unknown type is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('field'), 'PortQ', 'test_portq')$$,
    '22000', 'export holds an invalid record', 'a record without a required field is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('checksum'), 'PortQ', 'test_portq')$$,
    '22000', 'export holds a text that does not match its checksum', 'an episode whose text does not match its checksum is refused');
SELECT throws_ok($$SELECT memory.import_agent(pg_temp.bad('value'), 'PortQ', 'test_portq')$$,
    '22000', 'export holds a value this database refuses', 'a value outside the model''s rules is refused (after the agent was created: rolled back)');
SELECT throws_ok($$SELECT memory.import_agent((SELECT t FROM pg_temp.ex WHERE agent = 'PortA'), 'PortQ')$$,
    '22023', 'agent PortQ does not exist', 'a new agent without a login role to bind is refused');
SELECT throws_ok($$SELECT memory.import_agent((SELECT t FROM pg_temp.ex WHERE agent = 'PortA'), 'PortQ', 'test_portq', false)$$,
    '23505', 'ids of the export belong to another agent of this database', 'keeping ids that another agent holds is refused');
SELECT is(
    (SELECT ROW(b.*)::text FROM pg_temp.before AS b),
    (SELECT ROW((SELECT count(*) FROM memory.agents), (SELECT count(*) FROM memory.episodes),
                (SELECT count(*) FROM memory.blocks), (SELECT count(*) FROM memory.agent_imports))::text),
    'after all the refused files: no agent, episode, block or import record was written'
);
SELECT ok(NOT EXISTS (SELECT 1 FROM memory.agents WHERE name = 'PortQ'), 'the agent PortQ was never created');

-- the export and the import are generated from one description of the record types:
-- every field of a type read from a table is a column of that table, and the collision
-- check covers the eight types identified by one uuid
SELECT is(
    (SELECT count(*) FROM memory._export_fields() AS f
     WHERE f.tbl IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM information_schema.columns AS c
                       WHERE c.table_schema = 'memory' AND c.table_name = f.tbl AND c.column_name = f.key)),
    0::bigint, 'every field of a table-backed record type is a column of its table'
);
SELECT is(
    (SELECT array_agg(t.rtype ORDER BY t.rank) FROM memory._export_record_types() AS t
     INNER JOIN memory._export_fields() AS f ON f.rtype = t.rtype AND f.key = t.id_fields[1] AND f.jtype = 'uuid'
     WHERE cardinality(t.id_fields) = 1 AND t.tbl IS NOT NULL),
    ARRAY['project', 'episode', 'fact', 'block', 'checkpoint', 'working_memory', 'instance', 'decision'],
    'the eight record types identified by one uuid, those the collision check covers'
);

SELECT * FROM finish();
ROLLBACK;
