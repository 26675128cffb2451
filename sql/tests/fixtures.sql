-- Test fixtures, loaded by scripts/test-sql.sh into schema tests for the run only.
CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO PUBLIC;

-- Creates a login role (no password: tests switch to it with SET SESSION AUTHORIZATION)
-- and binds it to a new agent. Call inside the test's transaction; ROLLBACK undoes both.
CREATE OR REPLACE FUNCTION tests.make_agent(agent_name text)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role_name name := 'test_' || lower(agent_name);
BEGIN
    EXECUTE format('CREATE ROLE %I LOGIN', role_name);
    RETURN memory.create_agent(agent_name, role_name);
END
$$;

-- Act as an agent (session_user changes, so memory.current_agent() follows) until the
-- next tests.act_as, RESET SESSION AUTHORIZATION or the end of the transaction.
-- The one fixture without a pinned search_path: a SET clause on a function undoes every
-- SET LOCAL made inside it when it returns, the session authorization included.
CREATE OR REPLACE FUNCTION tests.act_as(agent_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', 'test_' || lower(agent_name));
END
$$;

-- A unit vector of dims dimensions with equal weight on the given 1-based positions.
CREATE OR REPLACE FUNCTION tests.unit_vector(hot integer[], dims integer DEFAULT 384)
RETURNS public.vector
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('[' || string_agg(CASE WHEN i = ANY (hot) THEN (1 / sqrt(cardinality(hot)))::text ELSE '0' END, ',' ORDER BY i)
            || ']')::public.vector
    FROM generate_series(1, dims) AS i
$$;

-- Stores a chunk vector for a whole episode, as the daemon would, and marks its job
-- done. For tests of search that must not depend on the model.
CREATE OR REPLACE FUNCTION tests.put_episode_vector(episode uuid, v public.vector)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO memory.chunks (agent_id, episode_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
    SELECT e.agent_id, e.episode_id, m.model_id, 0, 0, char_length(e.content), e.content_sha256, v
    FROM memory.episodes AS e, memory.embedding_models AS m
    WHERE e.episode_id = episode AND m.is_serving;
$$;

CREATE OR REPLACE FUNCTION tests.put_fact_vector(fact uuid, v public.vector)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO memory.chunks (agent_id, fact_id, model_id, chunk_index, char_start, char_end, content_sha256, embedding)
    SELECT f.agent_id, f.fact_id, m.model_id, 0, 0, char_length(f.concept || E'\n' || f.statement), f.content_sha256, v
    FROM memory.facts AS f, memory.embedding_models AS m
    WHERE f.fact_id = fact AND m.is_serving;
$$;

-- Makes memory.embed_query(query) answer v for the serving model without the daemon
-- (through its cache, exactly as a cached query is answered).
CREATE OR REPLACE FUNCTION tests.cache_query_vector(query text, v public.vector)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO memory.query_embedding_cache (model_id, query_sha256, embedding)
    SELECT m.model_id, memory._sha256(query), v FROM memory.embedding_models AS m WHERE m.is_serving
    ON CONFLICT (model_id, query_sha256) DO UPDATE SET embedding = excluded.embedding;
$$;

-- Drops an agent inside the suite's transaction (CALL memory.drop_agent commits
-- between its batches): batches of 50 rows until done; returns the final state.
CREATE OR REPLACE FUNCTION tests.drop_agent(agent text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r jsonb;
BEGIN
    FOR i IN 1..100 LOOP
        r := memory._drop_agent_batch(agent, agent, 50);
        EXIT WHEN r ->> 'state' = 'done';
    END LOOP;
    RETURN r ->> 'state';
END
$$;

-- Makes the embed daemon unreachable for the rest of the transaction: no daemon
-- heartbeat counts as recent. Not a timeout of 0: a heartbeat is recent when it is later
-- than now() less the timeout, and now() is the transaction's start, so a heartbeat the
-- daemon committed after it would still count (the suites then flaked when one fell in).
CREATE OR REPLACE FUNCTION tests.daemon_unreachable()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE memory.embedding_settings SET worker_timeout = interval '-100 years';
$$;

-- Everything stored for an agent: for each table of memory keyed on agent_id, the row
-- count and an md5 of the rows. Bad-input and isolation suites compare it before and
-- after refused calls or attacks to show that nothing changed.
CREATE OR REPLACE FUNCTION tests.stored(agent uuid)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    n bigint;
    h text;
    acc text := '';
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = c.oid AND a.attname = 'agent_id' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format(
            'SELECT count(*), md5(coalesce(string_agg(md5(x::text), '','' ORDER BY md5(x::text)), '''')) '
            'FROM memory.%I AS x WHERE x.agent_id = $1', t)
        INTO n, h USING agent;
        acc := acc || format('%s=%s/%s ', t, n, h);
    END LOOP;
    RETURN acc;
END
$$;

-- ---------------------------------------------------------------- scaffolding of a test
-- Each creates temporary objects of the calling session (gone at its end); call them
-- as the superuser, before tests.act_as.

-- tests.make_agent for each name.
CREATE OR REPLACE FUNCTION tests.make_agents(VARIADIC agent_names text [])
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(tests.make_agent(n)) FROM unnest(agent_names) AS n;
$$;

-- The temporary table ids (k, id) of the ids a test keeps by a name, readable and
-- writable by every agent, and pg_temp.id(k) that reads it; keyed_by_agent: ids (who,
-- k, id) and pg_temp.id(who, k), for the isolation suites that keep the same names for
-- each agent.
CREATE OR REPLACE FUNCTION tests.make_id_table(keyed_by_agent boolean DEFAULT FALSE)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF keyed_by_agent THEN
        CREATE TEMP TABLE ids (who text, k text, id uuid NOT NULL, PRIMARY KEY (who, k));
        CREATE FUNCTION pg_temp.id(who text, k text) RETURNS uuid LANGUAGE sql STABLE
        AS 'SELECT i.id FROM pg_temp.ids AS i WHERE i.who = $1 AND i.k = $2';
    ELSE
        CREATE TEMP TABLE ids (k text PRIMARY KEY, id uuid NOT NULL);
        CREATE FUNCTION pg_temp.id(k text) RETURNS uuid LANGUAGE sql STABLE
        AS 'SELECT i.id FROM pg_temp.ids AS i WHERE i.k = $1';
    END IF;
    GRANT ALL ON pg_temp.ids TO PUBLIC;
END
$$;

-- The start of a bad-input suite: makes the agent (tests.make_agent), the table ids
-- (tests.make_id_table) holding the agent's id under its name in lower case, the
-- temporary table snaps (k, s) of tests.stored snapshots by name, and the table big:
-- one 5 MB JSON object (a 5,000,000-character string) that arrives compressed (about
-- 57 kB), as any value read from a table does: a size limit must measure the value,
-- not its compressed form. Then acts as the agent (tests.act_as): no SET clause.
CREATE OR REPLACE FUNCTION tests.start_bad_input_suite(agent_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM tests.make_id_table();
    INSERT INTO pg_temp.ids VALUES (lower(agent_name), tests.make_agent(agent_name));
    CREATE TEMP TABLE snaps (k text PRIMARY KEY, s text NOT NULL);
    CREATE TEMP TABLE big (j jsonb);
    INSERT INTO pg_temp.big SELECT jsonb_build_object('text', repeat('x', 5000000));
    GRANT SELECT ON pg_temp.big TO PUBLIC;
    PERFORM tests.act_as(agent_name);
END
$$;

-- The temporary table seen_errors (e): tests.failure keeps every raw error text there,
-- for the isolation suites' check that no error carries another agent's text.
CREATE OR REPLACE FUNCTION tests.make_error_log()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CREATE TEMP TABLE seen_errors (e text);
    GRANT ALL ON pg_temp.seen_errors TO PUBLIC;
END
$$;

-- ---------------------------------------------------------------- how a statement fails
-- These run statements that a test passes; like tests.act_as they have no SET clause
-- (the statement runs with the caller's search_path and session authorization).

-- The whole error (SQLSTATE, message, detail, hint) of a statement, or 'no error', to
-- show that two errors are indistinguishable. A statement that works is not undone.
CREATE OR REPLACE FUNCTION tests.error_of(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', st, msg, det, hnt);
END
$$;

-- count(*) of a query, or the SQLSTATE it raised.
CREATE OR REPLACE FUNCTION tests.count_of(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE stmt INTO n;
    RETURN n::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- Runs a statement and always undoes it: 'rows N' when it worked, else its SQLSTATE.
CREATE OR REPLACE FUNCTION tests.attempt(stmt text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
BEGIN
    BEGIN
        EXECUTE stmt;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE EXCEPTION USING ERRCODE = 'ZZ999', MESSAGE = n::text;
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        RETURN 'rows ' || SQLERRM;
    END;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- The error a statement raises: its SQLSTATE, message, detail and hint; no row when
-- it raises none (then the statement is undone).
CREATE OR REPLACE FUNCTION tests.error_raised(
    stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text
)
RETURNS SETOF record
LANGUAGE plpgsql
AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
        RAISE EXCEPTION USING ERRCODE = 'ZZ999';
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        RETURN;
    END;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT;
    RETURN NEXT;
END
$$;

-- 'SQLSTATE: message' of the error a statement raises, or 'no error' (then the
-- statement is undone).
CREATE OR REPLACE FUNCTION tests.sqlstate_of(stmt text)
RETURNS text
LANGUAGE sql
AS $$
    SELECT coalesce((SELECT e.code || ': ' || e.message FROM tests.error_raised(stmt) AS e), 'no error');
$$;

-- How a statement fails: 'SQLSTATE: message / detail: ... / hint: ...' with every uuid
-- and every string of masks replaced, or 'no error' (then the statement is undone).
-- Every raw error text is kept in pg_temp.seen_errors (tests.make_error_log).
CREATE OR REPLACE FUNCTION tests.failure(stmt text, masks text [] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    outcome text;
    m text;
BEGIN
    SELECT format('%s: %s / detail: %s / hint: %s', e.code, e.message, e.detail, e.hint) INTO outcome
    FROM tests.error_raised(stmt) AS e;
    IF NOT FOUND THEN
        RETURN 'no error';
    END IF;
    INSERT INTO pg_temp.seen_errors VALUES (outcome);
    FOREACH m IN ARRAY masks LOOP
        outcome := replace(outcome, m, '<masked>');
    END LOOP;
    RETURN regexp_replace(outcome, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END
$$;

-- The current agent's statement on ids of another agent's rows (call: a format string,
-- theirs: its arguments) fails exactly like the same statement on ids nobody has
-- (unknown): one pgTAP result. Given a message, one more before it: the statement on
-- theirs raises P0002 with that message (raises: its description).
CREATE OR REPLACE FUNCTION tests.like_unknown(
    call text, theirs uuid [], unknown uuid [], alike text, msg text DEFAULT NULL, raises text DEFAULT NULL
)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
BEGIN
    IF msg IS NOT NULL THEN
        RETURN NEXT tap.throws_ok(format(call, VARIADIC theirs::text []), 'P0002', msg, raises);
    END IF;
    RETURN NEXT tap.is(
        tests.failure(format(call, VARIADIC theirs::text [])), tests.failure(format(call, VARIADIC unknown::text [])), alike
    );
END
$$;

-- ---------------------------------------------------------------- catalog
-- Every function and procedure of schema memory with its signature, for the catalog
-- suites' checks of each one.
CREATE OR REPLACE VIEW tests.memory_functions AS
SELECT p.oid::regprocedure::text AS signature, p.*
FROM pg_catalog.pg_proc AS p
WHERE p.pronamespace = 'memory'::regnamespace;
GRANT SELECT ON tests.memory_functions TO PUBLIC;
