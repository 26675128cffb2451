-- Isolation of the functions added after the memory model (issues 4 to 8): search
-- (both overloads of search_episodic_memory, search_semantic_memory, every mode and
-- filter; the exact-ranking path, the HNSW path, the vector-only path through a cached
-- query vector and the full-text fallback), build_context and build_context_text, the
-- helpers agents may call, access statistics, and the operators' functions (cache,
-- health, export, checkpoints, queue). Agent Beta works against agent Alpha:
--   * nothing Beta is given (rows, scores, contexts, errors) carries Alpha's text or ids;
--   * Beta's results are identical, to the last digit of every score, before and after
--     Alpha stores 170 episodes and 150 facts that match Beta's queries better than
--     Beta's own rows (and vectors at distance 0): search ranks only Beta's rows. The
--     two documented shared statistics (README "Known limits") are not exercised: the query
--     cache answers Beta's cached queries alike in both phases, and the common-lexeme
--     list comes from committed statistics only (nothing here is committed);
--   * names and ids only Alpha uses behave like names and ids nobody uses;
--   * what agents may not call is refused with 42501, whatever the arguments;
--   * the operators' functions keep agents apart (checkpoint_now, export_agent) and the
--     monitoring role's functions carry no memory text.
-- The embed daemon is made unreachable for the transaction: a query is embedded only
-- through the query cache (tests.cache_query_vector), so vector results are exact.
-- On the HNSW path (agents with over 10,000 chunks) the graph is shared, and a dense
-- cluster of Alpha's vectors next to Beta's query can strand Beta's walk: search then
-- falls back to exact ranking, and the results must not change.
BEGIN;
SELECT plan(52);

SELECT tests.make_agents('Alpha', 'Beta');
SELECT tests.daemon_unreachable();
-- Vectors go to a model of this transaction (8 dimensions, its own partial HNSW index,
-- gone at ROLLBACK): the graph of the real model is left alone (an aborted insert
-- stays in an HNSW graph until VACUUM repairs it).
SELECT memory.register_embedding_model('iso-exact-8d', 'isolation test', 8) IS NOT NULL AS registered;
UPDATE memory.embedding_models SET is_serving = FALSE WHERE is_serving;
UPDATE memory.embedding_models SET is_serving = TRUE WHERE name = 'iso-exact-8d';

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);
-- The FROM items Beta evaluates in each phase, and what they returned.
CREATE TEMP TABLE calls (name text PRIMARY KEY, src text NOT NULL);
GRANT ALL ON calls TO PUBLIC;
CREATE TEMP TABLE results (phase text, name text, rows text [], PRIMARY KEY (phase, name));
GRANT ALL ON results TO PUBLIC;
SELECT tests.make_error_log();
CREATE TEMP TABLE kept (k text PRIMARY KEY, v text);
GRANT ALL ON kept TO PUBLIC;

-- Evaluates every call as the current session and keeps each result as an array of
-- row texts in result order (an error is kept as its SQLSTATE and message).
CREATE FUNCTION pg_temp.capture(phase text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    c record;
    r text [];
BEGIN
    FOR c IN SELECT * FROM pg_temp.calls ORDER BY name LOOP
        BEGIN
            EXECUTE format('SELECT coalesce(array_agg(s::text ORDER BY s.ordinality), ''{}'') FROM %s WITH ORDINALITY AS s', c.src)
            INTO r;
        EXCEPTION WHEN OTHERS THEN
            r := ARRAY['error ' || SQLSTATE || ': ' || SQLERRM];
            INSERT INTO pg_temp.seen_errors VALUES (SQLERRM);
        END;
        INSERT INTO pg_temp.results VALUES (phase, c.name, r);
    END LOOP;
END
$$;

-- A call of the function with a NULL of each argument type (the privilege check comes
-- before anything runs). Each NULL is a subquery: the planner folds a STRICT function
-- of constant NULLs to NULL without checking the privilege.
CREATE FUNCTION pg_temp.null_call(f regprocedure)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT format(CASE WHEN p.prokind = 'p' THEN 'CALL %s(%s)' ELSE 'SELECT %s(%s)' END, p.oid::regproc,
                  (SELECT string_agg(CASE WHEN p.prokind = 'p' THEN 'NULL::' || format_type(t, NULL)
                                          ELSE '(SELECT NULL::' || format_type(t, NULL) || ')' END, ', ' ORDER BY o)
                   FROM unnest(p.proargtypes::oid []) WITH ORDINALITY AS a (t, o)))
    FROM pg_catalog.pg_proc AS p WHERE p.oid = f
$$;

-- A regular expression matching every id of the agent's rows (and the agent's own).
CREATE FUNCTION pg_temp.ids_of(agent uuid)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT string_agg(x.id::text, '|')
    FROM (
        SELECT agent AS id
        UNION ALL SELECT e.episode_id FROM memory.episodes AS e WHERE e.agent_id = agent
        UNION ALL SELECT f.fact_id FROM memory.facts AS f WHERE f.agent_id = agent
        UNION ALL SELECT w.working_id FROM memory.working_memory AS w WHERE w.agent_id = agent
        UNION ALL SELECT b.block_id FROM memory.blocks AS b WHERE b.agent_id = agent
        UNION ALL SELECT c.checkpoint_id FROM memory.checkpoints AS c WHERE c.agent_id = agent
        UNION ALL SELECT p.project_id FROM memory.projects AS p WHERE p.agent_id = agent
        UNION ALL SELECT i.instance_id FROM memory.instances AS i WHERE i.agent_id = agent
        UNION ALL SELECT d.decision_id FROM memory.decisions AS d WHERE d.agent_id = agent
    ) AS x
$$;

-- Sum of the index scans of the HNSW indexes of memory.chunks in this transaction.
CREATE FUNCTION pg_temp.hnsw_scans()
RETURNS bigint
LANGUAGE sql
VOLATILE
AS $$
    SELECT coalesce(sum(pg_stat_get_xact_numscans(i.indexrelid)), 0)::bigint
    FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam
    WHERE i.indrelid = 'memory.chunks'::regclass AND a.amname = 'hnsw'
$$;

-- An agent's memory through the API, a marker in every text; words Beta will search
-- for ("quokka telescope") in both agents' rows. Vectors are written as the daemon
-- would: e1 at the cached query vector's direction, the others away from it.
CREATE FUNCTION pg_temp.seed(who text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    w text := lower(who);
    m text := w || '-secret-zq7';
    e1 uuid;
    e2 uuid;
    e3 uuid;
    f1 uuid;
    f2 uuid;
    f3 uuid;
    i1 uuid;
BEGIN
    PERFORM tests.act_as(who);
    e1 := memory.remember(m || ' quokka telescope observatory night', 0.6, ARRAY['shared-tag', 'tag-' || m],
                          'shared-project', now() - interval '1 hour', jsonb_build_object('secret', m), 'shared-session');
    e2 := memory.remember(m || ' quokka migration notes', 0.3, ARRAY['shared-tag'], 'project-' || m,
                          now() - interval '10 days', '{}', 'session-' || m);
    e3 := memory.remember(m || ' gardening diary about telescope lenses', 0.9, '{}', NULL, now() - interval '3 days');
    f1 := memory.learn_fact('quokka', m || ' quokka telescopes see far', 0.8, ARRAY[e1]);
    f2 := memory.learn_fact('telescope', m || ' a telescope needs dark nights', 0.4);
    f3 := memory.learn_fact('quokka', m || ' quokka telescope closed fact', 0.5);
    PERFORM memory.invalidate_fact(f3);
    PERFORM memory.link_facts(f1, f2, 'supports');
    INSERT INTO pg_temp.ids VALUES
        (who, 'agent', memory.current_agent()), (who, 'e1', e1), (who, 'e2', e2), (who, 'e3', e3),
        (who, 'f1', f1), (who, 'f2', f2), (who, 'f3', f3),
        (who, 'w1', memory.set_working_memory('task', jsonb_build_object('note', m || ' quokka'), '1 hour', 'high', 'shared-key')),
        (who, 'w2', memory.set_working_memory('mood', jsonb_build_object('note', m), '2 hours', 'low'));
    PERFORM memory.set_block('persona', 'I am ' || m || ', I watch quokkas through a telescope');
    PERFORM memory.set_block('shared_label', 'shared label of ' || m);
    INSERT INTO pg_temp.ids VALUES (who, 'checkpoint', memory.create_checkpoint('manual', jsonb_build_object('secret', m)));
    PERFORM memory.heartbeat('focus ' || m);
    i1 := memory.register_instance('shared-instance', 'primary', 'location ' || m);
    INSERT INTO pg_temp.ids VALUES (who, 'instance', i1),
        (who, 'decision', memory.propose_decision('topic ' || m, jsonb_build_object('proposal', m)));
    PERFORM memory.vote(pg_temp.id(who, 'decision'), i1, TRUE);
    EXECUTE 'RESET SESSION AUTHORIZATION';
    PERFORM tests.put_episode_vector(e1, tests.unit_vector(ARRAY[1], 8));
    PERFORM tests.put_episode_vector(e2, tests.unit_vector(ARRAY[1, 2], 8));
    PERFORM tests.put_episode_vector(e3, tests.unit_vector(ARRAY[1, 2, 3], 8));
    PERFORM tests.put_fact_vector(f1, tests.unit_vector(ARRAY[1], 8));
    PERFORM tests.put_fact_vector(f2, tests.unit_vector(ARRAY[1, 2], 8));
    PERFORM tests.put_fact_vector(f3, tests.unit_vector(ARRAY[1], 8));
END
$$;

SELECT pg_temp.seed('Alpha');
SELECT pg_temp.seed('Beta');
SELECT tests.cache_query_vector('quokka telescope', tests.unit_vector(ARRAY[1], 8));
SELECT tests.cache_query_vector('night sky', tests.unit_vector(ARRAY[2, 3], 8));
INSERT INTO ids VALUES ('nobody', 'a', gen_random_uuid());
INSERT INTO kept VALUES ('alpha stored', tests.stored(pg_temp.id('Alpha', 'agent')));

-- What Beta evaluates. Pairs *_alpha / *_nobody pass a name only Alpha uses and a name
-- nobody uses.
INSERT INTO calls VALUES
    ('ep_hybrid', $$memory.search_episodic_memory('quokka telescope')$$),
    ('ep_text', $$memory.search_episodic_memory('quokka telescope', mode => 'text')$$),
    ('ep_vector', $$memory.search_episodic_memory('quokka telescope', mode => 'vector')$$),
    ('ep_vector_night', $$memory.search_episodic_memory('night sky', 50, 'vector')$$),
    ('ep_fallback', $$memory.search_episodic_memory('quokka telescope uncached zq7')$$),
    ('ep_fallback_vector', $$memory.search_episodic_memory('quokka telescope uncached zq7', mode => 'vector')$$),
    ('ep_alpha_words', $$memory.search_episodic_memory('alpha-secret-zq7 observatory night', mode => 'text')$$),
    ('ep_k1', $$memory.search_episodic_memory('quokka telescope', 1)$$),
    ('ep_tags_shared', $$memory.search_episodic_memory('quokka telescope', tags => ARRAY['shared-tag'])$$),
    ('ep_tags_own', $$memory.search_episodic_memory('quokka telescope', tags => ARRAY['tag-beta-secret-zq7'])$$),
    ('ep_tags_alpha', $$memory.search_episodic_memory('quokka telescope', tags => ARRAY['tag-alpha-secret-zq7'])$$),
    ('ep_tags_nobody', $$memory.search_episodic_memory('quokka telescope', tags => ARRAY['tag-nobody-secret-zq7'])$$),
    ('ep_project_shared', $$memory.search_episodic_memory('quokka telescope', project => 'shared-project')$$),
    ('ep_project_own', $$memory.search_episodic_memory('quokka telescope', project => 'project-beta-secret-zq7')$$),
    ('ep_project_alpha', $$memory.search_episodic_memory('quokka telescope', project => 'project-alpha-secret-zq7')$$),
    ('ep_project_nobody', $$memory.search_episodic_memory('quokka telescope', project => 'project-nobody-secret-zq7')$$),
    ('ep_session_shared', $$memory.search_episodic_memory('quokka telescope', session_id => 'shared-session')$$),
    ('ep_session_alpha', $$memory.search_episodic_memory('quokka telescope', session_id => 'session-alpha-secret-zq7')$$),
    ('ep_session_nobody', $$memory.search_episodic_memory('quokka telescope', session_id => 'session-nobody-secret-zq7')$$),
    ('ep_since', $$memory.search_episodic_memory('quokka telescope', since => now() - interval '2 days')$$),
    ('ep_until', $$memory.search_episodic_memory('quokka telescope', until => now() - interval '2 days')$$),
    ('ep_min_importance', $$memory.search_episodic_memory('quokka telescope', min_importance => 0.5)$$),
    ('ep_all_filters', $$memory.search_episodic_memory('quokka telescope', 5, 'vector', ARRAY['shared-tag'], 'shared-project',
        'shared-session', now() - interval '1 day', now(), 0.1)$$),
    ('ep_weights', $$memory.search_episodic_memory('quokka telescope', recency_weight => 0, importance_weight => 0,
        text_weight => 1, candidates => 1000, neighbour_weight => 1, neighbour_seeds => 100)$$),
    ('ep_private_body', $$memory._search_episodes('quokka telescope', 10, 'hybrid', NULL, NULL, NULL, NULL, NULL, NULL,
        0.1, 0.1, interval '30 days', 0.3, NULL, 0.8, 5, 0.6, false)$$),
    -- include_shared (migration 028): no grant exists, so nothing of Alpha's may count
    ('ep_shared_hybrid', $$memory.search_episodic_memory('quokka telescope', include_shared => true)$$),
    ('ep_shared_text', $$memory.search_episodic_memory('alpha-secret-zq7 observatory night', mode => 'text',
        include_shared => true)$$),
    ('ep_shared_private_body', $$memory._search_episodes('quokka telescope', 10, 'hybrid', NULL, NULL, NULL, NULL,
        NULL, NULL, 0.1, 0.1, interval '30 days', 0.3, NULL, 0.8, 5, 0.6, true)$$),
    ('ep_seed_vector', $$memory.search_episodic_memory(tests.unit_vector(ARRAY[1], 8), 50, -1)$$),
    ('fa_hybrid', $$memory.search_semantic_memory('quokka telescope')$$),
    ('fa_text', $$memory.search_semantic_memory('quokka telescope', mode => 'text')$$),
    ('fa_vector', $$memory.search_semantic_memory('quokka telescope', mode => 'vector')$$),
    ('fa_fallback', $$memory.search_semantic_memory('quokka telescope uncached zq7')$$),
    ('fa_invalid', $$memory.search_semantic_memory('quokka telescope', 50, include_invalid => true)$$),
    ('fa_as_of', $$memory.search_semantic_memory('quokka telescope', as_of => now() + interval '1 day')$$),
    ('fa_weights', $$memory.search_semantic_memory('quokka telescope', 3, confidence_weight => 0, text_weight => 0)$$),
    ('ctx_big', $$memory.build_context('quokka telescope', 100000)$$),
    ('ctx_small', $$memory.build_context('quokka telescope', 120)$$),
    ('ctx_tight', $$memory.build_context('quokka telescope', 40, 1, 1)$$),
    ('ctx_no_query', $$memory.build_context(NULL, 100000)$$),
    ('ctx_fallback', $$memory.build_context('quokka telescope uncached zq7', 100000)$$),
    ('ctx_text', $$memory.build_context_text('quokka telescope', 100000)$$),
    ('ctx_text_small', $$memory.build_context_text('quokka telescope', 120)$$),
    ('wm', $$memory.get_working_memory()$$),
    ('blocks', $$memory.get_blocks()$$),
    ('history', $$memory.block_history('shared_label')$$),
    ('identity', $$memory.identity_hash()$$);

-- ---------------------------------------------------------------- Beta, before
SELECT tests.act_as('Beta');
SELECT pg_temp.capture('before');
RESET SESSION AUTHORIZATION;

SELECT is(
    (SELECT count(*) FROM results WHERE phase = 'before' AND rows[1] LIKE 'error%'),
    0::bigint,
    'every search, context and read Beta makes works (no call errors)'
);
SELECT is(
    ARRAY(SELECT name FROM results WHERE phase = 'before' AND cardinality(rows) = 0 ORDER BY 1),
    ARRAY['ep_project_alpha', 'ep_project_nobody', 'ep_session_alpha', 'ep_session_nobody', 'ep_tags_alpha', 'ep_tags_nobody'],
    'every call returns some of Beta''s memory, except the filters on names Beta does not use (the checks below are not vacuous)'
);
SELECT tests.act_as('Beta');
SELECT is(
    -- the search's own order, best first (hence no ORDER BY before the LIMIT)
    (SELECT s.episode_id FROM memory.search_episodic_memory('quokka telescope') AS s LIMIT 1),  -- noqa: AM09
    pg_temp.id('Beta', 'e1'),
    'exact-ranking path: Beta''s hybrid search ranks Beta''s own best episode first'
);
SELECT ok(
    (SELECT bool_and(s.vector_score > 0.999 AND s.text_score > 0)
     FROM memory.search_episodic_memory('quokka telescope') AS s WHERE s.episode_id = pg_temp.id('Beta', 'e1')),
    'the hybrid search used both lists (vector similarity 1 through the cached query vector, and full text)'
);
SELECT ok(
    (SELECT count(*) > 0 AND bool_and(s.text_score IS NULL AND s.vector_score IS NOT NULL)
     FROM memory.search_episodic_memory('quokka telescope', mode => 'vector') AS s),
    'vector mode took the vector-only path (no text score on any row)'
);
SELECT ok(
    (SELECT count(*) > 0 AND bool_and(s.vector_score IS NULL)
     FROM memory.search_episodic_memory('quokka telescope uncached zq7') AS s)
    AND (memory.build_context('quokka telescope uncached zq7', 100000) ->> 'search_degraded')::boolean,
    'an uncached query with the daemon unreachable took the full-text fallback (no vector score, search_degraded)'
);
RESET SESSION AUTHORIZATION;

SELECT is(
    ARRAY(SELECT name FROM results WHERE array_to_string(rows, ' ') LIKE '%alpha-secret-zq7%' ORDER BY 1),
    '{}'::text [],
    'no result of any of Beta''s searches, contexts or reads carries Alpha''s text (not even for Alpha''s exact words)'
);
SELECT is(
    ARRAY(SELECT name FROM results WHERE array_to_string(rows, ' ') ~ pg_temp.ids_of(pg_temp.id('Alpha', 'agent')) ORDER BY 1),
    '{}'::text [],
    'no result of any of Beta''s calls carries any of Alpha''s ids'
);
SELECT is(
    ARRAY(
        SELECT a.name || ' <> ' || n.name FROM results AS a INNER JOIN results AS n ON n.phase = a.phase
            AND n.name = replace(a.name, '_alpha', '_nobody')
        WHERE a.phase = 'before' AND a.name LIKE '%\_alpha' AND a.name <> 'ep_alpha_words' AND a.rows IS DISTINCT FROM n.rows
        ORDER BY 1
    ),
    '{}'::text [],
    'a tag, project or session only Alpha uses filters Beta''s search exactly like one nobody uses'
);
SELECT is(
    (SELECT count(*) FROM results WHERE phase = 'before' AND name IN ('ep_tags_alpha', 'ep_project_alpha', 'ep_session_alpha')),
    3::bigint,
    'the three filters on Alpha''s names were evaluated'
);
SELECT is(
    tests.stored(pg_temp.id('Alpha', 'agent')),
    (SELECT v FROM kept WHERE k = 'alpha stored'),
    'Beta''s searches and contexts changed nothing of Alpha''s (access log included)'
);

-- ---------------------------------------------------------------- budget accounting
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(
        SELECT b.budget::text
        FROM (VALUES (100000, 7, 20), (2000, 7, 20), (120, 7, 20), (40, 1, 1), (60, 0, 1)) AS b (budget, wm, cand),
            LATERAL (SELECT memory.build_context('quokka telescope', b.budget, b.wm, b.cand) AS ctx) AS c
        WHERE (c.ctx ->> 'token_estimate')::integer > b.budget
           OR (c.ctx ->> 'token_estimate')::integer IS DISTINCT FROM (
               SELECT CASE WHEN count(*) = 0 THEN 0 ELSE 24 + sum((i ->> 'tokens')::integer) END
               FROM unnest(ARRAY['blocks', 'working_memory', 'episodes', 'facts']) AS sec,
                   LATERAL jsonb_array_elements(c.ctx -> sec) AS i
           )
        ORDER BY 1
    ),
    '{}'::text [],
    'at every budget the token_estimate is 24 plus the tokens of the items the context holds, within the budget: nothing unseen is counted'
);
RESET SESSION AUTHORIZATION;
SELECT tests.act_as('Beta');
SELECT ok(
    (SELECT (c ->> 'token_estimate')::integer <= 40 AND (c -> 'omitted' ->> 'blocks')::integer > 0
     FROM memory.build_context('quokka telescope', 40, 1, 1) AS c),
    'a tight budget is kept and leaves Beta''s own items out (omitted counts them)'
);
SELECT is(
    (SELECT (c -> 'omitted')::text FROM memory.build_context('quokka telescope', 100000) AS c),
    '{"facts": 0, "blocks": 0, "episodes": 0, "working_memory": 0}',
    'with room for everything nothing is omitted'
);
SELECT is(
    (SELECT jsonb_array_length(c -> 'working_memory') FROM memory.build_context('quokka telescope', 100000) AS c),
    2,
    'build_context holds Beta''s two working-memory items (the same key as Alpha''s item) and no other'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- Alpha stores many better matches
SELECT tests.act_as('Alpha');
SELECT count(memory.remember('alpha-secret-zq7 quokka telescope observatory night quokka telescope ' || i, 1.0,
                             ARRAY['shared-tag', 'tag-beta-secret-zq7'], 'shared-project', now(), '{}', 'shared-session'))
FROM generate_series(1, 150) AS i;
SELECT count(memory.remember('alpha-secret-zq7 quokka telescope migration ' || i, 1.0, ARRAY['shared-tag'],
                             'project-beta-secret-zq7', now(), '{}', 'session-beta-secret-zq7'))
FROM generate_series(1, 20) AS i;
SELECT count(memory.learn_fact('quokka telescope', 'alpha-secret-zq7 quokka telescope quokka telescope ' || i, 1.0))
FROM generate_series(1, 150) AS i;
SELECT count(memory.set_working_memory('task', jsonb_build_object('note', 'alpha-secret-zq7 ' || i), '1 hour', 'critical'))
FROM generate_series(1, 20) AS i;
SELECT count(memory.set_block('bulk_' || i, 'alpha-secret-zq7 quokka telescope ' || i)) FROM generate_series(1, 20) AS i;
SELECT memory.set_block('shared_label', 'Alpha changed the shared label');
RESET SESSION AUTHORIZATION;
SELECT count(tests.put_episode_vector(e.episode_id, tests.unit_vector(ARRAY[1], 8)))
FROM memory.episodes AS e
WHERE e.agent_id = pg_temp.id('Alpha', 'agent') AND NOT EXISTS (SELECT 1 FROM memory.chunks AS c WHERE c.episode_id = e.episode_id);
SELECT count(tests.put_fact_vector(f.fact_id, tests.unit_vector(ARRAY[1], 8)))
FROM memory.facts AS f
WHERE f.agent_id = pg_temp.id('Alpha', 'agent') AND NOT EXISTS (SELECT 1 FROM memory.chunks AS c WHERE c.fact_id = f.fact_id);
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c INNER JOIN memory._serving_model() AS m ON m.model_id = c.model_id
     WHERE c.agent_id = pg_temp.id('Alpha', 'agent')),
    326::bigint,
    'Alpha now holds 326 vectors of the serving model, most of them exactly at the query''s direction'
);
INSERT INTO kept VALUES ('alpha stored after bulk', tests.stored(pg_temp.id('Alpha', 'agent')));

-- ---------------------------------------------------------------- Beta, after
SELECT tests.act_as('Beta');
SELECT pg_temp.capture('after');
RESET SESSION AUTHORIZATION;

SELECT is(
    ARRAY(
        SELECT b.name FROM results AS b INNER JOIN results AS a ON a.name = b.name AND a.phase = 'after'
        WHERE b.phase = 'before' AND a.rows IS DISTINCT FROM b.rows
        ORDER BY 1
    ),
    '{}'::text [],
    'every result (ids, ranks, scores, matched chunks, contexts, budgets) is identical after Alpha stored 170 better-matching episodes, 150 facts, 20 critical working-memory items and 20 blocks'
);
SELECT is(
    (SELECT count(*) FROM results WHERE phase = 'after'),
    (SELECT count(*) FROM calls),
    'every call was evaluated again'
);

-- ---------------------------------------------------------------- errors
SELECT tests.act_as('Beta');
SELECT is(
    tests.failure($$SELECT * FROM memory.search_episodic_memory('alpha-secret-zq7', k => 0, project => 'project-alpha-secret-zq7')$$),
    tests.failure($$SELECT * FROM memory.search_episodic_memory('alpha-secret-zq7', k => 0, project => 'project-nobody-secret-zq7')$$),
    'a refused search naming Alpha''s project fails exactly like one naming a project nobody has'
);
SELECT is(
    tests.failure($$SELECT * FROM memory.search_episodic_memory('quokka', mode => 'vector', tags => ARRAY['tag-alpha-secret-zq7'], min_importance => 2)$$),
    tests.failure($$SELECT * FROM memory.search_episodic_memory('quokka', mode => 'vector', tags => ARRAY['tag-nobody-secret-zq7'], min_importance => 2)$$),
    'a refused search with Alpha''s tag fails exactly like one with a tag nobody has'
);
SELECT is(
    tests.failure($$SELECT * FROM memory.search_semantic_memory('quokka telescope', mode => 'sideways')$$),
    '22023: unknown search mode ''sideways'' / detail:  / hint: mode is one of hybrid, vector, text',
    'a refused semantic search says only what was wrong with Beta''s own argument'
);
SELECT is(
    tests.failure($$SELECT memory.build_context('quokka telescope', 0)$$),
    '22023: token_budget must be between 1 and 1,000,000 / detail:  / hint: pass the number of prompt tokens the context may use, e.g. 2000',
    'a refused build_context says only what was wrong with the budget'
);
SELECT is(
    memory._rank_exactly(pg_temp.id('Alpha', 'agent'), (SELECT model_id FROM memory._serving_model())),
    memory._rank_exactly(pg_temp.id('nobody', 'a'), (SELECT model_id FROM memory._serving_model())),
    'memory._rank_exactly (agents may call it) answers for Alpha''s agent id as for an id nobody has'
);
SELECT is(
    memory.episode_embedding(pg_temp.id('Alpha', 'e1')),
    memory.episode_embedding(pg_temp.id('nobody', 'a')),
    'episode_embedding of Alpha''s episode answers as for an id nobody has'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- the HNSW path
-- Over 10,000 chunks an agent's vector list walks the shared HNSW graph instead of
-- ranking exactly (memory._rank_exactly). Another 8-dimensional model serves search
-- for the rest of the transaction, so that its graph starts empty. Beta gets 10,001 filler
-- chunks in random directions (one filler episode); sorting is discouraged so that the
-- planner walks the index. Beta searches before and after Alpha adds 326 vectors
-- nearer to the query than any of Beta's but the first.
SELECT memory.register_embedding_model('iso-hnsw-8d', 'isolation test', 8) IS NOT NULL AS registered;
UPDATE memory.embedding_models SET is_serving = FALSE WHERE is_serving;
UPDATE memory.embedding_models SET is_serving = TRUE WHERE name = 'iso-hnsw-8d';
SELECT tests.cache_query_vector('quokka telescope', tests.unit_vector(ARRAY[1], 8));
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('Beta', 'filler', memory.remember('filler zzz'));
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(pg_temp.id('Beta', 'e1'), tests.unit_vector(ARRAY[1], 8));
SELECT tests.put_episode_vector(pg_temp.id('Beta', 'e2'), tests.unit_vector(ARRAY[1, 2], 8));
SELECT tests.put_episode_vector(pg_temp.id('Beta', 'e3'), tests.unit_vector(ARRAY[1, 2, 3], 8));
SELECT tests.put_fact_vector(pg_temp.id('Beta', 'f1'), tests.unit_vector(ARRAY[1], 8));
SELECT tests.put_fact_vector(pg_temp.id('Beta', 'f2'), tests.unit_vector(ARRAY[1, 2], 8));
INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
SELECT e.agent_id, e.episode_id, m.model_id, i, 0, 10, e.content_sha256,
       ('[' || (SELECT string_agg((random() - 0.5)::text, ',') FROM generate_series(1, 8) AS d WHERE i >= 0) || ']')::public.vector
FROM memory.episodes AS e
    CROSS JOIN memory.embedding_models AS m
    CROSS JOIN generate_series(0, 10000) AS i
WHERE e.episode_id = pg_temp.id('Beta', 'filler') AND m.is_serving;

CREATE TEMP TABLE hnsw_rows (phase text, name text, ord bigint, id uuid, r text);
GRANT ALL ON hnsw_rows TO PUBLIC;
CREATE FUNCTION pg_temp.hnsw_capture(phase text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    SET LOCAL enable_sort = off;
    INSERT INTO pg_temp.hnsw_rows
    SELECT phase, 'ep_vector', s.ordinality, s.episode_id, s::text
    FROM memory.search_episodic_memory('quokka telescope', 40, 'vector') WITH ORDINALITY AS s;
    INSERT INTO pg_temp.hnsw_rows
    SELECT phase, 'ep_hybrid', s.ordinality, s.episode_id, s::text
    FROM memory.search_episodic_memory('quokka telescope', 40) WITH ORDINALITY AS s;
    INSERT INTO pg_temp.hnsw_rows
    SELECT phase, 'ep_seed_vector', s.ordinality, s.episode_id, s::text
    FROM memory.search_episodic_memory(tests.unit_vector(ARRAY[1], 8), 40, -1) WITH ORDINALITY AS s;
    INSERT INTO pg_temp.hnsw_rows
    SELECT phase, 'fa_vector', s.ordinality, s.fact_id, s::text
    FROM memory.search_semantic_memory('quokka telescope', 40, mode => 'vector') WITH ORDINALITY AS s;
    INSERT INTO pg_temp.hnsw_rows
    SELECT phase, 'ctx', 1, NULL, memory.build_context('quokka telescope', 100000)::text;
    SET LOCAL enable_sort = on;
END
$$;

INSERT INTO kept VALUES ('hnsw scans', pg_temp.hnsw_scans()::text);
SELECT tests.act_as('Beta');
SELECT is(
    memory._rank_exactly(memory.current_agent(), (SELECT model_id FROM memory._serving_model())),
    FALSE,
    'with over 10,000 chunks of the serving model Beta''s vector list no longer ranks exactly'
);
SELECT pg_temp.hnsw_capture('before');
RESET SESSION AUTHORIZATION;
SELECT cmp_ok(
    pg_temp.hnsw_scans(), '>', (SELECT v::bigint FROM kept WHERE k = 'hnsw scans'),
    'Beta''s searches walked the HNSW index'
);
SELECT set_eq(
    $$SELECT id FROM hnsw_rows WHERE phase = 'before' AND name = 'ep_vector'$$,
    format('VALUES (%L::uuid), (%L::uuid), (%L::uuid), (%L::uuid)',
           pg_temp.id('Beta', 'e1'), pg_temp.id('Beta', 'e2'), pg_temp.id('Beta', 'e3'), pg_temp.id('Beta', 'filler')),
    'through the HNSW index Beta''s vector search finds each of Beta''s embedded episodes'
);
SELECT is(
    (SELECT id FROM hnsw_rows WHERE phase = 'before' AND name = 'ep_seed_vector' AND ord = 1),
    pg_temp.id('Beta', 'e1'),
    'through the HNSW index the seed''s vector search ranks Beta''s nearest episode first'
);
SELECT set_eq(
    $$SELECT id FROM hnsw_rows WHERE phase = 'before' AND name = 'fa_vector'$$,
    format('VALUES (%L::uuid), (%L::uuid)', pg_temp.id('Beta', 'f1'), pg_temp.id('Beta', 'f2')),
    'through the HNSW path Beta''s fact search finds Beta''s two valid facts and nothing else'
);

-- Alpha's vectors: every one of Alpha's episodes and facts, nearer to the query than
-- any of Beta's but e1 and f1 (no two equal, so the index keeps each as its own node).
SELECT count(*) FROM (
    SELECT tests.put_episode_vector(e.episode_id, ('[1,' || (random() * 0.05)::text || ',0,0,0,0,0,0]')::public.vector)
    FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('Alpha', 'agent')
) AS x;
SELECT count(*) FROM (
    SELECT tests.put_fact_vector(f.fact_id, ('[1,' || (random() * 0.05)::text || ',0,0,0,0,0,0]')::public.vector)
    FROM memory.facts AS f WHERE f.agent_id = pg_temp.id('Alpha', 'agent')
) AS x;
SELECT is(
    (SELECT count(*) FROM memory.chunks AS c INNER JOIN memory._serving_model() AS m ON m.model_id = c.model_id
     WHERE c.agent_id = pg_temp.id('Alpha', 'agent')),
    326::bigint,
    'Alpha now has 326 vectors of the serving model next to the query'
);
INSERT INTO kept VALUES ('alpha stored after hnsw', tests.stored(pg_temp.id('Alpha', 'agent')));
SELECT tests.act_as('Beta');
SELECT pg_temp.hnsw_capture('after');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT count(*) FROM hnsw_rows WHERE r LIKE '%alpha-secret-zq7%' OR r ~ pg_temp.ids_of(pg_temp.id('Alpha', 'agent'))),
    0::bigint,
    'through the HNSW index Beta gets none of Alpha''s rows, text or ids (before or after Alpha''s vectors joined the graph)'
);
-- The graph is shared, so Alpha's vectors can change what Beta's walk finds: 326
-- vectors packed next to the query often form an island the walk enters and never
-- leaves, and the iterative scan ends with Beta's nearest row alone (e.g. 1 of 320
-- chunk rows asked for; roughly one run in three before the fix). Search now ranks
-- exactly when the index yields fewer rows than it asked for.
SELECT is(
    ARRAY(
        SELECT b.name || ' #' || b.ord FROM hnsw_rows AS b
            FULL JOIN (SELECT * FROM hnsw_rows WHERE phase = 'after') AS a ON a.name = b.name AND a.ord = b.ord
        WHERE b.phase = 'before' AND a.r IS DISTINCT FROM b.r
        ORDER BY 1
    ),
    '{}'::text [],
    'through the HNSW index Beta''s results (ids, ranks, scores, context) are identical after Alpha''s 326 nearer vectors joined the graph'
);
SELECT is(
    (SELECT count(*) FROM hnsw_rows WHERE phase = 'after'),
    (SELECT count(*) FROM hnsw_rows WHERE phase = 'before'),
    'and there are as many of them'
);
SELECT tests.act_as('Alpha');
SELECT is(
    memory._rank_exactly(pg_temp.id('Beta', 'agent'), (SELECT model_id FROM memory._serving_model())),
    memory._rank_exactly(pg_temp.id('nobody', 'a'), (SELECT model_id FROM memory._serving_model())),
    'memory._rank_exactly does not tell Alpha that Beta holds over 10,000 chunks'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- access statistics
-- searches log nothing; Beta marks what it used, Alpha's e1 among it
SELECT tests.act_as('Beta');
SELECT memory.mark_used(
    ARRAY(SELECT s.episode_id FROM memory.search_episodic_memory('quokka telescope') AS s)
    || pg_temp.id('Alpha', 'e1')
);
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT count(*) FROM memory.episode_access_log AS l
     WHERE l.agent_id = pg_temp.id('Beta', 'agent')
       AND NOT EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = l.episode_id AND e.agent_id = l.agent_id)),
    0::bigint,
    'Beta''s memory.mark_used logged accesses to Beta''s own episodes only'
);
SELECT lives_ok($$SELECT memory.fold_access_stats()$$, 'the fold job folds the access log');
SELECT is(
    (SELECT sum(e.access_count) FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('Alpha', 'agent')),
    0::bigint,
    'none of Alpha''s episodes counts an access (only Beta searched)'
);
SELECT cmp_ok(
    (SELECT e.access_count FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('Beta', 'e1')),
    '>', 0,
    'Beta''s best episode counts Beta''s accesses'
);

-- ---------------------------------------------------------------- what agents may not call
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(
        SELECT f || ': ' || r
        FROM unnest(ARRAY[
            'memory.health()', 'memory.health_metrics()', 'memory.embedding_queue_depth()',
            'memory.request_cache_reconcile(text)', 'memory.claim_cache_reconcile(text)',
            'memory.cache_working_memory(uuid[])', 'memory.cache_working_memory_page(uuid, integer)',
            'memory.cache_blocks(uuid[])', 'memory.cache_block_agents_page(uuid, integer)',
            'memory.cache_warmer_heartbeat(text, boolean, bigint, bigint, double precision, text)',
            'memory.finish_cache_reconcile(text, bigint, timestamptz, bigint, bigint, bigint, bigint, bigint, text)',
            'memory.export_agent(text)', 'memory.import_agent(text, text, name, boolean)',
            'memory.import_legacy(text, text, integer, text, text, boolean, jsonb)', 'memory.legacy_import_report(text, text)',
            'memory.checkpoint_now()', 'memory.auto_checkpoint()', 'memory.pause_embedding(text)',
            'memory.resume_embedding()', 'memory.requeue_dead(bigint[])', 'memory.reembed(boolean)',
            'memory.set_active_model(text)', 'memory.fold_access_stats()', 'memory.record_cron_status()',
            'memory.expire_working_memory()', 'memory.prune_query_cache()', 'memory.reap_expired_leases()'
        ]) AS f,
            LATERAL (SELECT tests.failure(pg_temp.null_call(f::regprocedure)) AS r) AS x
        WHERE x.r NOT LIKE '42501: permission denied for function %'
        ORDER BY 1
    ),
    '{}'::text [],
    'the cache, health, export/import, legacy import, checkpoint, queue and maintenance functions refuse Beta with 42501'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text || ': ' || x.r
        FROM pg_proc AS p, LATERAL (SELECT tests.failure(pg_temp.null_call(p.oid::regprocedure)) AS r) AS x
        WHERE p.pronamespace = 'memory'::regnamespace AND NOT has_function_privilege(p.oid, 'EXECUTE')
          AND x.r NOT LIKE '42501: permission denied for function %'
          AND x.r NOT LIKE '42501: permission denied for procedure %'
        ORDER BY 1
    ),
    '{}'::text [],
    'every function of schema memory Beta may not execute refuses Beta with 42501 (from the catalog)'
);
SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || x.r
        FROM pg_class AS c, LATERAL (SELECT tests.failure(format('SELECT count(*) FROM memory.%I', c.relname)) AS r) AS x
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND NOT has_table_privilege(c.oid, 'SELECT')
          AND x.r NOT LIKE '42501: permission denied for %'
        ORDER BY 1
    ),
    '{}'::text [],
    'every table and view of schema memory Beta may not read refuses Beta with 42501 (from the catalog)'
);
SELECT is(
    ARRAY(
        SELECT v FROM unnest(ARRAY[
            'health_report', 'cache_repairs', 'cache_warmers', 'cache_reconcile_requests', 'cron_status',
            'operations_settings', 'legacy_imports', 'agent_imports', 'query_embedding_cache', 'embedding_settings',
            'embedding_workers', 'episode_access_log'
        ]) AS v
        WHERE to_regclass('memory.' || v) IS NULL OR has_table_privilege('memory.' || v, 'SELECT')
        ORDER BY 1
    ),
    '{}'::text [],
    'Beta cannot read health_report, cache_repairs, the warmers, requests, cron status, settings, import logs, the query cache or the access log'
);
RESET SESSION AUTHORIZATION;

SELECT is(
    tests.stored(pg_temp.id('Alpha', 'agent')),
    (SELECT v FROM kept WHERE k = 'alpha stored after hnsw'),
    'after all of Beta''s calls (HNSW searches and refused calls included) Alpha''s rows are exactly as Alpha left them'
);

-- ---------------------------------------------------------------- the monitoring role
SET LOCAL SESSION AUTHORIZATION memory_reader;
SELECT is(
    ARRAY(
        SELECT s.k FROM (
            SELECT 'health' AS k, memory.health()::text AS t
            UNION ALL
            SELECT 'health_metrics', (SELECT string_agg(m::text, ' ') FROM memory.health_metrics() AS m)
            UNION ALL
            SELECT 'embedding_queue_depth', (SELECT string_agg(q::text, ' ') FROM memory.embedding_queue_depth() AS q)
            UNION ALL
            SELECT 'health_report', (SELECT string_agg(h::text, ' ') FROM memory.health_report AS h)
        ) AS s
        WHERE s.t LIKE '%-secret-zq7%' OR s.t LIKE '%quokka%'
        ORDER BY 1
    ),
    '{}'::text [],
    'health(), health_metrics(), embedding_queue_depth() and health_report show memory_reader counts, never an agent''s text'
);
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------- checkpoint_now (operators)
SELECT tests.act_as('Beta');
SELECT memory.set_block('shared_label', 'Beta changed the shared label, beta-secret-zq7');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION memory_operator;
SELECT cmp_ok(memory.checkpoint_now(), '>=', 2, 'checkpoint_now checkpoints the agents whose identity changed (Alpha and Beta among them)');
RESET SESSION AUTHORIZATION;
SELECT is(
    ARRAY(
        SELECT a.who || ': ' || c.blocks::text
        FROM (VALUES ('Alpha', 'beta-secret-zq7'), ('Beta', 'alpha-secret-zq7')) AS a (who, other),
            LATERAL (
                SELECT x.blocks FROM memory.checkpoints AS x WHERE x.agent_id = pg_temp.id(a.who, 'agent') AND x.kind = 'auto'
                ORDER BY x.created_at DESC LIMIT 1
            ) AS c
        WHERE c.blocks::text LIKE '%' || a.other || '%' OR c.blocks::text NOT LIKE '%' || lower(a.who) || '-secret-zq7%'
        ORDER BY 1
    ),
    '{}'::text [],
    'the auto checkpoint of each agent holds its own blocks and none of the other''s (same labels)'
);
SELECT is(
    (SELECT count(*) FROM memory.checkpoints AS x WHERE x.agent_id IN (pg_temp.id('Alpha', 'agent'), pg_temp.id('Beta', 'agent')) AND x.kind = 'auto'),
    2::bigint,
    'checkpoint_now wrote one auto checkpoint for each of the two agents'
);

-- ---------------------------------------------------------------- export (operators)
CREATE TEMP TABLE beta_export AS SELECT row_number() OVER () AS n, line FROM memory.export_agent('Beta') AS line;
SELECT cmp_ok(
    (SELECT count(*) FROM beta_export WHERE line LIKE '%beta-secret-zq7%'), '>', 10::bigint,
    'the export of Beta holds Beta''s memory'
);
SELECT is(
    (SELECT count(*) FROM beta_export WHERE line LIKE '%alpha-secret-zq7%' OR line ~ pg_temp.ids_of(pg_temp.id('Alpha', 'agent'))),
    0::bigint,
    'the export of Beta holds no text and no id of Alpha''s (though they share labels, keys, tags, project and instance names)'
);
SELECT is(
    (SELECT (line::jsonb -> 'counts') FROM beta_export WHERE n = 1) - 'embedding' - 'block_version' - 'agent_state',
    (SELECT jsonb_build_object(
        'project', (SELECT count(*) FROM memory.projects WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'episode', (SELECT count(*) FROM memory.episodes WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'fact', (SELECT count(*) FROM memory.facts WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'fact_link', (SELECT count(*) FROM memory.fact_links WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'block', (SELECT count(*) FROM memory.blocks WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'checkpoint', (SELECT count(*) FROM memory.checkpoints WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'working_memory', (SELECT count(*) FROM memory.working_memory WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'instance', (SELECT count(*) FROM memory.instances WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'decision', (SELECT count(*) FROM memory.decisions WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'vote', (SELECT count(*) FROM memory.votes WHERE agent_id = pg_temp.id('Beta', 'agent')),
        'idempotency_key', (SELECT count(*) FROM memory.idempotency_keys WHERE agent_id = pg_temp.id('Beta', 'agent'))
    )),
    'the export header counts Beta''s own rows only'
);

-- ---------------------------------------------------------------- leaks and final state
SELECT is(
    (SELECT count(*) FROM seen_errors WHERE e LIKE '%alpha-secret-zq7%' OR e ~ pg_temp.ids_of(pg_temp.id('Alpha', 'agent'))),
    0::bigint,
    'no error raised to Beta carries Alpha''s text or ids'
);
SELECT cmp_ok((SELECT count(*) FROM seen_errors), '>=', 30::bigint, 'the leak check looked at the errors of every refused call');

SELECT * FROM finish();
ROLLBACK;
