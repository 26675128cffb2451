-- Every privilege of the project, in one place, re-applied on each deploy.
-- Functions are revoked from PUBLIC by default (migration 001) and granted here.
-- One section per area; keep each grant next to its area's heading.
RESET ROLE;

-- Functions created by a superuser (the plpython3u ones) are not covered by the
-- default privileges of memory_owner: revoke them from PUBLIC here, every time.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA memory FROM PUBLIC;

-- == versions ==
GRANT EXECUTE ON FUNCTION memory.api_version() TO memory_agent, memory_worker, memory_reader, memory_admin;
GRANT EXECUTE ON FUNCTION memory.schema_version() TO memory_agent, memory_worker, memory_reader, memory_admin;

-- == agents ==
-- Helpers used inside policies, defaults and generated columns must be executable
-- by everyone who touches those tables.
GRANT EXECUTE ON FUNCTION memory.current_agent() TO memory_agent, memory_admin, memory_reader;
GRANT EXECUTE ON FUNCTION memory._require_agent() TO memory_agent;
GRANT EXECUTE ON FUNCTION memory._fts_document(text) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory._sha256(text) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory._valid_tags(text[]) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory.create_agent(text, name) TO memory_admin;
GRANT SELECT ON memory.agents TO memory_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.agents TO memory_admin;

-- == memory tables: agents act through RLS, operators see everything ==
-- Agents hold SELECT and column-level INSERT/UPDATE only, never table-level INSERT,
-- UPDATE, DELETE or TRUNCATE: LOCK TABLE in any mode stronger than ACCESS SHARE needs
-- one of those, so no agent can lock a shared table against the others. Deletion goes
-- through SECURITY DEFINER functions scoped to the caller (forget_episode,
-- clear_working_memory, link_facts).
REVOKE ALL ON memory.projects, memory.episodes, memory.working_memory, memory.facts, memory.blocks,
    memory.agent_state, memory.instances, memory.fact_links
FROM memory_agent;
GRANT SELECT ON memory.projects, memory.episodes, memory.working_memory, memory.facts, memory.blocks,
    memory.agent_state, memory.instances, memory.fact_links
TO memory_agent;
GRANT INSERT (agent_id, from_fact, to_fact, relation, strength, created_at) ON memory.fact_links TO memory_agent;
-- INSERT and UPDATE by column: an agent never chooses a row's id (a duplicate key
-- error would tell that another agent's id exists) nor moves a row to another agent.
DO $grants$
DECLARE
    t record;
    cols text;
BEGIN
    FOR t IN
        SELECT *
        FROM (VALUES
            ('projects', 'project_id'), ('episodes', 'episode_id'), ('working_memory', 'working_id'),
            ('facts', 'fact_id'), ('blocks', 'block_id'), ('instances', 'instance_id'), ('agent_state', NULL)
        ) AS v (tbl, id_col)
    LOOP
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = format('memory.%I', t.tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attgenerated = '' AND a.attname IS DISTINCT FROM t.id_col;
        EXECUTE format('GRANT INSERT (%s) ON memory.%I TO memory_agent', cols, t.tbl);
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = format('memory.%I', t.tbl)::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attgenerated = '' AND a.attname IS DISTINCT FROM t.id_col AND a.attname <> 'agent_id';
        EXECUTE format('GRANT UPDATE (%s) ON memory.%I TO memory_agent', cols, t.tbl);
    END LOOP;
END
$grants$;
GRANT SELECT ON memory.block_history, memory.checkpoints, memory.decisions, memory.votes TO memory_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    memory.projects, memory.episodes, memory.facts, memory.fact_links, memory.working_memory,
    memory.blocks, memory.block_history, memory.checkpoints, memory.agent_state,
    memory.instances, memory.decisions, memory.votes
TO memory_admin;

-- == validation helpers (called inside the API functions, as the caller) ==
GRANT EXECUTE ON FUNCTION
    memory._check_unit_interval(text, real), memory._check_text(text, text, integer),
    memory._check_tags(text[]), memory._check_object(text, jsonb), memory._check_time(text, timestamptz),
    memory._check_count(text, integer, integer, integer), memory._check_not_null(text, anyelement, text),
    memory._check_pattern(text, text, text, text), memory._check_length(text, text, integer, text),
    memory._check_json(text, jsonb, integer, text), memory._check_json_object(text, jsonb, text)
TO memory_agent, memory_admin;

-- == idempotency keys (remember, learn_fact, set_working_memory) ==
-- Agents read, claim and complete their own keys (RLS); no DELETE (pruned by pg_cron).
REVOKE ALL ON memory.idempotency_keys FROM memory_agent;
GRANT SELECT ON memory.idempotency_keys TO memory_agent;
GRANT INSERT (agent_id, idempotency_key, operation, request_sha256) ON memory.idempotency_keys TO memory_agent;
GRANT UPDATE (result_id) ON memory.idempotency_keys TO memory_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.idempotency_keys TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.idempotency_retention() TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory._idempotency_claim(text, text, jsonb), memory._idempotency_record(text, uuid)
TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.prune_idempotency_keys() TO memory_admin;

-- == episodic ==
GRANT EXECUTE ON FUNCTION
    memory._project_id(text),
    memory.remember(text, real, text[], text, timestamptz, jsonb, text, text),
    memory.update_episode(uuid, text, real, text[], jsonb),
    memory.forget_episode(uuid)
TO memory_agent;

-- == semantic ==
GRANT EXECUTE ON FUNCTION memory._facts_guard(), memory._fact_not_found(uuid) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.learn_fact(text, text, real, uuid[], timestamptz, uuid[], text),
    memory.invalidate_fact(uuid, timestamptz),
    memory.link_facts(uuid, uuid, text, real)
TO memory_agent;

-- == working memory ==
GRANT EXECUTE ON FUNCTION memory._priority_rank(text) TO memory_agent, memory_admin, memory_worker;
GRANT EXECUTE ON FUNCTION
    memory.set_working_memory(text, jsonb, interval, text, text, text),
    memory.get_working_memory(text),
    memory.clear_working_memory(text)
TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.expire_working_memory() TO memory_admin;

-- == compatibility views (old brain's names) ==
GRANT SELECT ON memory.zep_episodic_memory, memory.zep_semantic_memory, memory.zep_working_memory
TO memory_agent, memory_admin;

-- == core memory and identity ==
-- Agents: the API. The private helpers they reach run with their rights (RLS applies).
GRANT EXECUTE ON FUNCTION
    memory.set_block(text, text, text, integer, boolean),
    memory.get_blocks(),
    memory.block_history(text),
    memory.identity_hash(),
    memory.create_checkpoint(text, jsonb),
    memory.restore_checkpoint(uuid),
    memory.list_checkpoints(integer),
    memory.heartbeat(text, jsonb, jsonb)
TO memory_agent;
GRANT EXECUTE ON FUNCTION
    memory._is_admin(),
    memory._identity_hash(jsonb),
    memory._blocks_snapshot(uuid),
    memory._check_block_label(text)
TO memory_agent, memory_admin;
-- Trigger functions fire whatever the writer's privileges. EXECUTE only lets a role
-- attach one to a table of its own (CREATE TRIGGER on a temporary table): a SECURITY
-- DEFINER one would then run as memory_owner on rows the role made up, so those are
-- granted to operators only (the catalog test wants an explicit grant) and refuse to
-- run on other tables anyway (sql/tests/isolation/security-definer.test.sql).
GRANT EXECUTE ON FUNCTION memory._blocks_before_write() TO memory_agent, memory_admin;
REVOKE EXECUTE ON FUNCTION memory._blocks_record_history() FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._blocks_record_history() TO memory_admin;
-- Operators and the pg_cron job memory-auto-checkpoint (memory_operator). Not agents:
-- _take_checkpoint and _lock_identity take any agent's id.
GRANT EXECUTE ON FUNCTION
    memory._lock_identity(uuid),
    memory._take_checkpoint(uuid, text, jsonb, real),
    memory.auto_checkpoint()
TO memory_admin;

-- == instances and decisions ==
GRANT EXECUTE ON FUNCTION
    memory.register_instance(text, text, text, jsonb),
    memory.instance_heartbeat(uuid),
    memory.propose_decision(text, jsonb),
    memory.vote(uuid, uuid, boolean)
TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.instance_liveness_threshold() TO memory_agent, memory_admin, memory_reader;
GRANT EXECUTE ON FUNCTION memory._instance_is_live(text, timestamptz) TO memory_agent, memory_admin;
-- Operators and the pg_cron job memory-instance-liveness (memory_operator).
GRANT EXECUTE ON FUNCTION memory.mark_stale_instances_offline() TO memory_admin;

-- == embedding pipeline ==
-- plpython3u helpers (owned by the superuser): only the functions that call them.
GRANT EXECUTE ON FUNCTION memory._split_text(text, integer, integer) TO memory_owner, memory_admin, memory_agent;
GRANT EXECUTE ON FUNCTION memory._embed_query_remote(text, text, text [], integer) TO memory_owner;
-- Trigger functions run on every write of episodes and facts, whoever writes. They are
-- SECURITY DEFINER: not for agents, who could attach them to a table of their own (see
-- == core memory and identity ==).
REVOKE EXECUTE ON FUNCTION memory._enqueue_new_episodes(), memory._enqueue_new_facts(), memory._reenqueue_changed()
FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._enqueue_new_episodes() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._enqueue_new_facts() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._reenqueue_changed() TO memory_admin;
-- The daemon (memory_worker): the queue API and nothing else.
GRANT EXECUTE ON FUNCTION memory.claim_embedding_batch(text, integer, interval, integer, text []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.complete_embedding_batch(text, uuid [], integer [], vector []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.fail_embedding_batch(text, uuid [], text) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.release_embedding_batch(text, uuid []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.embedding_batch_outranked(text, uuid []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.release_worker_leases(text) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.extend_embedding_leases(text, uuid [], interval) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.embedding_worker_heartbeat(text, text, text [], text, integer, text, text, jsonb)
TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.embedding_model_registry() TO memory_worker, memory_admin;
GRANT EXECUTE ON FUNCTION memory.embedding_worker_sleep(text, text []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.embedding_worker_wake(text, text []) TO memory_worker;
GRANT EXECUTE ON FUNCTION memory.embedding_queue_depth() TO memory_worker, memory_admin, memory_reader;
-- Operators.
GRANT EXECUTE ON FUNCTION memory.reap_expired_leases() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.requeue_dead(bigint []) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.register_embedding_model(text, text, integer, integer, integer, integer) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.drop_embedding_model(text) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.set_active_model(text) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.reembed(boolean) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.prune_query_cache() TO memory_admin;
-- Agents: chunking, query embeddings, vector search, pooled vectors, their own chunks and jobs.
GRANT EXECUTE ON FUNCTION memory.chunk_text(text, integer, integer) TO memory_admin, memory_agent;
GRANT EXECUTE ON FUNCTION memory.embed_query(text, text) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory.search_episodic_memory(vector, integer, double precision) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory.episode_embedding(uuid, text) TO memory_agent, memory_admin;
GRANT SELECT ON memory.embedding_models TO memory_agent, memory_reader;
GRANT SELECT ON memory.chunks, memory.pooled_embeddings, memory.embedding_jobs TO memory_agent;
GRANT SELECT ON memory.embedding_workers TO memory_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    memory.embedding_models, memory.chunks, memory.pooled_embeddings, memory.embedding_jobs,
    memory.query_embedding_cache, memory.embedding_workers
TO memory_admin;
GRANT SELECT, UPDATE ON memory.embedding_settings TO memory_admin;
-- memory.health() (sql/functions/090-health.sql): operators and monitoring.
GRANT EXECUTE ON FUNCTION memory.health() TO memory_admin, memory_reader;

-- == search and context ==
GRANT EXECUTE ON FUNCTION memory._query_terms(text) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory._text_list_query(tsquery [], double precision [], integer) TO memory_agent;
-- SECURITY DEFINER, scoped to the caller's agent: ids, scores and term weights of its own
-- rows only
GRANT EXECUTE ON FUNCTION
    memory._term_weights(tsquery [], text),
    memory._episode_text_list(tsquery [], double precision [], integer, text[], uuid, text, timestamptz, timestamptz, real),
    memory._fact_text_list(tsquery [], integer, timestamptz, boolean)
TO memory_agent;
GRANT EXECUTE ON FUNCTION
    memory._query_vector(text), memory._serving_model(), memory._check_search_args(integer, text),
    memory._rank_exactly(uuid, smallint), memory._exact_search_max_chunks(), memory._prepared(text, text),
    memory._relevance_sql(text, text, text, text, text), memory._graph_order_sql(integer, text),
    memory._search_episodes(
        text, integer, text, text[], text, text, timestamptz, timestamptz, real,
        double precision, double precision, interval, double precision, integer, double precision, integer,
        double precision, boolean
    ),
    memory.search_episodic_memory(
        text, integer, text, text[], text, text, timestamptz, timestamptz, real,
        double precision, double precision, interval, double precision, integer, double precision, integer,
        double precision, boolean
    ),
    memory.search_semantic_memory(text, integer, timestamptz, boolean, text, double precision, double precision),
    memory.build_context(text, integer, integer, integer),
    memory.build_context_text(text, integer),
    -- SECURITY DEFINER: logs the caller's own episodes only (searches write nothing)
    memory.mark_used(uuid [])
TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.estimate_tokens(text), memory.render_context(jsonb)
TO memory_agent, memory_admin, memory_reader;
GRANT EXECUTE ON FUNCTION memory.fold_access_stats() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory.refresh_frequent_lexemes(integer) TO memory_admin;
-- each large agent's frequent words (migration 036): operators read them, agents never
GRANT SELECT ON memory.agent_frequent_lexemes TO memory_admin;
-- agents write the access log only through memory.mark_used
REVOKE ALL ON memory.episode_access_log FROM memory_agent;
GRANT SELECT, INSERT, DELETE ON memory.episode_access_log TO memory_admin;

-- == health and operations ==
-- an agent's own HNSW index (047-agent-vector-indexes.sql): operators plan, and
-- scripts/agent-indexes.sh runs the plan
GRANT EXECUTE ON FUNCTION
    memory.agent_vector_index_plan(integer), memory._agent_vector_index_name(uuid, smallint),
    memory._exact_search_max_chunks()
TO memory_admin;

-- == legacy import, export and import ==
-- Operators only (sql/functions/130-133 legacy import, 140-export.sql, 141-import.sql): these
-- read and write every agent's memory. Their private helpers run as memory_owner and
-- are granted to nobody.
GRANT EXECUTE ON FUNCTION
    memory.import_legacy(text, text, integer, text, text, boolean, jsonb),
    memory.legacy_import_report(text, text)
TO memory_admin;
GRANT SELECT ON memory.legacy_imports, memory.agent_imports TO memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.export_agent(text),
    memory.import_agent(text, text, name, boolean)
TO memory_admin;

-- == cache and operations ==
-- (sql/functions/150-cache.sql, 160-operations.sql, 090-health.sql; migration 011)
-- Cache triggers fire on every write of working memory and blocks (not callable directly).
-- SECURITY DEFINER (they write memory.cache_changes): not for agents, who could attach
-- them to a table of their own (see == core memory and identity ==).
REVOKE EXECUTE ON FUNCTION memory._cache_notify_working_memory(), memory._cache_notify_blocks() FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._cache_notify_working_memory(), memory._cache_notify_blocks() TO memory_admin;
-- The cache warmer (memory_worker) only: these take any agent's ids, so agents never
-- read another agent's cached rows through SQL.
GRANT EXECUTE ON FUNCTION memory._cache_wm_json(memory.working_memory) TO memory_owner;
GRANT EXECUTE ON FUNCTION
    memory.cache_working_memory(uuid []),
    memory.cache_working_memory_page(uuid, integer),
    memory.cache_blocks(uuid []),
    memory.cache_block_agents_page(uuid, integer),
    memory.cache_diff_working_memory(text [], bytea [], bigint [], text []),
    memory.cache_diff_blocks(text [], bytea []),
    memory._cache_check_keys(text [], integer []),
    memory._cache_key(uuid, text, text),
    memory._cache_key_ids(text),
    memory.claim_cache_reconcile(text),
    memory.finish_cache_reconcile(text, bigint, timestamptz, bigint, bigint, bigint, bigint, bigint, text),
    memory.cache_warmer_heartbeat(text, boolean, bigint, bigint, double precision, text),
    memory.take_cache_changes(text, integer)
TO memory_worker;
GRANT SELECT ON memory.cache_changes TO memory_admin;
-- Operators and the pg_cron jobs (memory_operator).
GRANT EXECUTE ON FUNCTION
    memory.request_cache_reconcile(text),
    memory.pause_embedding(text),
    memory.resume_embedding(),
    memory.checkpoint_now(),
    memory.record_cron_status()
TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._embedding_paused() TO memory_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.cron_status TO memory_admin;
GRANT SELECT ON memory.cache_reconcile_requests, memory.cache_repairs, memory.cache_warmers,
    memory.operations_settings
TO memory_admin;
-- Monitoring: health() as one row per layer, and as gauges (the daemon exports them).
GRANT SELECT ON memory.health_report TO memory_reader, memory_admin;
GRANT EXECUTE ON FUNCTION memory.health_metrics() TO memory_worker, memory_reader, memory_admin;

-- == quotas and role limits ==
-- (sql/functions/170-quotas.sql, 010-agents.sql; migration 013)
-- The usage trigger is SECURITY DEFINER: not for agents (see == core memory and identity ==).
REVOKE EXECUTE ON FUNCTION memory._count_usage() FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._count_usage() TO memory_admin;
-- The pending-jobs counter and the owners' cascade of jobs (170, 172; migration 021):
-- triggers, SECURITY DEFINER, not for agents; the orphan sweep is the operators' (cron).
REVOKE EXECUTE ON FUNCTION
    memory._count_pending_jobs(), memory._delete_owners_jobs(), memory._count_other_usage(),
    memory._delete_agents_usage()
FROM memory_agent;
GRANT EXECUTE ON FUNCTION
    memory._count_pending_jobs(), memory._delete_owners_jobs(), memory._count_other_usage(),
    memory._delete_agents_usage(), memory.sweep_orphans()
TO memory_admin;
-- The fold of a transaction's running counts at commit (migration 023): a trigger,
-- SECURITY DEFINER, not for agents.
REVOKE EXECUTE ON FUNCTION memory._fold_usage_tx() FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._fold_usage_tx() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._bind_agent(text, name) TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._agent_limits(uuid), memory._queued_jobs(uuid, integer) TO memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.apply_agent_limits(text),
    memory.set_agent_limits(text, bigint, integer, integer, integer, interval, interval)
TO memory_admin;
-- Agents: their own quotas and usage only.
GRANT EXECUTE ON FUNCTION memory.my_quota() TO memory_agent;
GRANT SELECT, UPDATE ON memory.quota_settings TO memory_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.agent_quotas TO memory_admin;
GRANT SELECT, UPDATE ON memory.agent_usage TO memory_admin;
GRANT SELECT ON memory.agent_usage_tx TO memory_admin;
GRANT SELECT, DELETE ON memory.claim_turns TO memory_admin;
-- == lifetime: erasure (sql/functions/180-lifetime.sql; migration 015) ==
-- The trigger recording who asked for a cached query fires inside embed_query (as
-- memory_owner) and on an operator's direct writes to the cache.
GRANT EXECUTE ON FUNCTION memory._record_query_asker() TO memory_admin;
-- Operators only: erasing an agent. The procedure commits between the batches of the
-- SECURITY DEFINER step; agents can call neither.
GRANT EXECUTE ON FUNCTION memory._drop_agent_batch(text, text, integer) TO memory_admin;
-- The deletion lock of an agent (180-lifetime.sql): the trigger is SECURITY DEFINER, not
-- for agents; the daemon's completion takes the lock through the key function.
REVOKE EXECUTE ON FUNCTION memory._lock_agent_for_deletion() FROM memory_agent;
GRANT EXECUTE ON FUNCTION memory._lock_agent_for_deletion() TO memory_admin;
GRANT EXECUTE ON FUNCTION memory._agent_lock_key(uuid) TO memory_admin;
GRANT EXECUTE ON PROCEDURE memory.drop_agent(text, text, integer, jsonb) TO memory_admin;
GRANT SELECT ON memory.agent_drops, memory.query_embedding_askers TO memory_admin;
-- The agent's own erasures.
GRANT EXECUTE ON FUNCTION memory.forget_session(text), memory.forget_project(text) TO memory_agent, memory_admin;
-- == lifetime: retention and decay (migration 016) ==
GRANT EXECUTE ON FUNCTION memory.effective_importance(real, timestamptz, integer, interval, timestamptz)
TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.set_retention_policy(interval, integer, real, text [], interval, text),
    memory.clear_retention_policy(text)
TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory._policy_agent(text) TO memory_owner;
GRANT EXECUTE ON FUNCTION memory.apply_retention(integer, integer) TO memory_admin;
GRANT SELECT ON memory.retention_policies, memory.retention_log TO memory_agent, memory_admin;
-- == lifetime: sharing between agents (migration 028) ==
-- agents read grants through RLS (made or received) and change them only through
-- share/unshare; the policies on episodes and chunks read memory.shares as the caller
REVOKE ALL ON memory.shares FROM memory_agent;
GRANT SELECT ON memory.shares TO memory_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.shares TO memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.share(text, text, text), memory.unshare(text, text, text),
    memory.my_shares(), memory.shared_with_me(),
    memory._search_owners(boolean), memory._shared_term_weights(tsquery [], uuid []),
    memory._shared_episode_text_list(
        tsquery [], double precision [], integer, text[], uuid, text, timestamptz, timestamptz, real, uuid []
    )
TO memory_agent;
-- the membership of memory_share_grantee follows the grants: SECURITY DEFINER triggers
-- (they GRANT and REVOKE the role), fired by share/unshare and by an operator's writes
GRANT EXECUTE ON FUNCTION memory._share_grantee_membership(), memory._share_grantee_leaves() TO memory_admin;
-- == lifetime: consolidation of near-duplicates (migration 022) ==
GRANT EXECUTE ON FUNCTION memory.text_similarity(text, text) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION memory.undo_consolidation(bigint), memory.resolve_episode(uuid) TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.list_retention_log(integer), memory.list_consolidations(integer) TO memory_agent;
-- update_episode (SECURITY INVOKER) names the kept episode of a merged id
GRANT EXECUTE ON FUNCTION memory._raise_episode_not_found(uuid, uuid, text) TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.run_consolidation(integer, integer, real, real, interval) TO memory_admin;
GRANT SELECT ON memory.consolidations TO memory_agent, memory_admin;
GRANT SELECT ON memory.consolidation_progress TO memory_admin;
