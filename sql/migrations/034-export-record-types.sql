-- 034: one description of the export format's record types (issue 17, item 3;
-- sql/functions/140-export.sql): memory._export_fields() now also returns each field's
-- position and its record type's table, and memory._export_keyed_types() is gone (the
-- import's collision check reads memory._export_record_types()). A function's OUT
-- columns cannot be replaced in place: the old ones go, and sql/functions re-creates
-- what remains in the same run.
DROP FUNCTION IF EXISTS memory._export_fields();
DROP FUNCTION IF EXISTS memory._export_keyed_types();
