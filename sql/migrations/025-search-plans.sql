-- 025: search without per-call planning and per-row function calls (issues 14 and 16;
-- sql/functions/110-search.sql, docs/decisions.md "Search latency"). The fused relevance
-- and the best chunk of a candidate are now written into the search statements
-- (memory._relevance_sql), so their functions go.
DROP FUNCTION IF EXISTS memory._relevance(double precision, boolean, double precision, double precision, double precision);
DROP FUNCTION IF EXISTS memory._best_chunks(uuid [], vector, smallint);
