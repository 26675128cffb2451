-- Isolation, table by table. Every table of schema memory is taken from the catalog,
-- so a table added later is attacked the day it exists. Agent Beta tries direct SELECT,
-- UPDATE, DELETE, INSERT and TRUNCATE on agent Alpha's rows, and on the rows of the
-- shared tables (those without agent_id: model registry, queue settings, daemons,
-- query cache); a non-leakproof function in WHERE and the planner statistics are tried
-- as side channels. Every attempt that does not fail is undone on the spot, and
-- Alpha's rows are compared before and after.
-- Alpha's rows: those with Alpha's agent_id, or, in a table without agent_id, the rows
-- that Alpha's seed added. REPEATABLE READ: other sessions' commits (the daemon, the
-- pg_cron jobs) cannot change the snapshots during the test.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT plan(18);

SELECT tests.make_agent('Alpha');
SELECT tests.make_agent('Beta');
-- the grantee of both agents' grants (memory.shares, migration 028): neither Alpha nor
-- Beta, so that a grant opens nothing between the two
SELECT tests.make_agent('Gamma');

-- ---------------------------------------------------------------- helpers (pg_temp)
SELECT tests.make_id_table(keyed_by_agent => TRUE);

-- Every table of schema memory and whether it is keyed on agent_id.
CREATE FUNCTION pg_temp.memory_tables()
RETURNS TABLE (tbl text, keyed boolean)
LANGUAGE sql
STABLE
AS $$
    SELECT c.relname::text,
           EXISTS (
               SELECT 1 FROM pg_catalog.pg_attribute AS a
               WHERE a.attrelid = c.oid AND a.attname = 'agent_id' AND NOT a.attisdropped
           )
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
    ORDER BY 1
$$;

-- The tables keyed on agent_id in which the session counts rows of another agent:
-- 'table: count', or 'table: SQLSTATE' for an error other than 42501.
CREATE FUNCTION pg_temp.others_rows_read()
RETURNS text []
LANGUAGE sql
AS $$
    SELECT ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.count_of(format(
                'SELECT count(*) FROM memory.%I AS x WHERE x.agent_id IS DISTINCT FROM memory.current_agent()', t.tbl
            )) AS r
        WHERE t.keyed AND r NOT IN ('0', '42501')
        ORDER BY 1
    )
$$;

-- The rows of a table (of one agent when agent is given), hashed and as jsonb.
CREATE FUNCTION pg_temp.rows_of(tbl text, agent uuid)
RETURNS TABLE (h text, tpl jsonb)
LANGUAGE plpgsql
AS $$
BEGIN
    IF agent IS NULL THEN
        RETURN QUERY EXECUTE format('SELECT md5(x::text), to_jsonb(x) FROM memory.%I AS x', tbl);
    ELSE
        RETURN QUERY EXECUTE format('SELECT md5(x::text), to_jsonb(x) FROM memory.%I AS x WHERE x.agent_id = $1', tbl)
        USING agent;
    END IF;
END
$$;

-- One hash over an agent's rows in every table (whole tables where there is no agent_id).
CREATE FUNCTION pg_temp.fingerprint(agent uuid)
RETURNS text
LANGUAGE sql
AS $$
    SELECT md5(string_agg(t.tbl || ':' || r.h, ',' ORDER BY t.tbl, r.h))
    FROM pg_temp.memory_tables() AS t,
        LATERAL pg_temp.rows_of(t.tbl, CASE WHEN t.keyed THEN agent END) AS r
$$;

-- The columns of a table an INSERT may set (not generated, not GENERATED ALWAYS AS IDENTITY).
CREATE FUNCTION pg_temp.insertable_columns(tbl text)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = format('memory.%I', tbl)::regclass
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity <> 'a'
$$;

-- A non-leakproof function that records every row it is shown.
CREATE TEMP TABLE peeked (r text);
GRANT ALL ON peeked TO PUBLIC;
CREATE FUNCTION pg_temp.peek(r text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO pg_temp.peeked VALUES (r);
    RETURN TRUE;
END
$$;

-- Fills every table an agent can reach through the API, with a marker in every text.
CREATE FUNCTION pg_temp.seed(who text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    m text := lower(who) || '-secret-zq7';
    e1 uuid;
    f1 uuid;
    f2 uuid;
    f3 uuid;
    i1 uuid;
    d1 uuid;
BEGIN
    -- the agent's first counts in place (memory.agent_usage), the later ones as running
    -- totals of this transaction (memory.agent_usage_tx, migration 023): rows in both
    PERFORM set_config('memory.usage_counts', '', true);
    PERFORM tests.act_as(who);
    e1 := memory.remember(m || ' episode one', 0.7, ARRAY['tag-' || m], 'project ' || m, now(),
                          jsonb_build_object('secret', m), 'session-' || m);
    PERFORM memory.remember(m || ' episode two', idempotency_key => 'shared key ' || m);
    f1 := memory.learn_fact('concept ' || m, 'statement one ' || m, 0.6, ARRAY[e1]);
    f2 := memory.learn_fact('concept ' || m, 'statement two ' || m);
    f3 := memory.learn_fact('concept ' || m, 'statement three ' || m);
    PERFORM memory.learn_fact('concept ' || m, 'statement four ' || m, supersedes => ARRAY[f3]);
    PERFORM memory.link_facts(f1, f2, 'supports');
    IF to_regclass('memory.shares') IS NOT NULL THEN
        PERFORM memory.share('project', 'Gamma', 'project ' || m);
        PERFORM memory.share('tag', 'Gamma', 'tag-' || m);
    END IF;
    PERFORM memory.set_working_memory('task', jsonb_build_object('note', m), '1 hour', 'high', 'shared-key');
    PERFORM memory.set_block('persona', 'I am ' || m);
    PERFORM memory.set_block('persona', 'I am ' || m || ', version two');
    PERFORM memory.set_block('guarded', 'read-only ' || m, NULL, 5000, TRUE);
    PERFORM memory.create_checkpoint('manual', jsonb_build_object('secret', m));
    PERFORM memory.heartbeat('focus ' || m, '{"calm": 0.5}', jsonb_build_object('context', m));
    i1 := memory.register_instance('shared-instance', 'primary', 'location ' || m);
    PERFORM memory.register_instance('instance-' || lower(who));
    d1 := memory.propose_decision('topic ' || m, jsonb_build_object('proposal', m));
    PERFORM memory.vote(d1, i1, TRUE);
    PERFORM memory.mark_used(ARRAY[e1]);
    INSERT INTO pg_temp.ids VALUES (who, 'agent', memory.current_agent());
    EXECUTE 'RESET SESSION AUTHORIZATION';
    IF to_regclass('memory.legacy_imports') IS NOT NULL THEN
        EXECUTE 'INSERT INTO memory.legacy_imports (server_name, agent_id) VALUES ($1, $2)'
        USING 'iso_' || lower(who), pg_temp.id(who, 'agent');
    END IF;
    -- an operator's quota override of the agent (agent_usage is written by the triggers)
    PERFORM memory.set_agent_limits(who, max_queued_jobs => 1000);
    -- the daemon's last claim of the agent's jobs (fair claiming)
    INSERT INTO memory.claim_turns VALUES (pg_temp.id(who, 'agent'), now());
    IF to_regclass('memory.agent_imports') IS NOT NULL THEN
        EXECUTE 'INSERT INTO memory.agent_imports (agent_id, export_sha256, source_agent_id, source_agent_name, remapped_ids) '
                'VALUES ($1, encode(sha256(convert_to($2, ''UTF8'')), ''hex''), $1, $2, false)'
        USING pg_temp.id(who, 'agent'), m;
    END IF;
    -- A cached query the agent asked for, and a finished drop's tombstone (migration 015).
    IF to_regclass('memory.query_embedding_askers') IS NOT NULL THEN
        EXECUTE $sql$
            WITH c AS (
                INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)
                SELECT m.model_id, memory._sha256($1), array_fill(0.5::real, ARRAY[m.dimensions])::public.vector
                FROM memory.embedding_models AS m WHERE m.is_serving
                RETURNING model_id, query_sha256
            )
            INSERT INTO memory.query_embedding_askers (model_id, query_sha256, agent_id)
            SELECT c.model_id, c.query_sha256, $2 FROM c
        $sql$ USING m || ' query', pg_temp.id(who, 'agent');
    END IF;
    IF to_regclass('memory.retention_log') IS NOT NULL THEN
        EXECUTE 'INSERT INTO memory.retention_policies (agent_id, max_age) VALUES ($1, interval ''10 years'')'
        USING pg_temp.id(who, 'agent');
        EXECUTE 'INSERT INTO memory.retention_log (agent_id, episode_id, rule, occurred_at, tags, importance, '
                'effective_importance, access_count, content_sha256) '
                'VALUES ($1, gen_random_uuid(), ''max_age'', now(), ''{}'', 0.5, 0.5, 0, memory._sha256($2))'
        USING pg_temp.id(who, 'agent'), m;
    END IF;
    -- a merge of consolidation (its copy holds the secret) and the job's cursor (migration 022)
    IF to_regclass('memory.consolidations') IS NOT NULL THEN
        EXECUTE 'INSERT INTO memory.consolidations (agent_id, merged_id, kept_id, cosine, text_similarity, '
                'merged_episode, kept_importance_before, kept_importance_after) '
                'VALUES ($1, gen_random_uuid(), $2, 1, 1, jsonb_build_object(''content'', $3), 0.7, 0.7)'
        USING pg_temp.id(who, 'agent'), e1, m || ' merged copy';
        EXECUTE 'INSERT INTO memory.consolidation_progress (agent_id, model_id) VALUES ($1, 1)'
        USING pg_temp.id(who, 'agent');
    END IF;
    -- the agent's frequent words, as the memory-frequent-lexemes job records them (036)
    INSERT INTO memory.agent_frequent_lexemes (agent_id, source, lexemes, rows_counted)
    VALUES (pg_temp.id(who, 'agent'), 'episodes', to_tsvector('simple', m), 1000);
    IF to_regclass('memory.agent_drops') IS NOT NULL THEN
        EXECUTE 'INSERT INTO memory.agent_drops (agent_id, agent_name, db_role) VALUES ($1, $2, $3)'
        USING pg_temp.id(who, 'agent'), who, 'test_' || lower(who);
    END IF;
    -- Vectors are written by the embed daemon (complete_embedding_batch), which cannot
    -- see this uncommitted transaction: write one chunk and one pooled vector of the
    -- first episode as the daemon would.
    IF to_regclass('memory.chunks') IS NOT NULL THEN
        EXECUTE $sql$
            INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
            SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, char_length(e.content), e.content_sha256,
                   array_fill(0.5::real, ARRAY[m.dimensions])::public.vector
            FROM memory.episodes AS e, memory.embedding_models AS m
            WHERE e.episode_id = $1 AND m.is_serving
        $sql$ USING e1;
    END IF;
    IF to_regclass('memory.pooled_embeddings') IS NOT NULL THEN
        EXECUTE $sql$
            INSERT INTO memory.pooled_embeddings (agent_id, episode_id, model_id, content_sha256, chunk_count, embedding)
            SELECT e.agent_id, e.episode_id, m.model_id, e.content_sha256, 1,
                   array_fill(0.5::real, ARRAY[m.dimensions])::public.vector
            FROM memory.episodes AS e, memory.embedding_models AS m
            WHERE e.episode_id = $1 AND m.is_serving
        $sql$ USING e1;
    END IF;
END
$$;

-- ---------------------------------------------------------------- data
CREATE TEMP TABLE unkeyed_before AS
SELECT t.tbl, r.h FROM pg_temp.memory_tables() AS t, LATERAL pg_temp.rows_of(t.tbl, NULL) AS r
WHERE NOT t.keyed;
SELECT pg_temp.seed('Alpha');
CREATE TEMP TABLE alpha_rows AS
SELECT t.tbl, r.h, r.tpl
FROM pg_temp.memory_tables() AS t,
    LATERAL pg_temp.rows_of(t.tbl, CASE WHEN t.keyed THEN pg_temp.id('Alpha', 'agent') END) AS r
WHERE t.keyed OR r.h NOT IN (SELECT u.h FROM unkeyed_before AS u WHERE u.tbl = t.tbl);
GRANT SELECT ON alpha_rows TO PUBLIC;
SELECT pg_temp.seed('Beta');
-- What Beta will try to insert: one of Alpha's rows, or any row of a shared table.
CREATE TEMP TABLE templates AS
SELECT t.tbl,
       (SELECT r.tpl FROM pg_temp.rows_of(t.tbl, CASE WHEN t.keyed THEN pg_temp.id('Alpha', 'agent') END) AS r
        ORDER BY r.h LIMIT 1) AS tpl
FROM pg_temp.memory_tables() AS t;
GRANT SELECT ON templates TO PUBLIC;
CREATE TEMP TABLE before_attacks AS SELECT pg_temp.fingerprint(pg_temp.id('Alpha', 'agent')) AS fp;

SELECT is(
    ARRAY(
        SELECT t.tbl FROM pg_temp.memory_tables() AS t
        WHERE t.keyed AND NOT EXISTS (SELECT 1 FROM alpha_rows AS a WHERE a.tbl = t.tbl)
    ),
    '{}'::text[],
    'the seed gives Alpha at least one row in every table keyed on agent_id (extend pg_temp.seed for a new table)'
);
SELECT is(
    ARRAY(
        SELECT t.tbl FROM pg_temp.memory_tables() AS t
        WHERE t.keyed AND tests.count_of(format(
            'SELECT count(*) FROM memory.%I WHERE agent_id = %L', t.tbl, pg_temp.id('Beta', 'agent')
        )) = '0'
    ),
    '{}'::text[],
    'the seed gives Beta at least one row in every table keyed on agent_id'
);

-- ---------------------------------------------------------------- Beta attacks
SELECT tests.act_as('Beta');

SELECT is(
    pg_temp.others_rows_read(),
    '{}'::text[],
    'SELECT: Beta reads no row of any other agent in any table keyed on agent_id'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.count_of(format(
                'SELECT count(*) FROM memory.%I AS x WHERE md5(x::text) IN (SELECT a.h FROM pg_temp.alpha_rows AS a WHERE a.tbl = %L)',
                t.tbl, t.tbl
            )) AS r
        WHERE r NOT IN ('0', '42501')
        ORDER BY 1
    ),
    '{}'::text[],
    'SELECT: Beta reads none of Alpha''s rows in any table of schema memory (keyed or not)'
);

SELECT is(
    ARRAY(
        SELECT t.tbl
        FROM pg_temp.memory_tables() AS t
        WHERE t.keyed
          AND has_table_privilege(format('memory.%I', t.tbl), 'SELECT')
          AND tests.count_of(format(
              'SELECT count(*) FROM memory.%I AS x WHERE x.agent_id = memory.current_agent()', t.tbl
          )) = '0'
        ORDER BY 1
    ),
    '{}'::text[],
    'SELECT: the same queries do return Beta''s own rows wherever Beta may read (the attacks above are not vacuous)'
);

SELECT tests.count_of(format('SELECT count(*) FROM memory.%I AS x WHERE pg_temp.peek(x::text)', t.tbl))
FROM pg_temp.memory_tables() AS t;
SELECT cmp_ok(
    (SELECT count(*) FROM pg_temp.peeked AS p WHERE p.r LIKE '%beta-secret-zq7%'),
    '>', 0::bigint,
    'a non-leakproof function in WHERE is shown Beta''s own rows (the next check is not vacuous)'
);
SELECT is(
    (
        SELECT count(*) FROM pg_temp.peeked AS p
        WHERE p.r LIKE '%alpha-secret-zq7%' OR md5(p.r) IN (SELECT a.h FROM pg_temp.alpha_rows AS a)
    ),
    0::bigint,
    'a non-leakproof function in WHERE is shown none of Alpha''s rows in any table'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.attempt(format(
                'UPDATE memory.%I AS x SET agent_id = x.agent_id WHERE x.agent_id = %L', t.tbl, pg_temp.id('Alpha', 'agent')
            )) AS r
        WHERE t.keyed AND r NOT IN ('rows 0', '42501')
        ORDER BY 1
    ),
    '{}'::text[],
    'UPDATE: Beta changes none of Alpha''s rows in any table keyed on agent_id (0 rows or permission denied)'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.attempt(format(
                'UPDATE memory.%I AS x SET agent_id = %L WHERE x.agent_id = memory.current_agent()',
                t.tbl, pg_temp.id('Alpha', 'agent')
            )) AS r
        WHERE t.keyed AND r ~ '^rows [1-9]'
        ORDER BY 1
    ),
    '{}'::text[],
    'UPDATE: Beta cannot hand any of its own rows over to Alpha (SET agent_id is refused)'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.attempt(format(
                'DELETE FROM memory.%I AS x WHERE x.agent_id = %L', t.tbl, pg_temp.id('Alpha', 'agent')
            )) AS r
        WHERE t.keyed AND r NOT IN ('rows 0', '42501')
        ORDER BY 1
    ),
    '{}'::text[],
    'DELETE: Beta deletes none of Alpha''s rows in any table keyed on agent_id (0 rows or permission denied)'
);

-- Tables without agent_id are shared by every agent (the model registry, the queue's
-- settings, the daemons, the query cache): no agent may change any of their rows.
SELECT is(
    ARRAY(
        SELECT t.tbl || ' ' || op || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            unnest(ARRAY['UPDATE', 'DELETE']) AS op,
            LATERAL tests.attempt(CASE op
                WHEN 'UPDATE' THEN format('UPDATE memory.%1$I AS x SET %2$I = x.%2$I', t.tbl,
                                          split_part(pg_temp.insertable_columns(t.tbl), ', ', 1))
                ELSE format('DELETE FROM memory.%I', t.tbl)
            END) AS r
        WHERE NOT t.keyed AND r NOT IN ('rows 0', '42501')
        ORDER BY 1
    ),
    '{}'::text[],
    'UPDATE, DELETE: Beta changes no row of any shared table (tables without agent_id)'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t
            JOIN pg_temp.templates AS tp ON tp.tbl = t.tbl,
            LATERAL tests.attempt(CASE
                WHEN tp.tpl IS NULL THEN format('INSERT INTO memory.%I DEFAULT VALUES', t.tbl)
                ELSE format(
                    'INSERT INTO memory.%1$I (%2$s) SELECT %2$s FROM jsonb_populate_record(NULL::memory.%1$I, %3$L::jsonb)',
                    t.tbl, pg_temp.insertable_columns(t.tbl), tp.tpl
                )
            END) AS r
        WHERE r <> '42501'
        ORDER BY 1
    ),
    '{}'::text[],
    'INSERT: a copy of one of Alpha''s rows (with Alpha''s agent_id), or of a shared table''s row, is refused with 42501 in every table'
);

SELECT is(
    ARRAY(
        SELECT t.tbl || ': ' || r
        FROM pg_temp.memory_tables() AS t,
            LATERAL tests.attempt(format('TRUNCATE memory.%I', t.tbl)) AS r
        WHERE r <> '42501'
        ORDER BY 1
    ),
    '{}'::text[],
    'TRUNCATE (which row-level security does not filter) is refused with 42501 on every table'
);

-- ---------------------------------------------------------------- afterwards
RESET SESSION AUTHORIZATION;
SELECT is(
    pg_temp.fingerprint(pg_temp.id('Alpha', 'agent')),
    (SELECT fp FROM before_attacks),
    'Alpha''s rows in every table are exactly as before the attacks'
);

-- The other direction, once: Alpha sees nothing of Beta either.
SELECT tests.act_as('Alpha');
SELECT is(
    pg_temp.others_rows_read(),
    '{}'::text[],
    'SELECT: Alpha reads no row of any other agent in any table keyed on agent_id'
);

-- Planner statistics: after ANALYZE, pg_stats holds sampled values of the tables;
-- an agent must not see them (they would include other agents' text).
RESET SESSION AUTHORIZATION;
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM pg_temp.memory_tables() LOOP
        EXECUTE format('ANALYZE memory.%I', t.tbl);
    END LOOP;
END
$$;
SELECT cmp_ok(
    (SELECT count(*) FROM pg_stats WHERE schemaname = 'memory' AND tablename = 'episodes'),
    '>', 0::bigint,
    'after ANALYZE the superuser sees statistics of memory.episodes (the next checks are not vacuous)'
);
SELECT tests.act_as('Beta');
SELECT is(
    (SELECT count(*) FROM pg_stats WHERE schemaname = 'memory'),
    0::bigint,
    'Beta sees no planner statistics (pg_stats) of any table of schema memory'
);
SELECT is(
    (SELECT count(*) FROM pg_stats_ext WHERE schemaname = 'memory')
    + (SELECT count(*) FROM pg_stats_ext_exprs WHERE schemaname = 'memory'),
    0::bigint,
    'Beta sees no extended statistics (pg_stats_ext, pg_stats_ext_exprs) of schema memory'
);

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
