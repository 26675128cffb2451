-- 032: each model's HNSW index is built over the vectors cast to halfvec (issue 16;
-- docs/decisions.md "HNSW over halfvec"). The table keeps the full single-precision
-- vectors: the graph only chooses the candidates, and every distance a search returns,
-- ranks by or compares with a threshold is computed from the stored vector. Measured by
-- make bench-scale: no loss of recall@10 through the index (at most 0.000 over every agent
-- size at 100,000 and 1,000,000 episodes, 0.005 allowed), an index 0.57 times the size,
-- and a faster walk (the big agent's p95 through the index alone 49.9 -> 17.1 ms at
-- 1,000,000 episodes).
--
-- The index keeps its name, chunks_embedding_model_<id>_idx. Rebuilding it holds a SHARE
-- lock on memory.chunks (reads go on, vectors wait) for as long as the build takes: about
-- 20 s per 100,000 chunks on two cores.
SET LOCAL maintenance_work_mem = '1GB';
DO $migration$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT model_id, dimensions FROM memory.embedding_models ORDER BY model_id LOOP
        EXECUTE format('DROP INDEX IF EXISTS memory.%I', 'chunks_embedding_model_' || m.model_id || '_idx');
        EXECUTE format(
            'CREATE INDEX %I ON memory.chunks USING hnsw ((embedding::public.halfvec(%s)) public.halfvec_cosine_ops)'
            ' WHERE model_id = %s',
            'chunks_embedding_model_' || m.model_id || '_idx', m.dimensions, m.model_id
        );
    END LOOP;
END
$migration$;
