-- Isolation through the API: agent Beta calls the contract functions with agent Alpha's
-- ids. Each call must fail exactly as it fails for an id that does not exist (same
-- SQLSTATE, message, detail and hint once ids are masked), change nothing of Alpha's,
-- and no error may carry Alpha's text. Names Alpha uses (working-memory keys, block
-- labels, instance names) must behave for Beta like names nobody uses.
BEGIN;
SELECT plan(63);

SELECT tests.make_agents('Alpha', 'Beta');

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);
SELECT tests.make_error_log();
CREATE TEMP TABLE kept (k text PRIMARY KEY, v text);
GRANT ALL ON kept TO PUBLIC;

-- The single value a query returns, as text (dynamic: the query may name a function
-- that does not exist yet; it is only parsed when it runs).
CREATE FUNCTION pg_temp.scalar(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v text;
BEGIN
    EXECUTE stmt INTO v;
    RETURN v;
END
$$;

-- Runs a statement and keeps its effect: 'ok', or the SQLSTATE it raised.
CREATE FUNCTION pg_temp.run(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- Fills an agent's memory through the API, with a marker in every text.
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
    i1 uuid;
    i2 uuid;
    d1 uuid;
BEGIN
    PERFORM tests.act_as(who);
    e1 := memory.remember(m || ' episode one', 0.7, ARRAY['tag-' || m], 'project ' || m, now(),
                          jsonb_build_object('secret', m), 'session-' || m);
    f1 := memory.learn_fact('concept ' || m, 'statement one ' || m, 0.6, ARRAY[e1]);
    f2 := memory.learn_fact('concept ' || m, 'statement two ' || m);
    f3 := memory.learn_fact('concept ' || m, 'statement three ' || m);
    PERFORM memory.invalidate_fact(f3);
    PERFORM memory.link_facts(f1, f2, 'supports');
    INSERT INTO pg_temp.ids VALUES
        (who, 'agent', memory.current_agent()), (who, 'episode', e1), (who, 'fact', f1), (who, 'fact2', f2),
        (who, 'closed_fact', f3),
        (who, 'working', memory.set_working_memory('task', jsonb_build_object('note', m), '1 hour', 'high', 'shared-key')),
        (who, 'project', (SELECT p.project_id FROM memory.projects AS p));
    PERFORM memory.set_block('persona', 'I am ' || m);
    PERFORM memory.set_block('only_' || w, 'read-only ' || m, NULL, 5000, TRUE);
    INSERT INTO pg_temp.ids VALUES (who, 'checkpoint', memory.create_checkpoint('manual', jsonb_build_object('secret', m)));
    PERFORM memory.heartbeat('focus ' || m, '{"calm": 0.5}', jsonb_build_object('context', m));
    i1 := memory.register_instance('shared-instance', 'primary', 'location ' || m);
    i2 := memory.register_instance('instance-' || w);
    d1 := memory.propose_decision('topic ' || m, jsonb_build_object('proposal', m));
    PERFORM memory.vote(d1, i1, TRUE);
    INSERT INTO pg_temp.ids VALUES (who, 'instance', i1), (who, 'instance2', i2), (who, 'decision', d1);
    PERFORM memory.mark_used(ARRAY[e1]);
    EXECUTE 'RESET SESSION AUTHORIZATION';
    -- The vectors of the first episode, written as the embed daemon would (it cannot see
    -- this transaction): the same vector for both agents.
    INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
    SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, char_length(e.content), e.content_sha256,
           array_fill(0.5::real, ARRAY[m.dimensions])::public.vector
    FROM memory.episodes AS e, memory.embedding_models AS m
    WHERE e.episode_id = e1 AND m.is_serving;
    INSERT INTO memory.pooled_embeddings (agent_id, episode_id, model_id, content_sha256, chunk_count, embedding)
    SELECT e.agent_id, e.episode_id, m.model_id, e.content_sha256, 1, array_fill(0.5::real, ARRAY[m.dimensions])::public.vector
    FROM memory.episodes AS e, memory.embedding_models AS m
    WHERE e.episode_id = e1 AND m.is_serving;
END
$$;

SELECT pg_temp.seed('Alpha');
SELECT pg_temp.seed('Beta');
CREATE TEMP TABLE before_attacks AS SELECT tests.stored(pg_temp.id('Alpha', 'agent')) AS fp;
INSERT INTO ids VALUES ('nobody', 'a', gen_random_uuid()), ('nobody', 'b', gen_random_uuid());

SELECT tests.act_as('Beta');

-- ---------------------------------------------------------------- episodic
SELECT tests.like_unknown(c.call, ARRAY[pg_temp.id('Alpha', c.theirs)], ARRAY[pg_temp.id('nobody', 'a')], c.alike, c.msg, c.raises)
FROM (VALUES
    ('SELECT memory.update_episode(%L, content => ''overwritten by beta'')', 'episode', 'episode not found',
     'update_episode on Alpha''s episode raises P0002 episode not found',
     'update_episode on Alpha''s episode fails exactly like on an id that does not exist'),
    ('SELECT memory.forget_episode(%L)', 'episode', 'episode not found',
     'forget_episode on Alpha''s episode raises P0002 episode not found',
     'forget_episode on Alpha''s episode fails exactly like on an id that does not exist')
) AS c (call, theirs, msg, raises, alike);
SELECT is(
    tests.failure(format('SELECT memory.remember(%L)', 'alpha-secret-zq7 episode one')),
    'no error',
    'remember of exactly Alpha''s text works for Beta like any new text (no cross-agent deduplication)'
);

-- ---------------------------------------------------------------- semantic
SELECT tests.like_unknown(c.call, c.theirs, c.unknown, c.alike, c.msg, c.raises)
FROM (VALUES
    ('SELECT memory.invalidate_fact(%L)', ARRAY[pg_temp.id('Alpha', 'fact')], ARRAY[pg_temp.id('nobody', 'a')],
     'fact not found', 'invalidate_fact on Alpha''s fact raises P0002 fact not found',
     'invalidate_fact on Alpha''s open fact fails exactly like on an id that does not exist'),
    ('SELECT memory.invalidate_fact(%L)', ARRAY[pg_temp.id('Alpha', 'closed_fact')], ARRAY[pg_temp.id('nobody', 'a')],
     NULL, NULL, 'invalidate_fact on Alpha''s closed fact fails like on an unknown id (no "already closed" leak)'),
    ('SELECT memory.link_facts(%L, %L, ''supports'')',
     ARRAY[pg_temp.id('Beta', 'fact'), pg_temp.id('Alpha', 'fact')], ARRAY[pg_temp.id('Beta', 'fact'), pg_temp.id('nobody', 'a')],
     'fact not found', 'link_facts from Beta''s fact to Alpha''s raises P0002 fact not found',
     'link_facts to Alpha''s fact fails exactly like to an id that does not exist'),
    ('SELECT memory.link_facts(%L, %L, ''supports'')',
     ARRAY[pg_temp.id('Alpha', 'fact'), pg_temp.id('Beta', 'fact')], ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('Beta', 'fact')],
     NULL, NULL, 'link_facts from Alpha''s fact fails exactly like from an id that does not exist'),
    ('SELECT memory.link_facts(%L, %L, ''supports'')',
     ARRAY[pg_temp.id('Alpha', 'fact'), pg_temp.id('Alpha', 'fact2')], ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('nobody', 'b')],
     NULL, NULL, 'link_facts between two of Alpha''s (already linked) facts fails exactly like between unknown ids'),
    ('SELECT memory.learn_fact(''c'', ''s'', source_episodes => ARRAY[%L]::uuid[])',
     ARRAY[pg_temp.id('Alpha', 'episode')], ARRAY[pg_temp.id('nobody', 'a')],
     'source episode not found', 'learn_fact citing Alpha''s episode raises P0002 source episode not found',
     'learn_fact citing Alpha''s episode fails exactly like citing an id that does not exist'),
    ('SELECT memory.learn_fact(''c'', ''s'', supersedes => ARRAY[%L]::uuid[])',
     ARRAY[pg_temp.id('Alpha', 'fact')], ARRAY[pg_temp.id('nobody', 'a')],
     'fact not found', 'learn_fact superseding Alpha''s fact raises P0002 fact not found',
     'learn_fact superseding Alpha''s open fact fails exactly like superseding an unknown id'),
    ('SELECT memory.learn_fact(''c'', ''s'', supersedes => ARRAY[%L]::uuid[])',
     ARRAY[pg_temp.id('Alpha', 'closed_fact')], ARRAY[pg_temp.id('nobody', 'a')],
     NULL, NULL, 'learn_fact superseding Alpha''s closed fact fails like an unknown id (no "already closed" leak)')
) AS c (call, theirs, unknown, msg, raises, alike);
SELECT throws_ok(
    format('SELECT memory.learn_fact(%L, %L, supersedes => ARRAY[%L, %L]::uuid[])', 'c', 's',
           pg_temp.id('Beta', 'fact'), pg_temp.id('Alpha', 'fact')),
    'P0002', 'fact not found',
    'learn_fact superseding one of Beta''s facts and one of Alpha''s is refused as a whole'
);
SELECT ok(
    (SELECT f.valid_to IS NULL AND f.superseded_by IS NULL FROM memory.facts AS f WHERE f.fact_id = pg_temp.id('Beta', 'fact')),
    'the refused learn_fact left Beta''s own fact open (nothing half-done)'
);

-- ---------------------------------------------------------------- working memory
SELECT is(
    memory.set_working_memory('task', '{"note": "beta again"}', '1 hour', 'high', 'shared-key'),
    pg_temp.id('Beta', 'working'),
    'set_working_memory with the key Alpha also uses replaces Beta''s own item, not Alpha''s'
);
SELECT is(
    (SELECT count(*) FROM memory.get_working_memory() AS w WHERE w.working_id <> pg_temp.id('Beta', 'working')),
    0::bigint,
    'get_working_memory returns only Beta''s item'
);
SELECT is(memory.clear_working_memory('task'), 1, 'clear_working_memory removes (and counts) only Beta''s own item');

-- ---------------------------------------------------------------- core memory
SELECT is(
    (SELECT count(*) FROM memory.get_blocks() AS b WHERE b.value LIKE '%alpha-secret-zq7%'),
    0::bigint,
    'get_blocks returns none of Alpha''s blocks'
);
SELECT is(
    tests.failure($$SELECT memory.set_block('only_alpha', 'beta writes here')$$),
    tests.failure($$SELECT memory.set_block('never_used_label', 'beta writes here')$$),
    'set_block on the label of Alpha''s read-only block works for Beta like on an unused label'
);
SELECT throws_ok(
    $$SELECT * FROM memory.block_history('only_alpha')$$,
    'P0002', 'no block labelled only_alpha',
    'block_history of a label only Alpha has raises P0002 for Beta'
);
SELECT is(
    tests.failure($$SELECT * FROM memory.block_history('only_alpha')$$, ARRAY['only_alpha']),
    tests.failure($$SELECT * FROM memory.block_history('never_used_label')$$, ARRAY['never_used_label']),
    'block_history of Alpha''s label fails exactly like for a label nobody uses'
);
SELECT is(
    (SELECT count(*) FROM memory.block_history('persona') AS h WHERE h.value LIKE '%alpha-secret-zq7%'),
    0::bigint,
    'block_history of a label both agents use shows only Beta''s versions'
);
SELECT is(
    memory._blocks_snapshot(pg_temp.id('Alpha', 'agent')),
    '[]'::jsonb,
    'memory._blocks_snapshot(Alpha''s agent id), which agents may call, returns nothing of Alpha''s'
);
SELECT tests.like_unknown(
    'SELECT memory.restore_checkpoint(%L)', ARRAY[pg_temp.id('Alpha', 'checkpoint')], ARRAY[pg_temp.id('nobody', 'a')],
    'restore_checkpoint of Alpha''s checkpoint fails exactly like of an id that does not exist',
    'checkpoint not found', 'restore_checkpoint of Alpha''s checkpoint raises P0002 checkpoint not found'
);
INSERT INTO ids VALUES ('Beta', 'checkpoint2', memory.create_checkpoint('manual', '{}'));
SELECT is(
    (
        SELECT c.blocks::text LIKE '%beta-secret-zq7%' AND c.blocks::text NOT LIKE '%alpha-secret-zq7%'
        FROM memory.checkpoints AS c
        WHERE c.checkpoint_id = pg_temp.id('Beta', 'checkpoint2')
    ),
    TRUE,
    'a checkpoint Beta creates holds Beta''s blocks and none of Alpha''s'
);
INSERT INTO kept VALUES ('beta identity', memory.identity_hash());

-- ---------------------------------------------------------------- instances and decisions
SELECT is(
    memory.register_instance('shared-instance'),
    pg_temp.id('Beta', 'instance'),
    'register_instance with a name Alpha also uses re-registers Beta''s own instance'
);
SELECT is(
    tests.failure($$SELECT memory.register_instance('instance-alpha')$$),
    tests.failure($$SELECT memory.register_instance('instance-nobody')$$),
    'register_instance with a name only Alpha uses works like with a name nobody uses'
);
SELECT tests.like_unknown(c.call, c.theirs, c.unknown, c.alike, c.msg, c.raises)
FROM (VALUES
    ('SELECT memory.instance_heartbeat(%L)', ARRAY[pg_temp.id('Alpha', 'instance')], ARRAY[pg_temp.id('nobody', 'a')],
     'instance not found', 'instance_heartbeat of Alpha''s instance raises P0002 instance not found',
     'instance_heartbeat of Alpha''s instance fails exactly like of an id that does not exist'),
    ('SELECT memory.vote(%L, %L, true)',
     ARRAY[pg_temp.id('Alpha', 'decision'), pg_temp.id('Beta', 'instance2')],
     ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('Beta', 'instance2')],
     'decision not found', 'vote on Alpha''s decision raises P0002 decision not found',
     'vote on Alpha''s decision fails exactly like on a decision that does not exist'),
    ('SELECT memory.vote(%L, %L, true)',
     ARRAY[pg_temp.id('Beta', 'decision'), pg_temp.id('Alpha', 'instance2')],
     ARRAY[pg_temp.id('Beta', 'decision'), pg_temp.id('nobody', 'a')],
     'instance not found', 'vote with Alpha''s instance raises P0002 instance not found',
     'vote with Alpha''s instance fails exactly like with an instance that does not exist'),
    ('SELECT memory.vote(%L, %L, true)',
     ARRAY[pg_temp.id('Alpha', 'decision'), pg_temp.id('Alpha', 'instance2')],
     ARRAY[pg_temp.id('nobody', 'a'), pg_temp.id('nobody', 'b')],
     NULL, NULL, 'vote on Alpha''s decision with Alpha''s instance fails exactly like with unknown ids')
) AS c (call, theirs, unknown, msg, raises, alike);
INSERT INTO ids VALUES ('Beta', 'decision2', memory.propose_decision('beta topic', '{}'));
SELECT is(
    (SELECT d.electorate FROM memory.decisions AS d WHERE d.decision_id = pg_temp.id('Beta', 'decision2')),
    2,
    'a decision Beta proposes counts only Beta''s two live instances in its electorate, none of Alpha''s'
);

-- ---------------------------------------------------------------- vectors
SELECT ok(
    memory.episode_embedding(pg_temp.id('Alpha', 'episode')) IS NULL
    AND memory.episode_embedding(pg_temp.id('Beta', 'episode')) IS NOT NULL,
    'episode_embedding gives Beta its own episode''s vector and nothing for Alpha''s'
);
SELECT is(
    ARRAY(
        SELECT s.episode_id FROM memory.search_episodic_memory(
            (SELECT array_fill(0.5::real, ARRAY[m.dimensions])::public.vector FROM memory.embedding_models AS m WHERE m.is_serving),
            1000, -1
        ) AS s
    ),
    ARRAY[pg_temp.id('Beta', 'episode')],
    'vector search with exactly the vector both agents stored (any similarity) returns Beta''s episode and not Alpha''s'
);

-- ---------------------------------------------------------------- search and context (issue 4)
SELECT has_function('memory', 'search_episodic_memory', 'memory.search_episodic_memory exists');
SELECT is(
    pg_temp.scalar(format(
        'SELECT count(*) FROM memory.search_episodic_memory(%L, mode => %L) AS s '
        'WHERE s.content LIKE %L OR s.episode_id = %L',
        'alpha-secret-zq7 episode one', 'text', '%alpha-secret-zq7%', pg_temp.id('Alpha', 'episode')
    )),
    '0',
    'search_episodic_memory (text mode) for Alpha''s exact words finds none of Alpha''s episodes'
);
SELECT has_function('memory', 'search_semantic_memory', 'memory.search_semantic_memory exists');
SELECT is(
    pg_temp.scalar(format(
        'SELECT count(*) FROM memory.search_semantic_memory(%L, include_invalid => true) AS s '
        'WHERE s.statement LIKE %L OR s.fact_id = %L',
        'concept alpha-secret-zq7 statement one', '%alpha-secret-zq7%', pg_temp.id('Alpha', 'fact')
    )),
    '0',
    'search_semantic_memory for Alpha''s exact words (closed facts included) finds none of Alpha''s facts'
);
SELECT has_function('memory', 'build_context', 'memory.build_context exists');
SELECT is(
    pg_temp.scalar(format(
        'SELECT strpos(memory.build_context(%L, 100000)::text, %L)',
        'alpha-secret-zq7 episode one statement persona', 'alpha-secret-zq7'
    )),
    '0',
    'build_context for Alpha''s exact words contains nothing of Alpha''s'
);

-- ---------------------------------------------------------------- leaks and final state
SELECT is(
    (SELECT count(*) FROM seen_errors WHERE e LIKE '%alpha-secret-zq7%' OR e LIKE '%Alpha%' OR e LIKE '%test\_alpha%'),
    0::bigint,
    'no error raised to Beta names Alpha or carries any of Alpha''s text'
);
SELECT cmp_ok(
    (SELECT count(*) FROM seen_errors), '>=', 15::bigint,
    'the leak check above looked at the errors of every refused call'
);

RESET SESSION AUTHORIZATION;
SELECT is(
    tests.stored(pg_temp.id('Alpha', 'agent')),
    (SELECT fp FROM before_attacks),
    'after all of Beta''s calls, Alpha''s rows in every table are exactly as before'
);
SELECT ok(
    (SELECT f.valid_to IS NULL AND f.invalidated_at IS NULL FROM memory.facts AS f WHERE f.fact_id = pg_temp.id('Alpha', 'fact')),
    'Alpha''s open fact is still open'
);
SELECT is(
    (SELECT count(*) FROM memory.fact_links AS l WHERE l.agent_id = pg_temp.id('Alpha', 'agent')),
    1::bigint,
    'Alpha still has exactly its one fact link'
);
SELECT is(
    (SELECT b.value FROM memory.blocks AS b WHERE b.agent_id = pg_temp.id('Alpha', 'agent') AND b.label = 'only_alpha'),
    'read-only alpha-secret-zq7',
    'Alpha''s read-only block is unchanged'
);
SELECT is(
    (SELECT count(*) FROM memory.working_memory AS w WHERE w.agent_id = pg_temp.id('Alpha', 'agent')),
    1::bigint,
    'Alpha''s working-memory item survived Beta''s clear_working_memory'
);
SELECT is(
    (SELECT d.approvals || '/' || d.rejections || ' ' || d.status FROM memory.decisions AS d
     WHERE d.decision_id = pg_temp.id('Alpha', 'decision')),
    '1/0 open',
    'Alpha''s decision has exactly its own one vote'
);

-- Alpha changes its blocks: Beta's identity hash does not move.
SELECT tests.act_as('Alpha');
SELECT memory.set_block('persona', 'Alpha changed its mind');
SELECT memory.set_block('extra', 'one more alpha block');
SELECT tests.act_as('Beta');
SELECT is(
    memory.identity_hash(),
    (SELECT v FROM kept WHERE k = 'beta identity'),
    'Beta''s identity hash is unchanged when Alpha changes and adds blocks'
);

-- Access statistics: searches log nothing; memory.mark_used logs the caller's own
-- episodes only, or the fold job would count Beta's "accesses" on Alpha's episode.
SELECT is(
    pg_temp.run(format('SELECT memory.mark_used(ARRAY[%L]::uuid[])', pg_temp.id('Alpha', 'episode'))),
    pg_temp.run(format('SELECT memory.mark_used(ARRAY[%L]::uuid[])', pg_temp.id('nobody', 'a'))),
    'marking Alpha''s episode as used behaves like marking an episode that does not exist'
);
SELECT is(
    memory.mark_used(ARRAY[pg_temp.id('Alpha', 'episode'), pg_temp.id('nobody', 'a')]), 0,
    'memory.mark_used records nothing for Alpha''s episode or for no episode'
);
SELECT throws_ok(
    format('INSERT INTO memory.episode_access_log (agent_id, episode_id) VALUES (%L, %L)',
           pg_temp.id('Alpha', 'agent'), pg_temp.id('Alpha', 'episode')),
    '42501', 'permission denied for table episode_access_log',
    'Beta cannot write the access log directly'
);
RESET SESSION AUTHORIZATION;
SELECT lives_ok($$SELECT memory.fold_access_stats()$$, 'the fold job (as run by pg_cron) folds the access log');
SELECT is(
    (SELECT e.access_count FROM memory.episodes AS e WHERE e.episode_id = pg_temp.id('Alpha', 'episode')),
    1,
    'Alpha''s episode counts only Alpha''s own access, none logged by Beta'
);

SELECT * FROM finish();
ROLLBACK;
