-- 018: legacy layouts (issue 20, item 5): the operator's column mapping of a legacy
-- import is kept with its progress, so every batch (and a resumed import) reads the old
-- tables the same way. Functions: sql/functions/130-legacy-import.sql.
SET LOCAL ROLE memory_owner;

ALTER TABLE memory.legacy_imports ADD COLUMN IF NOT EXISTS column_map jsonb NOT NULL DEFAULT '{}';
DO $check$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'legacy_imports_column_map_object') THEN
        ALTER TABLE memory.legacy_imports
        ADD CONSTRAINT legacy_imports_column_map_object CHECK (jsonb_typeof(column_map) = 'object');
    END IF;
END
$check$;
COMMENT ON COLUMN memory.legacy_imports.column_map IS
'the operator''s mapping of old tables and columns (memory.import_legacy(column_map => ...)), {} when the layout is a known one';
