-- Isolation through views: the compatibility views with the old brain's names
-- (zep_episodic_memory, zep_semantic_memory, zep_working_memory) and every other view
-- of schema memory, taken from the catalog. An agent sees only its own rows through
-- them and cannot write through them; the worker and reader roles cannot read them.
BEGIN;
SELECT plan(20);

SELECT tests.make_agents('Alpha', 'Beta');

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);

-- The views of schema memory the current role may SELECT from.
CREATE FUNCTION pg_temp.readable_views()
RETURNS SETOF text
LANGUAGE sql
STABLE
AS $$
    SELECT c.relname::text FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('v', 'm')
      AND has_table_privilege(c.oid, 'SELECT')
    ORDER BY 1
$$;

-- A regular expression matching any of an agent's ids.
CREATE FUNCTION pg_temp.ids_pattern(who text)
RETURNS text
LANGUAGE sql
STABLE
AS $$ SELECT string_agg(i.id::text, '|') FROM pg_temp.ids AS i WHERE i.who = $1 $$;

CREATE FUNCTION pg_temp.seed(who text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    w text := lower(who);
    m text := w || '-secret-zq7';
    e1 uuid;
    f1 uuid;
    f2 uuid;
    f3 uuid;
BEGIN
    PERFORM tests.act_as(who);
    e1 := memory.remember(m || ' episode one', 0.7, ARRAY['tag-' || m], 'project ' || m);
    f1 := memory.learn_fact('concept ' || m, 'statement one ' || m, 0.6, ARRAY[e1]);
    f2 := memory.learn_fact('concept ' || m, 'statement two ' || m);
    f3 := memory.learn_fact('concept ' || m, 'statement three ' || m);
    PERFORM memory.invalidate_fact(f3);
    PERFORM memory.link_facts(f1, f2, 'supports');
    PERFORM memory.set_block('persona', 'I am ' || m);
    PERFORM memory.heartbeat('focus ' || m);
    PERFORM memory.register_instance('instance-' || w, 'primary', 'location ' || m);
    INSERT INTO pg_temp.ids VALUES
        (who, 'agent', memory.current_agent()), (who, 'episode', e1), (who, 'fact', f1), (who, 'fact2', f2),
        (who, 'closed_fact', f3),
        (who, 'working', memory.set_working_memory('task', jsonb_build_object('note', m), '1 hour', 'high', 'shared-key')),
        (who, 'decision', memory.propose_decision('topic ' || m, jsonb_build_object('proposal', m)));
    EXECUTE 'RESET SESSION AUTHORIZATION';
END
$$;

SELECT pg_temp.seed('Alpha');
SELECT pg_temp.seed('Beta');
CREATE TEMP TABLE alpha_before AS
SELECT
    (SELECT string_agg(md5(e::text), ',' ORDER BY e.episode_id) FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('Alpha', 'agent'))
    || (SELECT string_agg(md5(w::text), ',' ORDER BY w.working_id) FROM memory.working_memory AS w WHERE w.agent_id = pg_temp.id('Alpha', 'agent'))
    || (SELECT string_agg(md5(f::text), ',' ORDER BY f.fact_id) FROM memory.facts AS f WHERE f.agent_id = pg_temp.id('Alpha', 'agent'))
    AS fp;

-- ---------------------------------------------------------------- catalog
SELECT is(
    ARRAY(
        SELECT c.relname::text FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind = 'v'
          AND has_table_privilege('memory_agent', c.oid, 'SELECT')
          AND NOT coalesce('security_invoker=true' = ANY(c.reloptions), FALSE)
        ORDER BY 1
    ),
    '{}'::text[],
    'every view agents may read is security_invoker (the owner would bypass row-level security)'
);
SELECT is(
    ARRAY(
        SELECT c.relname::text FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind = 'm'
          AND has_table_privilege('memory_agent', c.oid, 'SELECT')
        ORDER BY 1
    ),
    '{}'::text[],
    'no materialized view (which row-level security cannot filter) is readable by agents'
);
SELECT is(
    ARRAY(
        SELECT v || ' ' || r.rolname FROM unnest(ARRAY['zep_episodic_memory', 'zep_semantic_memory', 'zep_working_memory']) AS v,
            (VALUES ('memory_worker'), ('memory_reader')) AS r (rolname)
        WHERE has_table_privilege(r.rolname, 'memory.' || v, 'SELECT')
        ORDER BY 1
    ),
    '{}'::text[],
    'memory_worker and memory_reader cannot read the zep_* compatibility views'
);

-- ---------------------------------------------------------------- Beta reads
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(
        SELECT v || ': ' || r FROM pg_temp.readable_views() AS v,
            LATERAL tests.count_of(format('SELECT count(*) FROM memory.%I AS x WHERE x::text LIKE %L', v, '%alpha-secret-zq7%')) AS r
        WHERE r <> '0'
        ORDER BY 1
    ),
    '{}'::text[],
    'no view of schema memory shows Beta any of Alpha''s text'
);
SELECT is(
    ARRAY(
        SELECT v || ': ' || r FROM pg_temp.readable_views() AS v,
            LATERAL tests.count_of(format('SELECT count(*) FROM memory.%I AS x WHERE x::text ~ %L', v, pg_temp.ids_pattern('Alpha'))) AS r
        WHERE r <> '0'
        ORDER BY 1
    ),
    '{}'::text[],
    'no view of schema memory shows Beta any of Alpha''s ids'
);
SELECT set_eq(
    'SELECT episode_id FROM memory.zep_episodic_memory',
    format('VALUES (%L::uuid)', pg_temp.id('Beta', 'episode')),
    'zep_episodic_memory shows Beta exactly its own episode'
);
SELECT set_eq(
    'SELECT semantic_id FROM memory.zep_semantic_memory',
    format('VALUES (%L::uuid), (%L::uuid)', pg_temp.id('Beta', 'fact'), pg_temp.id('Beta', 'fact2')),
    'zep_semantic_memory shows Beta exactly its own open facts'
);
SELECT is(
    (SELECT relationships FROM memory.zep_semantic_memory WHERE semantic_id = pg_temp.id('Beta', 'fact')),
    jsonb_build_array(jsonb_build_object('to', pg_temp.id('Beta', 'fact2'), 'relation', 'supports', 'strength', 1)),
    'the relationships of Beta''s fact in zep_semantic_memory are Beta''s one link'
);
SELECT set_eq(
    'SELECT working_id FROM memory.zep_working_memory',
    format('VALUES (%L::uuid)', pg_temp.id('Beta', 'working')),
    'zep_working_memory shows Beta exactly its own item (same key as Alpha''s)'
);
SELECT is(
    (SELECT count(*) FROM memory.zep_episodic_memory WHERE episode_id = pg_temp.id('Alpha', 'episode'))
    + (SELECT count(*) FROM memory.zep_semantic_memory WHERE semantic_id = pg_temp.id('Alpha', 'fact'))
    + (SELECT count(*) FROM memory.zep_working_memory WHERE working_id = pg_temp.id('Alpha', 'working')),
    0::bigint,
    'asking the zep_* views for Alpha''s ids by name returns nothing'
);

-- ---------------------------------------------------------------- Beta writes through views
SELECT throws_ok(
    format('UPDATE memory.zep_episodic_memory SET content = %L WHERE episode_id = %L', 'x', pg_temp.id('Alpha', 'episode')),
    '42501', 'permission denied for view zep_episodic_memory',
    'UPDATE through zep_episodic_memory (an auto-updatable view) is refused'
);
SELECT throws_ok(
    format('DELETE FROM memory.zep_episodic_memory WHERE episode_id = %L', pg_temp.id('Alpha', 'episode')),
    '42501', 'permission denied for view zep_episodic_memory',
    'DELETE through zep_episodic_memory is refused'
);
SELECT throws_ok(
    $$INSERT INTO memory.zep_episodic_memory (content) VALUES ('through the view')$$,
    '42501', 'permission denied for view zep_episodic_memory',
    'INSERT through zep_episodic_memory is refused'
);
SELECT throws_ok(
    format('DELETE FROM memory.zep_working_memory WHERE working_id = %L', pg_temp.id('Alpha', 'working')),
    '42501', 'permission denied for view zep_working_memory',
    'DELETE through zep_working_memory is refused'
);
SELECT is(
    ARRAY(
        SELECT c.relname || ' ' || op || ': ' || r
        FROM pg_class AS c,
            unnest(ARRAY['UPDATE', 'DELETE']) AS op,
            LATERAL tests.attempt(CASE op
                WHEN 'UPDATE' THEN format('UPDATE memory.%1$I SET %2$I = %2$I', c.relname,
                    (SELECT a.attname FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attnum = 1))
                ELSE format('DELETE FROM memory.%I', c.relname)
            END) AS r
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('v', 'm') AND r LIKE 'rows %'
        ORDER BY 1
    ),
    '{}'::text[],
    'no view of schema memory accepts UPDATE or DELETE from an agent'
);

-- ---------------------------------------------------------------- the other side
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT count(*) FROM memory.zep_episodic_memory WHERE episode_id = pg_temp.id('Alpha', 'episode'))
    + (SELECT count(*) FROM memory.zep_semantic_memory WHERE semantic_id = pg_temp.id('Alpha', 'fact'))
    + (SELECT count(*) FROM memory.zep_working_memory WHERE working_id = pg_temp.id('Alpha', 'working')),
    3::bigint,
    'Alpha does see its own rows through the zep_* views (the checks above are not vacuous)'
);
SELECT is(
    ARRAY(
        SELECT v || ': ' || r FROM pg_temp.readable_views() AS v,
            LATERAL tests.count_of(format('SELECT count(*) FROM memory.%I AS x WHERE x::text LIKE %L', v, '%beta-secret-zq7%')) AS r
        WHERE r <> '0'
        ORDER BY 1
    ),
    '{}'::text[],
    'no view of schema memory shows Alpha any of Beta''s text'
);

-- ---------------------------------------------------------------- operators' read-only role
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION memory_reader;
SELECT is(
    ARRAY(
        SELECT v || ': ' || r FROM pg_temp.readable_views() AS v,
            LATERAL tests.count_of(format(
                'SELECT count(*) FROM memory.%I AS x WHERE x::text LIKE %L OR x::text LIKE %L',
                v, '%alpha-secret-zq7%', '%beta-secret-zq7%'
            )) AS r
        WHERE r <> '0'
        ORDER BY 1
    ),
    '{}'::text[],
    'no view memory_reader may read shows any agent''s text (monitoring views carry counts, not memories)'
);
SET LOCAL SESSION AUTHORIZATION memory_worker;
SELECT is(
    ARRAY(SELECT pg_temp.readable_views()),
    '{}'::text[],
    'memory_worker can read no view of schema memory'
);

RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT string_agg(md5(e::text), ',' ORDER BY e.episode_id) FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('Alpha', 'agent'))
    || (SELECT string_agg(md5(w::text), ',' ORDER BY w.working_id) FROM memory.working_memory AS w WHERE w.agent_id = pg_temp.id('Alpha', 'agent'))
    || (SELECT string_agg(md5(f::text), ',' ORDER BY f.fact_id) FROM memory.facts AS f WHERE f.agent_id = pg_temp.id('Alpha', 'agent')),
    (SELECT fp FROM alpha_before),
    'Alpha''s episodes, facts and working memory are unchanged'
);

SELECT * FROM finish();
ROLLBACK;
