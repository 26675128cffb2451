-- 027: the query-vector cache is WAL-logged (issue 18), so that it replicates: a hot
-- standby answers a query that any node's search embedded before from its copy of the
-- cache instead of asking the daemon (an UNLOGGED table cannot be read on a standby),
-- and a promoted standby starts with the cache warm. The cost is WAL for what the cache
-- writes: one row per newly embedded query and, since a repeated query writes nothing,
-- at most one update a minute per cached query and agent. The askers go with it (a
-- logged table cannot reference an unlogged one, and drop_agent reads them).
ALTER TABLE memory.query_embedding_cache SET LOGGED;
ALTER TABLE memory.query_embedding_askers SET LOGGED;
COMMENT ON TABLE memory.query_embedding_cache IS
'embeddings of search queries by model and sha256 of the text (no query text is kept), WAL-logged so that standbys read it; pruned by memory-prune-query-cache';
