-- Search statements prepared once per session (memory._prepared): the same answers on
-- the first call and later ones, per role in one session, after DEALLOCATE, whatever
-- the client's float format; a statement of the same name with another source is never
-- run; a repeated query does not write to the shared query cache.
BEGIN;
SELECT plan(34);

SELECT tests.make_agents('Alpha', 'Beta', 'Gamma');
SELECT tests.make_id_table();
CREATE TEMP TABLE got (step text, pos bigint, episode_id uuid, score double precision) ON COMMIT DROP;
GRANT ALL ON got TO PUBLIC;

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('raft', memory.remember('We decided to use Raft for consensus between the instances.', 0.9, ARRAY['decision'],
                             NULL, '2025-10-01 10:00+00', '{}', 'session_1')),
    ('pg', memory.remember('Decidimos usar PostgreSQL como fuente de verdad para el consenso.', 0.7, NULL,
                           NULL, '2025-10-05 10:00+00', '{}', 'session_1')),
    ('hike', memory.remember('We went hiking in the mountains.', 0.2, NULL, NULL, '2025-09-01 10:00+00'));
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('beta', memory.remember('Beta keeps its own consensus notes, privately.'));
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(pg_temp.id('raft'), tests.unit_vector(ARRAY[1]));
SELECT tests.put_episode_vector(pg_temp.id('pg'), tests.unit_vector(ARRAY[1, 2]));
SELECT tests.put_episode_vector(pg_temp.id('hike'), tests.unit_vector(ARRAY[3]));
SELECT tests.put_episode_vector(pg_temp.id('beta'), tests.unit_vector(ARRAY[1]));
SELECT tests.cache_query_vector('consensus decisions', tests.unit_vector(ARRAY[1, 5]));

-- the first call prepares, the second reuses, the third runs after DEALLOCATE ALL
SELECT tests.act_as('Alpha');
INSERT INTO got SELECT 'first', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions') AS s;
SELECT cmp_ok(
    (SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'memory\_%'), '>=', 1::bigint,
    'the search left its statement prepared in the session'
);
INSERT INTO got SELECT 'second', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions') AS s;
DEALLOCATE ALL;
INSERT INTO got SELECT 'third', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions') AS s;
SET extra_float_digits = 0;
INSERT INTO got SELECT 'digits0', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions') AS s;
RESET extra_float_digits;
SELECT is((SELECT count(*) FROM got WHERE step = 'first'), 3::bigint, 'the first call returns the agent''s three episodes');
SELECT is(
    (SELECT count(*) FROM got AS a INNER JOIN got AS b USING (pos, episode_id, score) WHERE a.step = 'first' AND b.step = 'second'),
    3::bigint, 'the second call (prepared statement) returns the same rows, order and scores'
);
SELECT is(
    (SELECT count(*) FROM got AS a INNER JOIN got AS b USING (pos, episode_id, score) WHERE a.step = 'first' AND b.step = 'third'),
    3::bigint, 'after DEALLOCATE ALL the search prepares again and returns the same'
);
SELECT is(
    (SELECT count(*) FROM got AS a INNER JOIN got AS b USING (pos, episode_id, score) WHERE a.step = 'first' AND b.step = 'digits0'),
    3::bigint, 'a client with extra_float_digits = 0 gets exactly the same scores'
);
INSERT INTO got SELECT 'text', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions', mode => 'text') AS s;
-- the values cross as text: a client's date style and time zone do not change them
INSERT INTO got SELECT 'since', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions', since => '2025-09-30 23:30:00+00') AS s;
SET datestyle = 'SQL, DMY';
SET timezone = 'Pacific/Chatham';
INSERT INTO got SELECT 'since-styled', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions', since => '2025-09-30 23:30:00+00') AS s;
RESET datestyle;
RESET timezone;
SELECT is(
    (SELECT count(*) FROM got AS a INNER JOIN got AS b USING (pos, episode_id, score) WHERE a.step = 'since' AND b.step = 'since-styled'),
    2::bigint, 'a client''s date style and time zone give the same rows and scores (since filters the hike out)'
);
SELECT ok(
    (SELECT bool_and(m.same) FROM (
        SELECT ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions', mode => md) AS s)
               = ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions', mode => md) AS s)
               AS same
        FROM unnest(ARRAY['vector', 'text', 'hybrid']) AS md
    ) AS m)
    AND (SELECT count(*) FROM got WHERE step = 'text') >= 1,
    'every mode returns the same rows when repeated'
);

-- through the HNSW graph (the agent's chunk count above memory.exact_search_max_chunks):
-- the graph yields fewer rows than asked for here, so the exact ranking takes over, and
-- the answers are the same as the exact ranking's
SET memory.exact_search_max_chunks = 0;
INSERT INTO got SELECT 'graph', row_number() OVER (), s.episode_id, s.score
FROM memory.search_episodic_memory('consensus decisions') AS s;
SELECT is(
    (SELECT count(*) FROM got AS a JOIN got AS b USING (pos, episode_id, score) WHERE a.step = 'first' AND b.step = 'graph'),
    3::bigint, 'through the HNSW graph the search returns the same rows, order and scores'
);
SELECT is(
    (SELECT count(*) FROM memory.search_semantic_memory('consensus decisions')), 0::bigint,
    'fact search runs through the graph path too (this agent has no facts)'
);
SET memory.exact_search_max_chunks = 'many';
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('consensus decisions') $$, '22023',
    'memory.exact_search_max_chunks must be an integer between 0 and 1000000', 'a bad exact_search_max_chunks is refused');
SET memory.exact_search_max_chunks = 2000000;
SELECT throws_ok($$ SELECT * FROM memory.search_episodic_memory('consensus decisions') $$, '22023',
    'memory.exact_search_max_chunks must be an integer between 0 and 1000000', 'an exact_search_max_chunks too large is refused');
RESET memory.exact_search_max_chunks;

-- one session, two agents: the same statement text never shows one agent the other's rows
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions') AS s),
    ARRAY[pg_temp.id('beta')],
    'another agent in the same session, same query: only its own episode'
);
SELECT is(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions', mode => 'text') AS s),
    ARRAY[pg_temp.id('beta')],
    'the same for text mode'
);
SELECT tests.act_as('Alpha');
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('consensus decisions') AS s
     WHERE s.episode_id = pg_temp.id('beta')),
    0::bigint, 'back to the first agent: nothing of the other'
);

-- a statement of the same name with another source is replaced, never run
SELECT memory._prepared('SELECT $1 + 1', 'integer') AS stmt_name \gset
DEALLOCATE :"stmt_name";
PREPARE :"stmt_name" (integer) AS SELECT $1 + 1000;
SELECT is(memory._prepared('SELECT $1 + 1', 'integer'), :'stmt_name', 'the name depends on the source only');
SELECT is(
    (SELECT statement FROM pg_prepared_statements WHERE name = :'stmt_name'),
    format('PREPARE %I (integer) AS SELECT $1 + 1', :'stmt_name'),
    'a same-named statement with another source was deallocated and the right one prepared'
);
EXECUTE :"stmt_name"(1);

-- in a read-only transaction (as on a hot standby) a search still prepares and runs
DEALLOCATE ALL;
SAVEPOINT ro;
SET TRANSACTION READ ONLY;
SELECT is(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions', mode => 'text') AS s),
    ARRAY(SELECT g.episode_id FROM got AS g WHERE g.step = 'text' ORDER BY g.pos),
    'a read-only transaction prepares and runs the search'
);
ROLLBACK TO SAVEPOINT ro;
SELECT tests.act_as('Alpha');

-- the shared query cache: a repeated query writes nothing
RESET SESSION AUTHORIZATION;
UPDATE memory.query_embedding_cache SET hits = 0, last_used_at = now() - interval '2 minutes'
WHERE query_sha256 = memory._sha256('consensus decisions');
SELECT tests.act_as('Alpha');
SELECT memory.embed_query('consensus decisions') IS NOT NULL;
SELECT memory.embed_query('consensus decisions') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT hits FROM memory.query_embedding_cache WHERE query_sha256 = memory._sha256('consensus decisions')),
    1::bigint, 'two hits within a minute are written down once');
SELECT tests.act_as('Gamma');
SELECT memory.embed_query('consensus decisions') IS NOT NULL;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT hits FROM memory.query_embedding_cache WHERE query_sha256 = memory._sha256('consensus decisions')),
    2::bigint, 'the first hit of another agent is written down at once');
SELECT ok(
    (SELECT count(*) = 3 FROM memory.query_embedding_askers
     WHERE query_sha256 = memory._sha256('consensus decisions')
       AND agent_id IN (SELECT agent_id FROM memory.agents WHERE name IN ('Alpha', 'Beta', 'Gamma'))),
    'every agent that asked is recorded as an asker of the cached query'
);

-- the text list is one static statement whose plan the session keeps (custom plans
-- first, then a generic one): each filter gives, on every one of eight calls, exactly
-- the unfiltered text list's rows that pass it
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('orion', memory.remember('Consensus decisions of project orion.', 0.4, NULL, 'orion', '2025-10-03 10:00+00'));
CREATE TEMP TABLE filtered (filter text, pos integer, episode_id uuid) ON COMMIT DROP;
GRANT ALL ON filtered TO PUBLIC;
DO $$
BEGIN
    FOR i IN 1..8 LOOP
        INSERT INTO filtered SELECT 'none', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text') AS s;
        INSERT INTO filtered SELECT 'tags', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', tags => ARRAY['decision']) AS s;
        INSERT INTO filtered SELECT 'project', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', project => 'orion') AS s;
        INSERT INTO filtered SELECT 'session', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', session_id => 'session_1') AS s;
        INSERT INTO filtered SELECT 'since', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', since => '2025-10-02 00:00+00') AS s;
        INSERT INTO filtered SELECT 'until', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', until => '2025-10-02 00:00+00') AS s;
        INSERT INTO filtered SELECT 'min_importance', i, s.episode_id
        FROM memory.search_episodic_memory('consensus decisions', 100, mode => 'text', min_importance => 0.8) AS s;
    END LOOP;
END
$$;
CREATE TEMP TABLE passes (filter text, episode_id uuid) ON COMMIT DROP;
GRANT ALL ON passes TO PUBLIC;
INSERT INTO passes
SELECT f.filter, e.episode_id
FROM (SELECT DISTINCT episode_id FROM filtered WHERE filter = 'none') AS n
JOIN memory.episodes AS e ON e.episode_id = n.episode_id
LEFT JOIN memory.projects AS p ON p.project_id = e.project_id
CROSS JOIN (VALUES ('tags'), ('project'), ('session'), ('since'), ('until'), ('min_importance')) AS f (filter)
WHERE CASE f.filter
          WHEN 'tags' THEN e.tags @> ARRAY['decision']
          WHEN 'project' THEN p.name = 'orion'
          WHEN 'session' THEN e.session_id = 'session_1'
          WHEN 'since' THEN e.occurred_at >= '2025-10-02 00:00+00'
          WHEN 'until' THEN e.occurred_at <= '2025-10-02 00:00+00'
          WHEN 'min_importance' THEN e.importance >= 0.8
      END;
SELECT ok(
    (SELECT count(DISTINCT episode_id) >= 2 FROM filtered WHERE filter = 'none')
    AND (SELECT count(DISTINCT filter) = 6 FROM passes),
    'the unfiltered text list has rows that pass each filter and rows that do not'
);
SELECT set_eq(
    format($$SELECT pos, episode_id FROM filtered WHERE filter = %L$$, f.filter),
    format($$SELECT i, p.episode_id FROM passes AS p CROSS JOIN generate_series(1, 8) AS i WHERE p.filter = %L$$, f.filter),
    format('text list filtered by %s: the passing rows of the unfiltered list, on each of eight calls', f.filter)
)
FROM (VALUES ('tags'), ('project'), ('session'), ('since'), ('until'), ('min_importance')) AS f (filter);

-- a question of more than eight words: the text list writes out the first eight terms'
-- weights and sums the rest in a subquery; the score is the sum of all of them
SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('many', memory.remember('kiwi mango papaya guava lychee durian quince apricot nectarine tangerine'));
SELECT ok(
    abs((SELECT s.text_score FROM memory.search_episodic_memory(
             'kiwi mango papaya guava lychee durian quince apricot nectarine tangerine', 10, mode => 'text') AS s
         WHERE s.episode_id = pg_temp.id('many'))
        - (SELECT sum(w.weight) FROM memory._term_weights(memory._query_terms(
             'kiwi mango papaya guava lychee durian quince apricot nectarine tangerine'), 'episodes') AS w)) < 1e-9
    AND (SELECT count(*) FROM memory._term_weights(memory._query_terms(
             'kiwi mango papaya guava lychee durian quince apricot nectarine tangerine'), 'episodes')) = 10,
    'a question of ten words that the episode holds: its text score is the sum of the ten weights'
);

-- the exact-ranking decision is remembered by the session (memory.rank_exactly_cache),
-- keyed by user, agent, model and bound: an answer computed for another user is never
-- served, and a value the session writes itself moves only its own searches
RESET SESSION AUTHORIZATION;
SET memory.exact_search_max_chunks = 0;
SELECT is(
    memory._rank_exactly((SELECT agent_id FROM memory.agents WHERE name = 'Beta'), (SELECT model_id FROM memory._serving_model())),
    FALSE, 'the superuser sees Beta''s chunk: over a bound of 0'
);
SELECT tests.act_as('Alpha');
SELECT is(
    memory._rank_exactly((SELECT agent_id FROM memory.agents WHERE name = 'Beta'), (SELECT model_id FROM memory._serving_model())),
    TRUE, 'in the same session Alpha asks the same about Beta: the cached answer is not served (Alpha sees no chunk of Beta)'
);
RESET memory.exact_search_max_chunks;
SET memory.rank_exactly_cache = 'not/a/cache/value';
SELECT is(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions') AS s WHERE s.episode_id <> pg_temp.id('orion')),
    ARRAY(SELECT g.episode_id FROM got AS g WHERE g.step = 'first' ORDER BY g.pos),
    'a malformed cache value is ignored'
);
SELECT ok(
    current_setting('memory.rank_exactly_cache') ~ '^[0-9a-f]{32}/[0-9]+/[tf]$'
    AND strpos(current_setting('memory.rank_exactly_cache'), memory.current_agent()::text) = 0,
    'the remembered answer names no agent and no user in clear (an md5 of its key)'
);
SELECT set_config('memory.rank_exactly_cache',
    format('%s/%s/f', md5(format('%s/%s/%s/%s/10000', session_user, current_user, memory.current_agent(),
                                 (SELECT model_id FROM memory._serving_model()))),
           floor(extract(EPOCH FROM clock_timestamp()))::bigint),
    false) IS NOT NULL AS forged;
SELECT is(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('consensus decisions') AS s WHERE s.episode_id <> pg_temp.id('orion')),
    ARRAY(SELECT g.episode_id FROM got AS g WHERE g.step = 'first' ORDER BY g.pos),
    'a forged cache value sends the agent''s own search through the graph: the same rows'
);
SELECT ok(current_setting('memory.rank_exactly_cache') ~ '/f$',
          'the forged answer was served, not counted again (Alpha holds few chunks: a count says t)');
RESET memory.rank_exactly_cache;

SELECT * FROM finish();
ROLLBACK;
