-- 042: the legacy import's eight phase functions become one, memory._legacy_step(server,
-- me, phase, after, lim), driven by memory._legacy_phases(), which also checks the
-- owners of a page (issue 17; sql/functions/132-legacy-steps.sql). The old ones go;
-- sql/functions creates the new ones in the same run.
DROP FUNCTION IF EXISTS memory._legacy_step_projects(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_episodes(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_facts(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_fact_links(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_blocks(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_checkpoints(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_working_memory(text, uuid, uuid, integer);
DROP FUNCTION IF EXISTS memory._legacy_step_agent_state(text, uuid);
DROP FUNCTION IF EXISTS memory._legacy_check_page_owner(text, text, text, text, text, uuid);
