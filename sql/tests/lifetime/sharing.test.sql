-- Sharing between agents (issue 20, item 4; migration 028, 190-sharing.sql): Alpha
-- shares a project, a tag and a session with Beta. Beta reads exactly those episodes
-- (and their chunks) through every table and function path, writes none of them, and
-- loses them at once on unshare and when Alpha is dropped; Gamma sees nothing; a
-- search without include_shared is unchanged to the bit; bad input is refused with
-- its SQLSTATE.
BEGIN;
SELECT plan(72);

SELECT tests.make_agents('Alpha', 'Beta', 'Gamma');
SELECT tests.make_id_table();
CREATE TEMP TABLE kept (k text PRIMARY KEY, v text);
GRANT ALL ON kept TO PUBLIC;
-- drop_agent's batches until done (the procedure commits, pgTAP runs in one transaction)
-- is the agent's login role a grantee (a member of memory_share_grantee)?
CREATE FUNCTION pg_temp.grantee(agent text)
RETURNS boolean
LANGUAGE sql
AS $$
    SELECT pg_has_role(r.rolname, 'memory_share_grantee', 'MEMBER')
    FROM pg_roles AS r WHERE r.rolname = 'test_' || lower(agent)
$$;
-- the plan of a query, as one text
CREATE FUNCTION pg_temp.plan_of(q text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    line text;
    out text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        out := out || line || chr(10);
    END LOOP;
    RETURN out;
END
$$;

SELECT tests.act_as('Alpha');
INSERT INTO ids VALUES
    ('project', memory.remember('Decidimos usar Raft (consensus) para el cerebro.', 0.9, NULL, 'cerebro',
                                session_id => 's-cerebro')),
    ('tag', memory.remember('Public note: the consensus log is replicated.', 0.5, ARRAY['public', 'infra'],
                            session_id => 's-notes')),
    ('session', memory.remember('Session shared: consensus review with Beta.', 0.5, session_id => 's-shared')),
    ('private', memory.remember('Private: the consensus password is zq7-secret.', 0.8, ARRAY['secret'], 'privado',
                                session_id => 's-private')),
    ('private2', memory.remember('Private too, same session as the project one: consensus.', 0.5,
                                 session_id => 's-cerebro'));
SELECT tests.act_as('Beta');
INSERT INTO ids VALUES ('beta', memory.remember('Beta''s own note about consensus.', 0.5, session_id => 's-shared'));
SELECT tests.act_as('Gamma');
-- the same tag, project name and session as Alpha's grants: a grant is Alpha's alone
INSERT INTO ids VALUES ('gamma', memory.remember('Gamma''s own note about consensus.', 0.5, ARRAY['public'], 'cerebro',
                                                 session_id => 's-shared'));
RESET SESSION AUTHORIZATION;
SELECT tests.put_episode_vector(id, tests.unit_vector(ARRAY[1, (row_number() OVER (ORDER BY k))::integer + 1]))
FROM ids;
SELECT tests.cache_query_vector('consensus', tests.unit_vector(ARRAY[1]));
INSERT INTO ids SELECT 'alpha_agent', agent_id FROM memory.agents WHERE name = 'Alpha';
-- Alpha's episodes as they are, to compare after Beta's attempts
INSERT INTO kept SELECT 'alpha_rows', md5(string_agg(e::text, ',' ORDER BY e.episode_id))
FROM memory.episodes AS e WHERE e.agent_id = pg_temp.id('alpha_agent');

-- Beta's search before any grant, to the bit
SELECT tests.act_as('Beta');
INSERT INTO kept SELECT 'beta_search', string_agg(format('%s %s %s %s', s.episode_id, s.score, s.vector_score, s.text_score), ',')
FROM memory.search_episodic_memory('consensus', k => 20) AS s;
SELECT is((SELECT count(*) FROM memory.episodes WHERE agent_id <> memory.current_agent()), 0::bigint,
          'before any grant Beta reads no episode of another agent');

-- ---------------------------------------------------------------- grants
SELECT tests.act_as('Alpha');
SELECT ok(memory.share('project', 'Beta', 'cerebro'), 'Alpha shares project cerebro with Beta');
SELECT ok(memory.share('tag', 'Beta', 'public'), 'Alpha shares tag public with Beta');
SELECT ok(memory.share('session', 'Beta', 's-shared'), 'Alpha shares session s-shared with Beta');
SELECT ok(NOT memory.share('tag', 'Beta', 'public'), 'sharing the same thing again returns false');
SELECT is((SELECT count(*) FROM memory.shares), 3::bigint, 'Alpha sees its three grants in memory.shares');
SELECT is(
    ARRAY(SELECT with_agent || ' ' || scope || ' ' || scope_value FROM memory.my_shares()),
    ARRAY['Beta project cerebro', 'Beta session s-shared', 'Beta tag public'],
    'my_shares lists Alpha''s grants'
);
SELECT is((SELECT count(*) FROM memory.shared_with_me()), 0::bigint, 'nothing is shared with Alpha');
SELECT ok(pg_temp.grantee('Beta'), 'Beta''s login role is a member of memory_share_grantee while it holds a grant');
SELECT ok(NOT pg_temp.grantee('Alpha') AND NOT pg_temp.grantee('Gamma'), 'Alpha''s and Gamma''s are not (they received nothing)');
SELECT unalike(pg_temp.plan_of('SELECT * FROM memory.episodes'), '%shares%',
              'Alpha, who received no grant, is planned without the sharing policies (its plans read nothing of memory.shares)');

-- ---------------------------------------------------------------- what Beta reads
SELECT tests.act_as('Beta');
SELECT alike(pg_temp.plan_of('SELECT * FROM memory.episodes'), '%shares%',
            'Beta, a grantee, is planned with the sharing policies (the check above is not vacuous)');
SELECT is(
    ARRAY(SELECT i.k FROM memory.episodes AS e INNER JOIN ids AS i ON i.id = e.episode_id
          WHERE e.agent_id <> memory.current_agent() ORDER BY 1),
    ARRAY['project', 'session', 'tag'],
    'Beta reads exactly the shared project, tag and session of Alpha in memory.episodes'
);
SELECT is(
    ARRAY(SELECT i.k FROM memory.chunks AS c INNER JOIN ids AS i ON i.id = c.episode_id
          WHERE c.agent_id <> memory.current_agent() ORDER BY 1),
    ARRAY['project', 'session', 'tag'],
    'and exactly their chunks in memory.chunks'
);
SELECT is((SELECT count(*) FROM memory.episodes WHERE content LIKE '%zq7-secret%'), 0::bigint,
          'the private episode stays hidden');
SELECT is((SELECT count(*) FROM memory.zep_episodic_memory WHERE episode_id = pg_temp.id('private')),
          0::bigint, 'and hidden through the compatibility view');
SELECT is((SELECT count(*) FROM memory.pooled_embeddings WHERE agent_id <> memory.current_agent()), 0::bigint,
          'pooled vectors are not shared');
SELECT is((SELECT count(*) FROM memory.facts WHERE agent_id <> memory.current_agent()), 0::bigint,
          'facts are not shared');
SELECT is((SELECT count(*) FROM memory.projects WHERE agent_id <> memory.current_agent()), 0::bigint,
          'nor is the project row itself');
SELECT is(
    ARRAY(SELECT owner || ' ' || scope || ' ' || scope_value FROM memory.shared_with_me()),
    ARRAY['Alpha project cerebro', 'Alpha session s-shared', 'Alpha tag public'],
    'shared_with_me lists the grants Beta received'
);
SELECT is((SELECT count(*) FROM memory.shares), 3::bigint, 'Beta reads the grants it received in memory.shares');
SELECT is((SELECT count(*) FROM memory.my_shares()), 0::bigint, 'Beta made no grant');

-- search
SELECT is(
    (SELECT string_agg(format('%s %s %s %s', s.episode_id, s.score, s.vector_score, s.text_score), ',')
     FROM memory.search_episodic_memory('consensus', k => 20) AS s),
    (SELECT v FROM kept WHERE k = 'beta_search'),
    'without include_shared Beta''s search is unchanged to the bit by the grants'
);
SELECT is(
    ARRAY(SELECT DISTINCT owner FROM memory.search_episodic_memory('consensus', k => 20)),
    ARRAY['Beta'], 'without include_shared every result is Beta''s own'
);
SELECT is(
    ARRAY(SELECT coalesce(i.k, '?') || ' ' || s.owner
          FROM memory.search_episodic_memory('consensus', k => 20, include_shared => true) AS s
          LEFT JOIN ids AS i ON i.id = s.episode_id ORDER BY 1),
    ARRAY['beta Beta', 'project Alpha', 'session Alpha', 'tag Alpha'],
    'include_shared (hybrid) adds exactly the shared episodes, each marked with its owner'
);
SELECT is(
    ARRAY(SELECT i.k FROM memory.search_episodic_memory('consensus', k => 20, mode => 'text', include_shared => true) AS s
          INNER JOIN ids AS i ON i.id = s.episode_id ORDER BY 1),
    ARRAY['beta', 'project', 'session', 'tag'],
    'include_shared, text mode: the same'
);
SELECT is(
    ARRAY(SELECT i.k FROM memory.search_episodic_memory('consensus', k => 20, mode => 'vector', include_shared => true) AS s
          INNER JOIN ids AS i ON i.id = s.episode_id ORDER BY 1),
    ARRAY['beta', 'project', 'session', 'tag'],
    'include_shared, vector mode: the same'
);
SELECT is(
    ARRAY(SELECT i.k FROM memory.search_episodic_memory('consensus', k => 20, session_id => 's-cerebro',
                                                          include_shared => true) AS s
          INNER JOIN ids AS i ON i.id = s.episode_id ORDER BY 1),
    ARRAY['project'],
    'a session filter keeps the other episode of that session hidden (neighbours stay in scope)'
);
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory(memory.embed_query('consensus'), 50, -1) AS s
     WHERE s.episode_id <> pg_temp.id('beta')),
    0::bigint, 'the vector overload stays Beta''s own'
);
SELECT ok(
    (SELECT jsonb_path_query_array(memory.build_context('consensus'), '$.**.content')::text NOT LIKE '%Raft%'),
    'build_context brings nothing shared'
);
SELECT is(memory.episode_embedding(pg_temp.id('project')), NULL, 'episode_embedding of a shared episode: NULL');
SELECT is(memory.resolve_episode(pg_temp.id('project')), NULL, 'resolve_episode does not resolve a shared id');

-- ---------------------------------------------------------------- Beta cannot write
SELECT throws_ok(format('SELECT memory.update_episode(%L, content => %L)', pg_temp.id('project'), 'x'),
                 'P0002', 'episode not found', 'update_episode of a shared episode: P0002 as for a missing one');
SELECT throws_ok(format('SELECT memory.forget_episode(%L)', pg_temp.id('tag')),
                 'P0002', 'episode not found', 'forget_episode of a shared episode: P0002');
SELECT is(memory.forget_session('s-shared'), 1, 'forget_session of the shared session forgets Beta''s own episode only');
SELECT throws_ok($$SELECT memory.forget_project('cerebro')$$, 'P0002', 'project not found',
                 'forget_project of the shared project: P0002');
SELECT is(memory.mark_used(ARRAY(SELECT id FROM ids WHERE k IN ('project', 'tag', 'session'))), 0,
          'mark_used records nothing on shared episodes (the owner''s access counts stay)');
SELECT lives_ok($$UPDATE memory.episodes SET importance = 0 WHERE agent_id <> memory.current_agent()$$,
                'a direct UPDATE of shared rows runs');
SELECT throws_ok($$DELETE FROM memory.episodes WHERE agent_id <> memory.current_agent()$$, '42501', NULL,
                 'a direct DELETE: 42501');
SELECT is((SELECT count(*) FROM (SELECT 1 FROM memory.episodes WHERE agent_id <> memory.current_agent() FOR SHARE) AS x),
          0::bigint, 'SELECT ... FOR SHARE locks none of the shared rows (the UPDATE policies apply)');
SELECT throws_ok($$INSERT INTO memory.shares (agent_id, grantee_agent_id, scope, scope_value)
                   SELECT agent_id, memory.current_agent(), 'tag', 'secret' FROM memory.shares LIMIT 1$$,
                 '42501', NULL, 'Beta cannot forge a grant of Alpha''s in memory.shares');
SELECT throws_ok($$DELETE FROM memory.shares$$, '42501', NULL, 'nor delete a grant directly');
SELECT ok(memory.share('session', 'Gamma', 's-shared') IS NOT NULL, 'Beta shares its own s-shared session with Gamma');
SELECT ok(pg_temp.grantee('Gamma'), 'Gamma becomes a grantee with its first grant');
SELECT tests.act_as('Gamma');
SELECT is((SELECT count(*) FROM memory.episodes WHERE agent_id <> memory.current_agent()), 0::bigint,
          'a grant of Beta''s never passes on Alpha''s rows of the same session (Beta''s own row is gone)');
RESET SESSION AUTHORIZATION;
SELECT is(
    (SELECT md5(string_agg(e::text, ',' ORDER BY e.episode_id)) FROM memory.episodes AS e
     WHERE e.agent_id = pg_temp.id('alpha_agent')),
    (SELECT v FROM kept WHERE k = 'alpha_rows'),
    'Alpha''s episodes are unchanged after all of Beta''s attempts'
);

-- ---------------------------------------------------------------- a third agent
SELECT tests.act_as('Gamma');
SELECT is((SELECT count(*) FROM memory.shares WHERE agent_id <> memory.current_agent()
           AND grantee_agent_id <> memory.current_agent()), 0::bigint, 'Gamma sees no grant between others');
SELECT is((SELECT count(*) FROM memory.chunks WHERE agent_id <> memory.current_agent()), 0::bigint,
          'Gamma reads no chunk of another agent');
SELECT is(
    (SELECT count(*) FROM memory.search_episodic_memory('consensus', k => 20, include_shared => true)
     WHERE owner <> 'Gamma'),
    0::bigint, 'Gamma''s include_shared search returns only Gamma''s own'
);

-- ---------------------------------------------------------------- bad input
SELECT tests.act_as('Alpha');
SELECT throws_ok($$SELECT memory.share('bogus', 'Beta', 'x')$$, '22023', 'unknown share scope ''bogus''', 'unknown scope: 22023');
SELECT throws_ok($$SELECT memory.share(NULL, 'Beta', 'x')$$, '22023', 'unknown share scope NULL', 'NULL scope: 22023');
SELECT throws_ok($$SELECT memory.share('tag', 'Alpha', 'x')$$, '22023', 'an agent cannot share with itself',
                 'sharing with oneself: 22023');
SELECT throws_ok($$SELECT memory.share('tag', 'Nobody', 'x')$$, '42704', 'no agent named ''Nobody''', 'unknown agent: 42704');
SELECT throws_ok($$SELECT memory.share('tag', NULL, 'x')$$, '22023', 'with_agent must not be empty', 'NULL agent: 22023');
SELECT throws_ok($$SELECT memory.share('tag', 'Beta', ' ')$$, '22023', 'scope_value must not be empty', 'blank value: 22023');
SELECT throws_ok($$SELECT memory.share('tag', 'Beta', repeat('t', 101))$$, '22001', 'scope_value is too long',
                 'a tag over 100 characters: 22001');
SELECT throws_ok($$SELECT memory.share('project', 'Beta', 'no such project')$$, 'P0002', 'project not found',
                 'an unknown project: P0002');
SELECT throws_ok($$SELECT memory.unshare('tag', 'Nobody', 'x')$$, '42704', 'no agent named ''Nobody''',
                 'unshare with an unknown agent: 42704');
SELECT throws_ok($$SELECT * FROM memory.search_episodic_memory('consensus', include_shared => NULL)$$, '22023',
                 'include_shared must not be NULL', 'include_shared NULL: 22023');
SELECT is((SELECT count(*) FROM memory.shares), 3::bigint, 'the refused calls stored nothing');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT memory.share('tag', 'Beta', 'x')$$, '42501', NULL, 'a session that is not an agent: 42501');

-- ---------------------------------------------------------------- revoke
SELECT tests.act_as('Alpha');
SELECT ok(memory.unshare('tag', 'Beta', 'public'), 'Alpha revokes the tag');
SELECT ok(NOT memory.unshare('tag', 'Beta', 'public'), 'revoking it again returns false');
SELECT tests.act_as('Beta');
SELECT is(
    ARRAY(SELECT i.k FROM memory.episodes AS e INNER JOIN ids AS i ON i.id = e.episode_id
          WHERE e.agent_id <> memory.current_agent() ORDER BY 1),
    ARRAY['project', 'session'],
    'the revoked tag is gone from Beta''s next statement'
);
SELECT ok(pg_temp.grantee('Beta'), 'Beta stays a grantee while grants remain');

-- ---------------------------------------------------------------- drops
RESET SESSION AUTHORIZATION;
SELECT is(tests.drop_agent('Alpha'), 'done', 'the owner is dropped');
SELECT is((SELECT count(*) FROM memory.shares WHERE agent_id = pg_temp.id('alpha_agent')),
          0::bigint, 'drop_agent of the owner removes its grants');
SELECT ok(NOT pg_temp.grantee('Beta'), 'and Beta, whose grants were all Alpha''s, is no longer a grantee');
SELECT tests.act_as('Beta');
SELECT is((SELECT count(*) FROM memory.episodes WHERE agent_id <> memory.current_agent())
          + (SELECT count(*) FROM memory.chunks WHERE agent_id <> memory.current_agent())
          + (SELECT count(*) FROM memory.search_episodic_memory('consensus', k => 20, include_shared => true)
             WHERE owner <> 'Beta'),
          0::bigint, 'after the owner''s drop Beta reads nothing of it by any path');
RESET SESSION AUTHORIZATION;
SELECT is(tests.drop_agent('Gamma'), 'done', 'a grantee is dropped');
SELECT is((SELECT count(*) FROM memory.shares), 0::bigint, 'drop_agent of the grantee removes the grants to it');
SELECT ok(NOT pg_temp.grantee('Gamma'), 'and its login role is no longer a grantee');

SELECT * FROM finish();
ROLLBACK;
