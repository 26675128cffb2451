-- Compatibility views with the old brain's table names, for readers during migration.
-- security_invoker: the caller's row-level security applies, so an agent sees only
-- its own rows through them.
SET ROLE memory_owner;

CREATE OR REPLACE VIEW memory.zep_episodic_memory WITH (security_invoker = true) AS
SELECT
    e.episode_id,
    e.occurred_at AS "timestamp",
    e.content,
    e.importance::double precision AS importance_score,
    e.tags,
    e.project_id,
    e.metadata,
    e.recorded_at AS created_at
FROM memory.episodes AS e;

COMMENT ON VIEW memory.zep_episodic_memory IS
'Old name of episodic memory (zep_episodic_memory): one row per episode, RLS of the caller applies.';

CREATE OR REPLACE VIEW memory.zep_semantic_memory WITH (security_invoker = true) AS
SELECT
    f.fact_id AS semantic_id,
    f.concept,
    f.statement AS definition,
    coalesce(
        (
            SELECT jsonb_agg(jsonb_build_object('to', l.to_fact, 'relation', l.relation, 'strength', l.strength)
                             ORDER BY l.relation, l.to_fact)
            FROM memory.fact_links AS l
            WHERE l.from_fact = f.fact_id
        ),
        '[]'::jsonb
    ) AS relationships,
    f.confidence::double precision AS confidence_score,
    f.source_episodes,
    f.recorded_at AS created_at,
    coalesce(f.invalidated_at, f.recorded_at) AS updated_at
FROM memory.facts AS f
WHERE f.valid_to IS NULL AND f.invalidated_at IS NULL;

COMMENT ON VIEW memory.zep_semantic_memory IS
'Old name of semantic memory (zep_semantic_memory): the facts that are currently open, with their links as relationships.';

CREATE OR REPLACE VIEW memory.zep_working_memory WITH (security_invoker = true) AS
SELECT
    w.working_id,
    w.context_type,
    w.content AS active_content,
    w.priority,
    greatest(0, extract(EPOCH FROM w.expires_at - w.updated_at))::integer AS ttl_seconds,
    w.expires_at,
    w.created_at
FROM memory.working_memory AS w
WHERE w.expires_at > clock_timestamp();

COMMENT ON VIEW memory.zep_working_memory IS
'Old name of working memory (zep_working_memory): live items only.';
