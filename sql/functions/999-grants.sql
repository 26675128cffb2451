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
GRANT SELECT, INSERT, UPDATE, DELETE ON memory.projects, memory.episodes, memory.working_memory TO memory_agent;
GRANT SELECT, INSERT, UPDATE ON memory.facts, memory.blocks, memory.agent_state, memory.instances TO memory_agent;
GRANT SELECT, INSERT, DELETE ON memory.fact_links TO memory_agent;
GRANT SELECT ON memory.block_history, memory.checkpoints, memory.decisions, memory.votes TO memory_agent;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    memory.projects, memory.episodes, memory.facts, memory.fact_links, memory.working_memory,
    memory.blocks, memory.block_history, memory.checkpoints, memory.agent_state,
    memory.instances, memory.decisions, memory.votes
TO memory_admin;

-- == validation helpers (called inside the API functions, as the caller) ==
GRANT EXECUTE ON FUNCTION
    memory._check_unit_interval(text, real), memory._check_text(text, text, integer),
    memory._check_tags(text[]), memory._check_object(text, jsonb), memory._check_time(text, timestamptz)
TO memory_agent, memory_admin;

-- == episodic ==
GRANT EXECUTE ON FUNCTION
    memory._project_id(text),
    memory.remember(text, real, text[], text, timestamptz, jsonb, text),
    memory.update_episode(uuid, text, real, text[], jsonb),
    memory.forget_episode(uuid)
TO memory_agent;

-- == semantic ==
GRANT EXECUTE ON FUNCTION memory._facts_guard(), memory._fact_not_found(uuid) TO memory_agent, memory_admin;
GRANT EXECUTE ON FUNCTION
    memory.learn_fact(text, text, real, uuid[], timestamptz, uuid[]),
    memory.invalidate_fact(uuid, timestamptz),
    memory.link_facts(uuid, uuid, text, real)
TO memory_agent;

-- == working memory ==
GRANT EXECUTE ON FUNCTION memory._priority_rank(text) TO memory_agent, memory_admin, memory_worker;
GRANT EXECUTE ON FUNCTION
    memory.set_working_memory(text, jsonb, interval, text, text),
    memory.get_working_memory(text),
    memory.clear_working_memory(text)
TO memory_agent;
GRANT EXECUTE ON FUNCTION memory.expire_working_memory() TO memory_admin;

-- == compatibility views (old brain's names) ==
GRANT SELECT ON memory.zep_episodic_memory, memory.zep_semantic_memory, memory.zep_working_memory
TO memory_agent, memory_admin;

-- == core memory and identity ==

-- == instances and decisions ==

-- == embedding pipeline ==

-- == search and context ==

-- == health and operations ==
