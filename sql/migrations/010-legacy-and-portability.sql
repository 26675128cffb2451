-- 010: bringing memory in and out (issue 7). Functions live in
-- sql/functions/130-legacy-import.sql and 140-export-import.sql; docs/portability.md.
--   * postgres_fdw (contrib) reads a live old database ("the old brain"); its foreign
--     tables are created by memory.import_legacy in schema memory_legacy, one set per
--     foreign server, owned by memory_owner and readable by nobody else.
--   * memory.legacy_imports: the progress of each legacy import (one per foreign server),
--     so a killed import resumes where its last committed batch ended.
--   * memory.agent_imports: one row per export file imported into an agent.
--   * memory_owner may set session_replication_role (PostgreSQL 15 parameter
--     privilege): the import functions use it only inside two private helpers that pin
--     it with a SET clause (run by the operators' SECURITY DEFINER entry points), to
--     write blocks and their history exactly as they were (the block triggers would
--     renumber versions and set timestamps and authors).
-- Statements that need a superuser come first. (sqlfluff cannot parse GRANT ... ON
-- PARAMETER, new in PostgreSQL 15: hence the noqa.) The grant must precede the function
-- files: CREATE FUNCTION checks that its owner may set what its SET clauses set.
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
GRANT SET ON PARAMETER session_replication_role TO memory_owner; -- noqa: PRS

CREATE SCHEMA IF NOT EXISTS memory_legacy AUTHORIZATION memory_owner;
COMMENT ON SCHEMA memory_legacy IS
'foreign tables over legacy databases (postgres_fdw), one set per foreign server; created by memory.import_legacy';
REVOKE ALL ON SCHEMA memory_legacy FROM PUBLIC;

SET LOCAL ROLE memory_owner;

-- ---------------------------------------------------------------------------
-- Legacy imports: one row per foreign server (old ids are kept, so an old database
-- goes into one agent). Each call of
-- memory.import_legacy imports one batch of the current phase and moves last_key
-- forward in the same transaction, so progress and data commit together.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.legacy_imports (
    server_name text PRIMARY KEY
        CONSTRAINT legacy_imports_server_format CHECK (server_name ~ '^[a-z][a-z0-9_]{0,39}$'),
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    remote_schema text NOT NULL DEFAULT 'public',
    core_schema text NOT NULL DEFAULT 'nexus_memory',
    phase text NOT NULL DEFAULT 'projects'
        CONSTRAINT legacy_imports_phase_known CHECK (phase IN (
            'projects', 'episodes', 'facts', 'fact_links', 'blocks', 'checkpoints', 'working_memory',
            'agent_state', 'done'
        )),
    last_key uuid,
    batches integer NOT NULL DEFAULT 0,
    -- rows written per phase, e.g. {"episodes": 4704, ...}
    counts jsonb NOT NULL DEFAULT '{}' CONSTRAINT legacy_imports_counts_object CHECK (jsonb_typeof(counts) = 'object'),
    passes integer NOT NULL DEFAULT 1,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
COMMENT ON TABLE memory.legacy_imports IS
'progress of the import of each legacy database (foreign server) into its one agent: current phase, last imported key, rows per phase';
CREATE INDEX legacy_imports_agent_idx ON memory.legacy_imports (agent_id);

-- ---------------------------------------------------------------------------
-- Agent imports: one row per export file (by its sha256) imported into an agent.
-- ---------------------------------------------------------------------------
CREATE TABLE memory.agent_imports (
    agent_id uuid NOT NULL REFERENCES memory.agents (agent_id) ON DELETE CASCADE,
    export_sha256 text NOT NULL CONSTRAINT agent_imports_sha256_hex CHECK (export_sha256 ~ '^[0-9a-f]{64}$'),
    source_agent_id uuid NOT NULL,
    source_agent_name text NOT NULL,
    remapped_ids boolean NOT NULL,
    summary jsonb NOT NULL DEFAULT '{}' CONSTRAINT agent_imports_summary_object CHECK (jsonb_typeof(summary) = 'object'),
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by text NOT NULL DEFAULT session_user,
    PRIMARY KEY (agent_id, export_sha256)
);
COMMENT ON TABLE memory.agent_imports IS
'export files (by the sha256 of their body) imported into an agent with memory.import_agent, and what each import wrote';

-- Operators only: agents neither see nor write import bookkeeping.
ALTER TABLE memory.legacy_imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory.agent_imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY "operators manage legacy imports" ON memory.legacy_imports
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
CREATE POLICY "operators manage agent imports" ON memory.agent_imports
AS PERMISSIVE FOR ALL TO memory_admin USING (true) WITH CHECK (true);
