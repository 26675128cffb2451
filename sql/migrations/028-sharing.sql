-- 028: sharing between agents (issue 20, item 4). Functions: sql/functions/190-sharing.sql.
-- Decisions: docs/decisions.md ("Sharing between agents").
--   * memory.shares: one row per grant. agent_id is the owner (the agent whose memory
--     is shared), grantee_agent_id the agent that may read it; scope project (by
--     project_id, the name kept as scope_value), tag or session. Both agents reference
--     memory.agents ON DELETE CASCADE (drop_agent of either side removes the grant; the
--     catalog-driven erasure lists both columns), and a project grant references the
--     owner's project ON DELETE CASCADE (forget_project removes it).
--   * Read access is granted by row-level security, not by the functions: one more
--     PERMISSIVE SELECT policy on memory.episodes ("a grant of the row's owner to the
--     current agent covers the row") and on memory.chunks (the chunk of such an
--     episode). Writes keep their owner-only policies; nothing else is shared (facts,
--     pooled vectors, jobs, working memory, blocks, checkpoints, consolidations).
--   * Those two policies apply only TO memory_share_grantee, a group role that an
--     agent's login role is a member of exactly while it holds at least one incoming
--     grant (a trigger on memory.shares keeps the membership, 190-sharing.sql). An agent
--     that received nothing has the policies and the plans it had before sharing
--     existed: the sharing policies cost it nothing (measured: docs/decisions.md).
--   * The search functions of 110-search.sql change signature (include_shared, owner):
--     the old ones are dropped here and recreated by the functions.
DO $role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'memory_share_grantee') THEN
        CREATE ROLE memory_share_grantee NOLOGIN;
    END IF;
END
$role$;
COMMENT ON ROLE memory_share_grantee IS
'the agents that hold at least one read grant of another agent (memory.shares); kept by memory._share_grantee_membership(); the sharing read policies apply to it only';
-- memory_owner grants and revokes it (the SECURITY DEFINER membership trigger)
GRANT memory_share_grantee TO memory_owner WITH ADMIN OPTION;

SET LOCAL ROLE memory_owner;

CREATE TABLE IF NOT EXISTS memory.shares (
    share_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    grantee_agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    scope text NOT NULL CONSTRAINT shares_scope_known CHECK (scope IN ('project', 'tag', 'session')),
    scope_value text NOT NULL CONSTRAINT shares_scope_value_length CHECK (char_length(scope_value) BETWEEN 1 AND 200),
    project_id uuid,
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by text NOT NULL DEFAULT session_user,
    CONSTRAINT shares_not_to_oneself CHECK (agent_id <> grantee_agent_id),
    CONSTRAINT shares_project_only_for_projects CHECK ((scope = 'project') = (project_id IS NOT NULL)),
    CONSTRAINT shares_unique UNIQUE (agent_id, grantee_agent_id, scope, scope_value),
    FOREIGN KEY (agent_id, project_id) REFERENCES memory.projects (agent_id, project_id) ON DELETE CASCADE
);
COMMENT ON TABLE memory.shares IS
'read grants between agents: the owner (agent_id) lets grantee_agent_id read its episodes of a project, a tag or a session; seen by the owner and the grantee only';
-- the policies look grants up by grantee
CREATE INDEX IF NOT EXISTS shares_grantee_idx ON memory.shares (grantee_agent_id, agent_id);
CREATE INDEX IF NOT EXISTS shares_project_idx ON memory.shares (agent_id, project_id) WHERE project_id IS NOT NULL;

ALTER TABLE memory.shares ENABLE ROW LEVEL SECURITY;
DO $policies$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE policyname = 'agents read the grants they made or received') THEN
        CREATE POLICY "agents read the grants they made or received" ON memory.shares
        AS PERMISSIVE FOR SELECT TO memory_agent
        USING (agent_id = (SELECT memory.current_agent()) OR grantee_agent_id = (SELECT memory.current_agent()));
        CREATE POLICY "operators manage every grant" ON memory.shares
        AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
        -- A row of another agent passes when a grant of its owner to the current agent
        -- covers it. PostgreSQL ORs this policy before "agents read their own episodes":
        -- the first test sends the grantee's own rows on at the cost of one comparison
        -- (without it each table reference ran the grants' lookup once, about 15% of a
        -- grantee's default search). Every list of grants is an uncorrelated ARRAY (an init plan, run once
        -- per query), so a row costs a few array lookups: a row of an agent that granted
        -- the caller nothing is refused by the first one (and the caller's own rows pass
        -- the policy "agents read their own episodes" before any of this). Project ids
        -- are the owner's own (the episodes' foreign key); session and tag grants are
        -- keyed on owner and value, a tag first by value (&&) and only then checked
        -- against the owner's tag grants.
        CREATE POLICY "agents read what other agents share with them" ON memory.episodes
        AS PERMISSIVE FOR SELECT TO memory_share_grantee
        USING (
            agent_id <> (SELECT memory.current_agent())
            AND agent_id = ANY (ARRAY(
                SELECT s.agent_id FROM memory.shares AS s WHERE s.grantee_agent_id = (SELECT memory.current_agent())
            ))
            AND (
                project_id = ANY (ARRAY(
                    SELECT s.project_id FROM memory.shares AS s
                    WHERE s.grantee_agent_id = (SELECT memory.current_agent()) AND s.scope = 'project'
                ))
                OR (agent_id::text || '/' || session_id) = ANY (ARRAY(
                    SELECT s.agent_id::text || '/' || s.scope_value FROM memory.shares AS s
                    WHERE s.grantee_agent_id = (SELECT memory.current_agent()) AND s.scope = 'session'
                ))
                OR (
                    tags && ARRAY(
                        SELECT s.scope_value FROM memory.shares AS s
                        WHERE s.grantee_agent_id = (SELECT memory.current_agent()) AND s.scope = 'tag'
                    )
                    AND EXISTS (
                        SELECT 1 FROM memory.shares AS s
                        WHERE s.grantee_agent_id = (SELECT memory.current_agent()) AND s.scope = 'tag'
                          AND s.agent_id = episodes.agent_id AND s.scope_value = ANY (episodes.tags)
                    )
                )
            )
        );
        -- a chunk of an episode the caller may read through a grant (the episodes'
        -- policies decide, under the caller's row-level security)
        CREATE POLICY "agents read what other agents share with them" ON memory.chunks
        AS PERMISSIVE FOR SELECT TO memory_share_grantee
        USING (
            agent_id <> (SELECT memory.current_agent())
            AND agent_id = ANY (ARRAY(
                SELECT s.agent_id FROM memory.shares AS s WHERE s.grantee_agent_id = (SELECT memory.current_agent())
            ))
            AND episode_id IS NOT NULL
            AND EXISTS (SELECT 1 FROM memory.episodes AS e WHERE e.episode_id = chunks.episode_id)
        );
    END IF;
END
$policies$;

-- the search gains include_shared and an owner column (recreated by 110-search.sql)
DROP FUNCTION IF EXISTS memory.search_episodic_memory(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, double precision, integer, double precision, integer
);
DROP FUNCTION IF EXISTS memory._search_episodes(
    text, integer, text, text[], text, text, timestamptz, timestamptz, real,
    double precision, double precision, interval, double precision, integer, double precision, integer
);
