-- SECURITY DEFINER functions of schema memory, beyond catalog/extensions-and-privileges
-- (owner memory_owner, a pinned search_path, some explicit grant): each runs as the
-- owner of every table, so who may call it, how its path resolves, and where it may
-- run are checked here, from the catalog, so a new function is covered the day it
-- exists. Allow-lists name the SECURITY DEFINER functions agents, the daemon and the
-- monitoring role may execute: adding one fails this file until it is reviewed here.
-- Trigger functions: EXECUTE is checked when a trigger is created, not when it fires,
-- so a role holding EXECUTE on a SECURITY DEFINER trigger function can attach it to a
-- temporary table of its own and feed it any NEW row, e.g. another agent's ids: such
-- a function must not be executable by agents, the daemon or the reader, and must
-- refuse to run on any table but its own.
BEGIN;
SELECT plan(23);

SELECT tests.make_agents('Alpha', 'Beta');

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);
CREATE TEMP TABLE kept (k text PRIMARY KEY, v text);
GRANT ALL ON kept TO PUBLIC;

-- The SECURITY DEFINER functions of schema memory.
CREATE FUNCTION pg_temp.definers()
RETURNS SETOF regprocedure
LANGUAGE sql
STABLE
AS $$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = 'memory'::regnamespace AND p.prosecdef
    ORDER BY 1
$$;

-- The SECURITY DEFINER functions of schema memory a role may execute, as text.
CREATE FUNCTION pg_temp.definers_of(role_name name)
RETURNS text []
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(array_agg(f::text ORDER BY f::text), '{}')
    FROM pg_temp.definers() AS f
    WHERE has_function_privilege(role_name, f, 'EXECUTE')
$$;

-- Re-creates a trigger of schema memory whose function is SECURITY DEFINER on a
-- temporary copy of its table (same columns, one real row copied in, no WHEN clause,
-- one trigger per event with the same timing, level and transition tables) and fires
-- each of its events once. Returns 'EVENT: outcome; ...'. Run as a superuser, who may
-- attach any function: this tests the function's own guard, whatever the grants.
CREATE FUNCTION pg_temp.replay_elsewhere(trg oid)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    t record;
    tbl text;
    first_col text;
    ev text;
    refs text;
    fire text;
    outcome text := '';
BEGIN
    SELECT tg.tgname, tg.tgtype::integer AS tgtype, tg.tgfoid, tg.tgnewtable, tg.tgoldtable, c.relname, c.oid AS relid
    INTO t
    FROM pg_catalog.pg_trigger AS tg JOIN pg_catalog.pg_class AS c ON c.oid = tg.tgrelid
    WHERE tg.oid = trg;
    tbl := 'replay_' || t.tgname;
    EXECUTE format('DROP TABLE IF EXISTS pg_temp.%I', tbl);
    EXECUTE format('CREATE TEMP TABLE %I (LIKE memory.%I)', tbl, t.relname);
    EXECUTE format('INSERT INTO pg_temp.%I SELECT * FROM memory.%I LIMIT 1', tbl, t.relname);
    SELECT quote_ident(a.attname) INTO first_col FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1;
    FOREACH ev IN ARRAY ARRAY['INSERT', 'UPDATE', 'DELETE'] LOOP
        CONTINUE WHEN t.tgtype & CASE ev WHEN 'INSERT' THEN 4 WHEN 'DELETE' THEN 8 ELSE 16 END = 0;
        refs := concat_ws(' ',
            CASE WHEN ev IN ('UPDATE', 'DELETE') AND t.tgoldtable IS NOT NULL THEN format('OLD TABLE AS %I', t.tgoldtable) END,
            CASE WHEN ev IN ('INSERT', 'UPDATE') AND t.tgnewtable IS NOT NULL THEN format('NEW TABLE AS %I', t.tgnewtable) END);
        EXECUTE format('CREATE TRIGGER replay %s %s ON pg_temp.%I %s FOR EACH %s EXECUTE FUNCTION %s()',
            CASE WHEN t.tgtype & 2 > 0 THEN 'BEFORE' ELSE 'AFTER' END, ev, tbl,
            CASE WHEN refs <> '' THEN 'REFERENCING ' || refs ELSE '' END,
            CASE WHEN t.tgtype & 1 > 0 THEN 'ROW' ELSE 'STATEMENT' END, t.tgfoid::regproc);
        fire := CASE ev
            WHEN 'INSERT' THEN format('INSERT INTO pg_temp.%1$I SELECT * FROM pg_temp.%1$I', tbl)
            WHEN 'UPDATE' THEN format('UPDATE pg_temp.%I SET %s = %2$s', tbl, first_col)
            ELSE format('DELETE FROM pg_temp.%I', tbl)
        END;
        outcome := outcome || ev || ': ' || tests.sqlstate_of(fire) || '; ';
        EXECUTE format('DROP TRIGGER replay ON pg_temp.%I', tbl);
    END LOOP;
    RETURN outcome;
END
$$;

-- Memory for both agents: an episode with its vector, a fact, a block.
CREATE FUNCTION pg_temp.seed(who text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    m text := lower(who) || '-secret-zq7';
BEGIN
    PERFORM tests.act_as(who);
    INSERT INTO pg_temp.ids VALUES
        (who, 'agent', memory.current_agent()),
        (who, 'episode', memory.remember(m || ' episode')),
        (who, 'fact', memory.learn_fact('concept', m || ' fact'));
    PERFORM memory.set_block('persona', 'I am ' || m);
    PERFORM memory.set_working_memory('task', jsonb_build_object('note', m));
    INSERT INTO pg_temp.ids SELECT who, 'block', b.block_id FROM memory.blocks AS b WHERE b.label = 'persona';
    EXECUTE 'RESET SESSION AUTHORIZATION';
    PERFORM tests.put_episode_vector(pg_temp.id(who, 'episode'), tests.unit_vector(ARRAY[1]));
    PERFORM tests.put_fact_vector(pg_temp.id(who, 'fact'), tests.unit_vector(ARRAY[2]));
END
$$;

SELECT pg_temp.seed('Alpha');
SELECT pg_temp.seed('Beta');
-- a cached query, so that the cache's trigger has a row to be replayed on
SELECT tests.cache_query_vector('replayed query', tests.unit_vector(ARRAY[5]));
-- a grant (of a tag no episode holds), so that the grants' membership trigger has a row
SELECT tests.act_as('Alpha');
SELECT memory.share('tag', 'Beta', 'replayed-tag');
RESET SESSION AUTHORIZATION;
INSERT INTO kept VALUES ('alpha stored', tests.stored(pg_temp.id('Alpha', 'agent')));

-- ---------------------------------------------------------------- catalog
SELECT cmp_ok(
    (SELECT count(*) FROM pg_temp.definers()), '>=', 30::bigint,
    'schema memory has SECURITY DEFINER functions to check'
);
SELECT is(
    ARRAY(
        SELECT f::text FROM pg_temp.definers() AS f, pg_proc AS p
        WHERE p.oid = f AND NOT EXISTS (
            SELECT 1 FROM unnest(p.proconfig) AS c
            WHERE c LIKE 'search_path=%' AND rtrim(c) ~ '(^search_path=|,\s*)pg_temp$'
        )
        ORDER BY 1
    ),
    '{}'::text [],
    'every SECURITY DEFINER function lists pg_temp last in its pinned search_path (unlisted, pg_temp would be searched first)'
);
SELECT is(
    ARRAY(
        SELECT f::text || ' -> ' || coalesce(r.rolname, 'PUBLIC')
        FROM pg_temp.definers() AS f
            INNER JOIN pg_proc AS p ON p.oid = f
            CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
            LEFT JOIN pg_roles AS r ON r.oid = a.grantee
        WHERE a.privilege_type = 'EXECUTE'
          AND coalesce(r.rolname, 'PUBLIC') NOT IN ('memory_owner', 'memory_admin', 'memory_agent', 'memory_worker', 'memory_reader')
        ORDER BY 1
    ),
    '{}'::text [],
    'SECURITY DEFINER functions are granted only to the project''s group roles: never to PUBLIC or to a login role'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text FROM pg_proc AS p INNER JOIN pg_roles AS r ON r.oid = p.proowner
        WHERE p.pronamespace = 'memory'::regnamespace AND r.rolsuper
        ORDER BY 1
    ),
    ARRAY[
        'memory._embed_query_remote(text,text,text[],integer)', 'memory._split_text(text,integer,integer)',
        'memory.schedule_job(text,text,text)'
    ],
    'the only functions of schema memory owned by a superuser are the two plpython3u helpers and schedule_job (pg_cron)'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text FROM pg_proc AS p INNER JOIN pg_roles AS r ON r.oid = p.proowner
        WHERE p.pronamespace = 'memory'::regnamespace AND r.rolsuper AND p.prosecdef
        ORDER BY 1
    ),
    '{}'::text [],
    'no function of schema memory runs as a superuser (none of those is SECURITY DEFINER)'
);
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text FROM pg_proc AS p INNER JOIN pg_language AS l ON l.oid = p.prolang
        WHERE p.pronamespace = 'memory'::regnamespace AND NOT l.lanpltrusted
        ORDER BY 1
    ),
    ARRAY['memory._embed_query_remote(text,text,text[],integer)', 'memory._split_text(text,integer,integer)'],
    'the only functions in an untrusted language are the chunker and the query-embedding client'
);
SELECT is(
    ARRAY(
        SELECT f || ' ' || r
        FROM unnest(ARRAY['memory._embed_query_remote(text,text,text[],integer)', 'memory.schedule_job(text,text,text)']) AS f,
            unnest(ARRAY['memory_agent', 'memory_worker', 'memory_reader', 'memory_admin']) AS r
        WHERE has_function_privilege(r, f::regprocedure, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text [],
    'no role of the project may call the socket client (only embed_query, as memory_owner) or schedule_job directly'
);
-- The reviewed list (issue 15): every SECURITY DEFINER function an agent can execute,
-- with the reason it is safe. The class of bug to look for: returning, or letting the
-- caller infer, anything derived from other agents' rows (contents, counts, planner
-- statistics, pg_stats, timing that depends on them). A new one fails the test below
-- until it is reviewed and added here with its reason.
CREATE TEMP TABLE reviewed_agent_definers (fn text PRIMARY KEY, reason text NOT NULL);
INSERT INTO reviewed_agent_definers VALUES
    ('memory._episode_text_list(tsquery[],double precision[],integer,text[],uuid,text,timestamp with time zone,timestamp with time zone,real)',
     'agent from _require_agent() (session_user), rows filtered on that agent_id; returns ids of the caller''s own episodes and the sum of the caller-given weights of the terms each holds (no corpus statistics: the weights come from the caller)'),
    ('memory._fact_text_list(tsquery[],integer,timestamp with time zone,boolean)',
     'agent from _require_agent(), rows filtered on that agent_id; returns ids and per-document ranks of the caller''s own facts'),
    ('memory._term_weights(tsquery[],text)',
     'agent from _require_agent(); counts, bounded at 1,000, only rows WHERE agent_id = that agent; the weights are the caller''s own document frequencies, so another agent''s rows change nothing it returns (the GIN posting lists it walks are shared: a timing channel, docs/security.md)'),
    ('memory._search_owners(boolean)',
     'the caller (_require_agent()) and, with include_shared, only the agents whose grants name the caller as grantee, with their names: what shared_with_me already tells it; no row of memory is read'),
    ('memory.my_shares()',
     'lists only grants WHERE agent_id = _require_agent(), with the grantees'' names the caller itself chose'),
    ('memory.share(text,text,text)',
     'inserts a grant with agent_id = _require_agent() only, of a project found WHERE agent_id = that agent (another agent''s project is the same P0002 as a missing one); reveals only whether an agent name exists (42704), names are not memory (docs/decisions.md)'),
    ('memory.shared_with_me()',
     'lists only grants WHERE grantee_agent_id = _require_agent(): the owners chose to tell the caller; nothing of their rows'),
    ('memory.unshare(text,text,text)',
     'deletes only grants WHERE agent_id = _require_agent(); the same existence-of-a-name answer as share'),
    ('memory.clear_retention_policy(text)',
     'target from _policy_agent(): the caller''s own agent, or for an operator a named one; an agent naming any other name (existing or not) gets the same 42501, so it is no existence oracle; deletes only that agent''s policy'),
    ('memory.forget_project(text)',
     'finds the project only WHERE agent_id = _require_agent() (another agent''s project name is the same P0002 as a missing one) and deletes only the caller''s episodes, jobs first'),
    ('memory.forget_session(text)',
     'deletes only episodes WHERE agent_id = _require_agent() AND session_id = the argument, jobs locked first; returns the count of the caller''s own rows'),
    ('memory.set_retention_policy(interval,integer,real,text[],interval,text)',
     'target from _policy_agent() as clear_retention_policy: the caller''s own policy unless an operator; returns only that policy (without agent_id)'),
    ('memory.clear_working_memory(text)',
     'deletes and counts only rows WHERE agent_id = _require_agent(); the count is of the caller''s own items'),
    ('memory.create_checkpoint(text,jsonb)',
     'snapshots the blocks of _require_agent() only (_take_checkpoint(me)); returns the new checkpoint''s id'),
    ('memory.current_agent()',
     'returns the agent bound to session_user: the caller''s own id or NULL, never another agent''s'),
    ('memory.embed_query(text,text)',
     'returns the vector of the caller''s own text; the shared query cache holds no text or agent and its hits are not returned (its timing is a documented channel, docs/security.md)'),
    ('memory.forget_episode(uuid)',
     'locks and deletes only WHERE agent_id = _require_agent(); another agent''s id gets the same 02000 as a missing one'),
    ('memory.link_facts(uuid,uuid,text,real)',
     'both facts must belong to _require_agent() (else the same P0002 as a missing id); writes and deletes only the caller''s links'),
    ('memory.my_quota()',
     'the caller''s own limits and counters (agent_usage row and pending jobs of _require_agent()); the defaults are operator settings, not derived from other agents'),
    ('memory.mark_used(uuid[])',
     'inserts access rows only for episodes WHERE agent_id = _require_agent(); another agent''s id is skipped exactly like a missing one and the count covers the caller''s own rows only'),
    ('memory.propose_decision(text,jsonb)',
     'inserts for _require_agent(); the electorate counts only the caller''s own live instances'),
    ('memory.restore_checkpoint(uuid)',
     'reads the checkpoint only WHERE agent_id = _require_agent() (else P0002 like a missing id) and writes only the caller''s blocks'),
    ('memory.undo_consolidation(bigint)',
     'reads the consolidation only WHERE agent_id = _require_agent() (another agent''s id is the same P0002 as a missing one); updates the caller''s kept episode and re-inserts the merged copy as the caller''s own; returns that copy''s id'),
    ('memory.schema_version()',
     'the newest migration''s name: global, derived from no agent''s rows'),
    ('memory.set_working_memory(text,jsonb,interval,text,text,text)',
     'inserts or upserts only rows of _require_agent(); the key''s conflict target includes agent_id, so another agent''s keys cannot collide; the optional idempotency key is claimed in memory.idempotency_keys under the same agent_id'),
    ('memory.vote(uuid,uuid,boolean)',
     'decision and instance must belong to _require_agent() (else P0002 like a missing id); counts only votes and instances of that decision, the caller''s own');
SELECT is(
    pg_temp.definers_of('memory_agent'),
    ARRAY(SELECT r.fn FROM reviewed_agent_definers AS r ORDER BY r.fn),
    'agents may execute exactly the reviewed SECURITY DEFINER functions (issue 15 audit: each with the reason it derives nothing from other agents'' rows)'
);
SELECT is(
    ARRAY(SELECT r.fn FROM reviewed_agent_definers AS r WHERE char_length(r.reason) < 40 ORDER BY r.fn),
    '{}'::text [],
    'every reviewed SECURITY DEFINER function of the agents has its reason written down'
);
SELECT is(
    pg_temp.definers_of('memory_worker'),
    ARRAY[
        'memory.cache_block_agents_page(uuid,integer)', 'memory.cache_blocks(uuid[])',
        'memory.cache_warmer_heartbeat(text,boolean,bigint,bigint,double precision,text)',
        'memory.cache_working_memory(uuid[])', 'memory.cache_working_memory_page(uuid,integer)',
        'memory.claim_cache_reconcile(text)', 'memory.claim_embedding_batch(text,integer,interval,integer,text[])',
        'memory.complete_embedding_batch(text,uuid[],integer[],vector[])',
        'memory.embedding_batch_outranked(text,uuid[])', 'memory.embedding_model_registry()',
        'memory.embedding_queue_depth()', 'memory.embedding_worker_heartbeat(text,text,text[],text,integer,text,text,jsonb)',
        'memory.embedding_worker_sleep(text,text[])', 'memory.embedding_worker_wake(text,text[])',
        'memory.extend_embedding_leases(text,uuid[],interval)', 'memory.fail_embedding_batch(text,uuid[],text)',
        'memory.finish_cache_reconcile(text,bigint,timestamp with time zone,bigint,bigint,bigint,bigint,bigint,text)',
        'memory.health_metrics()', 'memory.release_embedding_batch(text,uuid[])', 'memory.release_worker_leases(text)',
        'memory.schema_version()', 'memory.take_cache_changes(text,integer)'
    ],
    'the daemon may execute exactly the reviewed SECURITY DEFINER functions (queue, cache, gauges)'
);
SELECT is(
    pg_temp.definers_of('memory_reader'),
    ARRAY[
        'memory.current_agent()', 'memory.embedding_queue_depth()', 'memory.health()', 'memory.health_metrics()',
        'memory.schema_version()'
    ],
    'the monitoring role may execute exactly the reviewed SECURITY DEFINER functions (health, gauges, versions)'
);
SELECT is(
    ARRAY(
        SELECT f::text || ' ' || r
        FROM pg_temp.definers() AS f JOIN pg_proc AS p ON p.oid = f,
            unnest(ARRAY['memory_agent', 'memory_worker', 'memory_reader', 'public']) AS r
        WHERE p.prorettype = 'trigger'::regtype AND has_function_privilege(r, f, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text [],
    'no SECURITY DEFINER trigger function is executable by agents, the daemon, the reader or PUBLIC (who could attach it to a table of their own)'
);
SELECT is(
    ARRAY(
        SELECT 'member ' || m.rolname FROM pg_auth_members AS am INNER JOIN pg_roles AS m ON m.oid = am.member
        WHERE am.roleid = 'memory_owner'::regrole
        UNION ALL
        SELECT 'memory_owner can log in' FROM pg_roles WHERE rolname = 'memory_owner' AND rolcanlogin
        ORDER BY 1
    ),
    '{}'::text [],
    'nobody can become memory_owner, whose rights every SECURITY DEFINER function runs with: it cannot log in and has no members'
);
SELECT is(
    ARRAY(
        SELECT r || ' ' || s
        FROM unnest(ARRAY['memory_agent', 'memory_worker', 'memory_reader', 'public']) AS r,
            unnest(ARRAY['public', 'memory', 'pg_catalog']) AS s
        WHERE has_schema_privilege(r, s, 'CREATE')
        ORDER BY 1
    ),
    '{}'::text [],
    'agents, the daemon, the reader and PUBLIC cannot create objects in a schema of the pinned search paths'
);

-- ---------------------------------------------------------------- trigger functions, as Beta
CREATE TEMP TABLE definer_triggers AS
SELECT tg.oid AS trg, tg.tgname::text AS tgname, tg.tgfoid::regprocedure AS fn
FROM pg_trigger AS tg INNER JOIN pg_proc AS p ON p.oid = tg.tgfoid INNER JOIN pg_class AS c ON c.oid = tg.tgrelid
WHERE c.relnamespace = 'memory'::regnamespace AND p.prosecdef AND NOT tg.tgisinternal;
GRANT SELECT ON definer_triggers TO PUBLIC;
SELECT cmp_ok(
    (SELECT count(DISTINCT fn) FROM definer_triggers), '>=', 4::bigint,
    'schema memory has SECURITY DEFINER trigger functions to attack'
);

SELECT tests.act_as('Beta');
CREATE TEMP TABLE beta_probe (x integer);
SELECT is(
    ARRAY(
        SELECT DISTINCT d.fn::text || ': ' || r
        FROM definer_triggers AS d,
            LATERAL tests.sqlstate_of(format(
                'CREATE TRIGGER beta_probe AFTER INSERT ON pg_temp.beta_probe FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                d.fn::regproc
            )) AS r
        WHERE r NOT LIKE '42501: permission denied for function %'
        ORDER BY 1
    ),
    '{}'::text [],
    'Beta cannot attach any SECURITY DEFINER trigger function of memory to a table of its own (42501)'
);
-- The attacks these grants allowed: feeding Alpha's ids to the queue and history
-- triggers through temporary look-alikes of their tables. Each creates its trigger and
-- fires it; the first statement must already be refused.
CREATE TEMP TABLE episodes (episode_id uuid, agent_id uuid, importance real, content_sha256 bytea, x integer);
CREATE TEMP TABLE blocks (
    block_id uuid, version integer, agent_id uuid, label text, value text, description text, char_limit integer,
    read_only boolean, updated_at timestamptz, updated_by text
);
CREATE TEMP TABLE new_rows (agent_id uuid, episode_id uuid, importance real, content_sha256 bytea);
CREATE FUNCTION pg_temp.hijack_job()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    CREATE TRIGGER hijack AFTER UPDATE ON pg_temp.episodes FOR EACH ROW EXECUTE FUNCTION memory._reenqueue_changed();
    INSERT INTO pg_temp.episodes VALUES (pg_temp.id('Alpha', 'episode'), memory.current_agent(), 1, '\x00', 0);
    UPDATE pg_temp.episodes SET x = 1;
END
$$;
CREATE FUNCTION pg_temp.forge_history()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    CREATE TRIGGER forge AFTER INSERT ON pg_temp.blocks FOR EACH ROW EXECUTE FUNCTION memory._blocks_record_history();
    INSERT INTO pg_temp.blocks VALUES (pg_temp.id('Beta', 'block'), 99, pg_temp.id('Alpha', 'agent'), 'persona',
        'forged by beta', NULL, 5000, FALSE, now(), 'test_alpha');
END
$$;
CREATE FUNCTION pg_temp.probe_ids()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    CREATE TRIGGER probe AFTER INSERT ON pg_temp.new_rows REFERENCING NEW TABLE AS new_episodes
    FOR EACH STATEMENT EXECUTE FUNCTION memory._enqueue_new_episodes();
    INSERT INTO pg_temp.new_rows VALUES (memory.current_agent(), pg_temp.id('Alpha', 'episode'), 1, '\x00');
END
$$;
SELECT throws_ok(
    'SELECT pg_temp.hijack_job()',
    '42501', 'permission denied for function memory._reenqueue_changed',
    'Beta cannot re-queue Alpha''s episode under its own agent id (which dropped Alpha''s vectors and handed Beta their successors)'
);
SELECT throws_ok(
    'SELECT pg_temp.forge_history()',
    '42501', 'permission denied for function memory._blocks_record_history',
    'Beta cannot write a version into Alpha''s block history (knowing only Alpha''s agent id)'
);
SELECT throws_ok(
    'SELECT pg_temp.probe_ids()',
    '42501', 'permission denied for function memory._enqueue_new_episodes',
    'Beta cannot queue jobs for ids of its choosing (nor tell Alpha''s ids from unknown ones by the error)'
);
SELECT tests.act_as('Alpha');
SELECT is(
    ARRAY(SELECT h.value FROM memory.block_history AS h ORDER BY h.changed_at, h.version),
    ARRAY['I am alpha-secret-zq7'],
    'Alpha''s block history (every row Alpha may read) holds Alpha''s one version, nothing forged'
);
RESET SESSION AUTHORIZATION;
SELECT is(
    tests.stored(pg_temp.id('Alpha', 'agent')),
    (SELECT v FROM kept WHERE k = 'alpha stored'),
    'Alpha''s rows (jobs, vectors and block history included) are unchanged'
);

-- ---------------------------------------------------------------- trigger functions, anywhere else
SELECT is(
    ARRAY(
        SELECT d.tgname || ' (' || d.fn::text || ') ' || r.outcome
        FROM definer_triggers AS d, LATERAL (SELECT pg_temp.replay_elsewhere(d.trg) AS outcome) AS r
        WHERE r.outcome ~ '(^|; )(INSERT|UPDATE|DELETE): (?!42501: )'
        ORDER BY 1
    ),
    '{}'::text [],
    'every SECURITY DEFINER trigger of schema memory, replayed on a temporary copy of its table (even by a superuser), refuses to run (42501)'
);
SELECT cmp_ok(
    (SELECT count(*) FROM definer_triggers AS d WHERE pg_temp.replay_elsewhere(d.trg) LIKE '%: 42501: %'),
    '>=', 5::bigint,
    'the replay fired each of those triggers (the check above is not vacuous)'
);

SELECT * FROM finish();
ROLLBACK;
