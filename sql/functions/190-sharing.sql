-- Sharing between agents (issue 20, item 4; migration 028, docs/decisions.md "Sharing
-- between agents"). An owner grants another agent read access to a project, a tag or a
-- session of its episodes (memory.share) and revokes it (memory.unshare). Reading is
-- decided by row-level security alone: the policies "agents read what other agents
-- share with them" on memory.episodes and memory.chunks (migration 028), which apply
-- only to the members of memory_share_grantee: the agents holding an incoming grant
-- (the membership trigger below). These
-- functions only write and list grants, and search_episodic_memory(..., include_shared
-- => true) reads the shared rows through the caller's policies (the text list and its
-- term weights below are SECURITY INVOKER).
SET ROLE memory_owner;

-- Private: checks the arguments of share/unshare and finds the grantee (and, for a
-- project, the owner's project). Runs inside the SECURITY DEFINER callers, as their
-- owner: me comes from them (memory._require_agent()).
CREATE OR REPLACE FUNCTION memory._share_target(
    me uuid,
    scope text,
    with_agent text,
    scope_value text,
    need_project boolean,
    OUT grantee uuid,
    OUT project uuid
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF scope IS NULL OR scope NOT IN ('project', 'tag', 'session') THEN
        RAISE EXCEPTION 'unknown share scope %', coalesce(quote_literal(left(scope, 20)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'scope is one of project, tag, session';
    END IF;
    PERFORM memory._check_text('with_agent', with_agent, 63);
    PERFORM memory._check_text('scope_value', scope_value, CASE WHEN scope = 'tag' THEN 100 ELSE 200 END);
    SELECT a.agent_id INTO grantee FROM memory.agents AS a WHERE a.name = with_agent;
    IF grantee IS NULL THEN
        RAISE EXCEPTION 'no agent named %', quote_literal(with_agent)
            USING ERRCODE = 'undefined_object', HINT = 'share with the name of an existing agent';
    END IF;
    IF grantee = me THEN
        RAISE EXCEPTION 'an agent cannot share with itself'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'with_agent names another agent';
    END IF;
    IF scope = 'project' AND need_project THEN
        SELECT p.project_id INTO project FROM memory.projects AS p WHERE p.agent_id = me AND p.name = scope_value;
        IF project IS NULL THEN
            RAISE EXCEPTION 'project not found'
                USING ERRCODE = 'no_data_found', DETAIL = 'this agent has no project of that name',
                      HINT = 'memory.remember(..., project => name) creates a project';
        END IF;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._share_target(uuid, text, text, text, boolean) IS
'Private (share, unshare): the grantee''s agent id for with_agent and, for scope project with need_project, agent me''s project named scope_value. Raises 22023 (unknown scope, empty with_agent or scope_value, sharing with oneself), 22001 (with_agent over 63, a tag over 100, a project or session over 200 characters), 42704 (no agent of that name), P0002 (no project of that name of agent me).';

-- The membership of memory_share_grantee follows memory.shares: a grantee's login role
-- is a member while at least one grant names it, whichever way grants come and go
-- (share, unshare, drop_agent, forget_project, the cascade of an agent's deletion, an
-- operator's DELETE). One grantee's changes are serialised by an advisory lock, taken
-- before its grants are counted, so a concurrent share and unshare cannot leave a grant
-- without the membership. Under REPEATABLE READ or SERIALIZABLE the count may miss a
-- grant committed after the snapshot: then the membership is kept (it only costs the
-- grantee the policies' evaluation; the policies still need a grant row to show one).
CREATE OR REPLACE FUNCTION memory._share_grantee_membership()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g uuid;
    r name;
    member boolean;
BEGIN
    PERFORM memory._require_trigger_of('memory._share_grantee_membership()', TG_RELID, '{memory.shares}');
    FOREACH g IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.grantee_agent_id END,
                             CASE WHEN TG_OP <> 'DELETE' THEN NEW.grantee_agent_id END] LOOP
        CONTINUE WHEN g IS NULL;
        PERFORM pg_advisory_xact_lock(1397248071, hashtext(g::text));
        -- NULL when the grantee itself is being deleted (the cascade of its agents row):
        -- memory._share_grantee_leaves() revoked the membership before
        SELECT a.db_role INTO r FROM memory.agents AS a WHERE a.agent_id = g;
        CONTINUE WHEN r IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS x WHERE x.rolname = r);
        member := EXISTS (
            SELECT 1 FROM pg_catalog.pg_auth_members AS m
            WHERE m.roleid = 'memory_share_grantee'::regrole AND m.member = r::regrole
        );
        IF EXISTS (SELECT 1 FROM memory.shares AS s WHERE s.grantee_agent_id = g) THEN
            IF NOT member THEN
                EXECUTE format('GRANT memory_share_grantee TO %I', r);
            END IF;
        ELSIF member AND current_setting('transaction_isolation') = 'read committed' THEN
            EXECUTE format('REVOKE memory_share_grantee FROM %I', r);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION memory._share_grantee_membership() IS
'Private trigger (AFTER INSERT, UPDATE, DELETE per row on memory.shares): makes the grantee''s login role a member of memory_share_grantee while a grant names it and revokes the membership with its last grant (kept under REPEATABLE READ and SERIALIZABLE, where the count may be stale). Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER shares_grantee_membership
AFTER INSERT OR UPDATE OR DELETE ON memory.shares
FOR EACH ROW EXECUTE FUNCTION memory._share_grantee_membership();

-- The deletion of an agent removes its grants by cascade after its own row is gone, when
-- the trigger above can no longer find its login role: the membership goes first.
CREATE OR REPLACE FUNCTION memory._share_grantee_leaves()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM memory._require_trigger_of('memory._share_grantee_leaves()', TG_RELID, '{memory.agents}');
    IF EXISTS (
        SELECT 1 FROM pg_catalog.pg_auth_members AS m JOIN pg_catalog.pg_roles AS x ON x.oid = m.member
        WHERE m.roleid = 'memory_share_grantee'::regrole AND x.rolname = OLD.db_role
    ) THEN
        EXECUTE format('REVOKE memory_share_grantee FROM %I', OLD.db_role);
    END IF;
    RETURN OLD;
END
$$;

COMMENT ON FUNCTION memory._share_grantee_leaves() IS
'Private trigger (BEFORE DELETE per row on memory.agents): revokes memory_share_grantee from the deleted agent''s login role. Raises 42501 when fired on any other table.';

CREATE OR REPLACE TRIGGER agents_share_grantee_leaves
BEFORE DELETE ON memory.agents
FOR EACH ROW EXECUTE FUNCTION memory._share_grantee_leaves();

CREATE OR REPLACE FUNCTION memory.share(scope text, with_agent text, scope_value text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    t record;
    n integer;
BEGIN
    SELECT * INTO t FROM memory._share_target(me, scope, with_agent, scope_value, true);
    -- one owner's grants are serialised (the bound below counts them)
    PERFORM pg_advisory_xact_lock(1397248069, hashtext(me::text));
    IF (SELECT count(*) FROM memory.shares AS s WHERE s.agent_id = me) >= 1000 THEN
        RAISE EXCEPTION 'too many grants'
            USING ERRCODE = 'program_limit_exceeded', DETAIL = 'an agent may hold at most 1,000 grants',
                  HINT = 'share a tag or a project rather than many sessions; memory.unshare revokes one';
    END IF;
    INSERT INTO memory.shares (agent_id, grantee_agent_id, scope, scope_value, project_id)
    VALUES (me, t.grantee, scope, scope_value, t.project)
    ON CONFLICT ON CONSTRAINT shares_unique DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$$;

COMMENT ON FUNCTION memory.share(text, text, text) IS
'Grants the agent named with_agent read access to the current agent''s episodes (and their chunk vectors) of one scope: project (scope_value: the name of one of the caller''s projects), tag (episodes holding that tag) or session (that session_id), those there now and those written later, until memory.unshare. The grantee reads them through row-level security (SELECT on memory.episodes, search_episodic_memory(..., include_shared => true)); it can never change them. Returns true for a new grant, false when it existed. Raises 42501 (not an agent), 22023 (unknown scope, empty argument, sharing with oneself), 22001 (with_agent over 63, tag over 100, project or session over 200 characters), 42704 (no agent of that name), P0002 (no project of that name), 54000 (over 1,000 grants).';

CREATE OR REPLACE FUNCTION memory.unshare(scope text, with_agent text, scope_value text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    t record;
    n integer;
BEGIN
    SELECT * INTO t FROM memory._share_target(me, scope, with_agent, scope_value, false);
    DELETE FROM memory.shares AS s
    WHERE s.agent_id = me AND s.grantee_agent_id = t.grantee AND s.scope = unshare.scope
      AND s.scope_value = unshare.scope_value;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$$;

COMMENT ON FUNCTION memory.unshare(text, text, text) IS
'Revokes the current agent''s grant of (scope, scope_value) to the agent named with_agent; the grantee''s next statement no longer sees those rows. Returns true when a grant was removed, false when there was none. Raises 42501 (not an agent), 22023 (unknown scope, empty argument, oneself), 22001 (too long), 42704 (no agent of that name).';

CREATE OR REPLACE FUNCTION memory.my_shares()
RETURNS TABLE (with_agent text, scope text, scope_value text, granted_at timestamptz, granted_by text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.name, s.scope, s.scope_value, s.granted_at, s.granted_by
    FROM memory.shares AS s
    JOIN memory.agents AS a ON a.agent_id = s.grantee_agent_id
    WHERE s.agent_id = memory._require_agent()
    ORDER BY a.name, s.scope, s.scope_value
$$;

COMMENT ON FUNCTION memory.my_shares() IS
'The grants the current agent made: the grantee''s name, scope, scope_value (a project''s name as it was granted), when and by which login role. Raises 42501 (not an agent).';

CREATE OR REPLACE FUNCTION memory.shared_with_me()
RETURNS TABLE (owner text, scope text, scope_value text, granted_at timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.name, s.scope, s.scope_value, s.granted_at
    FROM memory.shares AS s
    JOIN memory.agents AS a ON a.agent_id = s.agent_id
    WHERE s.grantee_agent_id = memory._require_agent()
    ORDER BY a.name, s.scope, s.scope_value
$$;

COMMENT ON FUNCTION memory.shared_with_me() IS
'The grants other agents made to the current agent: the owner''s name, scope and scope_value, when. Raises 42501 (not an agent).';

-- Private (search): the agents whose episodes a search of the caller reads, with their
-- names: the caller, and with include_shared the owners that granted it something.
CREATE OR REPLACE FUNCTION memory._search_owners(include_shared boolean, OUT ids uuid [], OUT names text [])
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_agg(a.agent_id ORDER BY a.agent_id <> me.id, a.name),
           array_agg(a.name ORDER BY a.agent_id <> me.id, a.name)
    FROM (SELECT memory._require_agent() AS id) AS me
    JOIN memory.agents AS a
      ON a.agent_id = me.id
      OR (include_shared AND a.agent_id IN (SELECT s.agent_id FROM memory.shares AS s WHERE s.grantee_agent_id = me.id))
$$;

COMMENT ON FUNCTION memory._search_owners(boolean) IS
'Private (search_episodic_memory): ids and names of the current agent (first) and, with include_shared, of the agents that granted it something; parallel arrays. Raises 42501 (not an agent).';

-- The text list of a search with include_shared: SECURITY INVOKER, so the caller's
-- row-level security decides which rows count, its own and those shared with it, for
-- the matches and for the term weights alike. The weights are those of
-- memory._term_weights (ln(1001 / (df + 0.5)), df bounded at 1,000, terms in 1,000 rows
-- or more left out) with df counted over every row the caller can read among owners'.
-- No GIN index serves it (@@ is not leakproof): one pass over those rows keeps the ones
-- holding any of the terms (materialised), and each term is counted among them (a pass
-- per term, stopped at 1,000 matches, cost about three times as much with 3 terms).
CREATE OR REPLACE FUNCTION memory._shared_term_weights(terms tsquery [], owners uuid [])
RETURNS TABLE (term tsquery, weight double precision)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
    WITH t AS (
        SELECT t.t, t.i
        FROM unnest(terms[1:64]) WITH ORDINALITY AS t (t, i)
        WHERE t.t IS NOT NULL AND numnode(t.t) > 0
    ),
    hit AS MATERIALIZED (
        SELECT x.fts FROM memory.episodes AS x
        WHERE x.agent_id = ANY (owners)
          AND x.fts @@ (SELECT string_agg(format('(%s)', t.t::text), ' | ')::tsquery FROM t)
    )
    SELECT t.t, ln(1001.0::double precision / (d.df + 0.5))
    FROM t CROSS JOIN LATERAL (SELECT count(*) AS df FROM hit WHERE hit.fts @@ t.t) AS d
    WHERE d.df BETWEEN 1 AND 999
    ORDER BY t.i
$$;

COMMENT ON FUNCTION memory._shared_term_weights(tsquery [], uuid []) IS
'Private (search with include_shared): as memory._term_weights for episodes, each of terms (at most 64) with its weight ln(1001 / (df + 0.5)), df its document frequency among the rows of owners the caller can read (its own and those shared with it, by row-level security; SECURITY INVOKER); terms in none or in 1,000 rows or more are left out. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory._shared_episode_text_list(
    terms tsquery [],
    weights double precision [],
    lim integer,
    p_tags text[],
    project_filter uuid,
    p_session_id text,
    since timestamptz,
    until timestamptz,
    min_importance real,
    owners uuid []
)
RETURNS TABLE (episode_id uuid, text_score double precision)
LANGUAGE plpgsql
STABLE
ROWS 40
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    tq tsquery;
BEGIN
    tq := memory._text_list_query(terms, weights, lim);
    IF tq IS NULL THEN
        RETURN;
    END IF;
    -- the filters are plain predicates (no index would serve them under row-level
    -- security before the policy anyway); a row scores the sum of the weights of the
    -- terms it holds
    RETURN QUERY
    SELECT e.episode_id,
           (SELECT sum(w.weight) FROM unnest(terms, weights) AS w (term, weight) WHERE e.fts @@ w.term) AS text_score
    FROM memory.episodes AS e
    WHERE e.agent_id = ANY (owners) AND e.fts @@ tq
      AND (p_tags IS NULL OR e.tags @> p_tags) AND (project_filter IS NULL OR e.project_id = project_filter)
      AND (p_session_id IS NULL OR e.session_id = p_session_id) AND e.occurred_at >= coalesce(since, '-infinity')
      AND e.occurred_at <= coalesce(until, 'infinity') AND e.importance >= coalesce(min_importance, 0)
    ORDER BY text_score DESC, e.episode_id
    LIMIT lim;
END
$$;

COMMENT ON FUNCTION memory._shared_episode_text_list(tsquery [], double precision [], integer, text[], uuid, text, timestamptz, timestamptz, real, uuid []) IS
'Private (search with include_shared): the full-text list over the episodes of owners that the caller can read (row-level security: its own and those shared with it; SECURITY INVOKER), best lim passing the filters that hold one of terms, as (episode_id, text_score), text_score the sum of the weights of the terms the episode holds (the search passes those of memory._shared_term_weights). Raises 22023 for lim outside 1..10000 or terms and weights of different lengths or over 64.';
