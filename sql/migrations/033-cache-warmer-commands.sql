-- 033: the cache diffs return the Redis commands to run, and take and return Redis keys
-- instead of ids, so that the warmer builds no key (issue 17; sql/functions/150-cache.sql).
-- A function's argument types or OUT columns cannot be replaced in place: the old ones go,
-- and sql/functions re-creates them in the same run.
DROP FUNCTION IF EXISTS memory.cache_diff_working_memory(uuid [], uuid [], bytea [], bigint [], text []);
DROP FUNCTION IF EXISTS memory.cache_diff_blocks(uuid [], bytea []);
DROP FUNCTION IF EXISTS memory._cache_check_keys(uuid [], uuid [], integer []);
DROP FUNCTION IF EXISTS memory.take_cache_changes(text, integer);
DROP FUNCTION IF EXISTS memory.cache_working_memory_page(uuid, integer);
DROP FUNCTION IF EXISTS memory.cache_block_agents_page(uuid, integer);
