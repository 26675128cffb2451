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

-- Makes the embed daemon unreachable for the rest of the transaction: no daemon
-- heartbeat counts as recent.
CREATE OR REPLACE FUNCTION tests.daemon_unreachable()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE memory.embedding_settings SET worker_timeout = interval '0';
$$;

-- Everything stored for an agent: for each table of memory keyed on agent_id, the row
-- count and a hash of the rows. Bad-input suites compare it before and after a refused
-- call to show that nothing changed.
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
        acc := acc || format('%s=%s/%s ', t, n, left(h, 8));
    END LOOP;
    RETURN acc;
END
$$;
