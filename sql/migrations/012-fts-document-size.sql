-- 012: a full-text vector never makes a write fail (issue 8, found by the property-based
-- bad-input suite, python/tests/test_bad_input_properties.py).
-- memory._fts_document (migration 002) computes the generated columns episodes.fts and
-- facts.fts. PostgreSQL refuses a tsvector over 1 MB of lexemes and positions (54000
-- "string is too long for tsvector"), so an episode within its 500,000-character limit
-- but made of many distinct words (about 220,000 characters of 4-byte letters are
-- enough) could be neither remembered nor updated. Now such a text is indexed for words
-- by its longest prefix (in steps of a quarter) whose vector fits; the text itself is
-- stored whole and embedded whole, as before.
-- Every text whose vector fitted gets exactly the vector it got before (same
-- configurations, same order), so the stored columns stay valid: nothing is rewritten.
SET LOCAL ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._fts_document(content text)
RETURNS tsvector
LANGUAGE plpgsql
IMMUTABLE
PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    -- Up to 50,000 bytes the vector stays far below 1 MB (at most about six bytes of
    -- lexemes and positions per byte of text): no subtransaction on the common path.
    IF content IS NULL OR octet_length(content) <= 50000 THEN
        RETURN to_tsvector('pg_catalog.english'::regconfig, content)
            || to_tsvector('pg_catalog.spanish'::regconfig, content);
    END IF;
    n := char_length(content);
    LOOP
        BEGIN
            RETURN to_tsvector('pg_catalog.english'::regconfig, left(content, n))
                || to_tsvector('pg_catalog.spanish'::regconfig, left(content, n));
        EXCEPTION WHEN program_limit_exceeded THEN
            n := n - n / 4 - 1;
        END;
    END LOOP;
END
$$;

COMMENT ON FUNCTION memory._fts_document(text) IS
'Private: the full-text vector of a memory text (English and Spanish stems), for the generated columns episodes.fts and facts.fts. A text whose vector would exceed the tsvector limit of 1 MB is indexed by its longest prefix (shortened a quarter at a time) whose vector fits, so a long text of many distinct words is stored rather than refused. Raises nothing.';
