-- Private argument checks shared by the API functions. Each raises a documented
-- SQLSTATE with a lower-case message naming the argument and a hint.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._check_unit_interval(arg_name text, val real)
RETURNS real
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL OR val = 'NaN'::real OR val < 0 OR val > 1 THEN
        RAISE EXCEPTION '% must be between 0 and 1', arg_name
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('got %s', coalesce(val::text, 'NULL')),
                  HINT = format('pass %s as a number from 0 to 1', arg_name);
    END IF;
    RETURN val;
END
$$;

COMMENT ON FUNCTION memory._check_unit_interval(text, real) IS
'Private: returns val if it is in [0, 1], else raises 22003 naming arg_name.';

CREATE OR REPLACE FUNCTION memory._check_text(arg_name text, val text, max_chars integer)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL OR val !~ '\S' THEN
        RAISE EXCEPTION '% must not be empty', arg_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('pass a %s with at least one non-space character', arg_name);
    END IF;
    IF char_length(val) > max_chars THEN
        RAISE EXCEPTION '% is too long', arg_name
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('%s characters, at most %s are accepted', char_length(val), max_chars),
                  HINT = 'nothing is ever truncated: split the text into several items';
    END IF;
    RETURN val;
END
$$;

COMMENT ON FUNCTION memory._check_text(text, text, integer) IS
'Private: returns val if it is non-blank and at most max_chars long; raises 22023 (empty) or 22001 (too long).';

CREATE OR REPLACE FUNCTION memory._check_tags(tags text[])
RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tags IS NULL THEN
        RETURN '{}';
    END IF;
    -- most writes carry no tag: done without running the per-tag query below
    IF cardinality(tags) = 0 THEN
        RETURN tags;
    END IF;
    IF cardinality(tags) > 64 THEN
        RAISE EXCEPTION 'too many tags'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s tags, at most 64 are accepted', cardinality(tags)),
                  HINT = 'keep the tags that matter for filtering; put the rest in metadata';
    END IF;
    IF cardinality(tags) > 0 AND array_ndims(tags) <> 1 THEN
        RAISE EXCEPTION 'tags must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass tags as ARRAY[''a'', ''b'']';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(tags) AS t WHERE t IS NULL OR char_length(t) NOT BETWEEN 1 AND 100) THEN
        RAISE EXCEPTION 'each tag must have 1 to 100 characters'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'remove NULL, empty or very long tags';
    END IF;
    RETURN tags;
END
$$;

COMMENT ON FUNCTION memory._check_tags(text[]) IS
'Private: NULL becomes {}; raises 22023 for more than 64 tags, a multi-dimensional array, or a NULL, empty or over-100-character tag.';

CREATE OR REPLACE FUNCTION memory._check_object(arg_name text, val jsonb)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL THEN
        RETURN '{}'::jsonb;
    END IF;
    IF jsonb_typeof(val) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object', arg_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got a JSON %s', jsonb_typeof(val)),
                  HINT = format('pass %s as ''{"key": "value"}''::jsonb', arg_name);
    END IF;
    IF octet_length(val::text) > 65536 THEN
        RAISE EXCEPTION '% is too large', arg_name
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('%s bytes of JSON text, at most 64 KiB', octet_length(val::text)),
                  HINT = 'metadata is for small facts about an item; store large material as content';
    END IF;
    RETURN val;
END
$$;

COMMENT ON FUNCTION memory._check_object(text, jsonb) IS
'Private: NULL becomes {}; raises 22023 when val is not a JSON object, 54000 when its JSON text is over 64 KiB.';

CREATE OR REPLACE FUNCTION memory._check_time(arg_name text, val timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL THEN
        RETURN now();
    END IF;
    IF NOT isfinite(val) THEN
        RAISE EXCEPTION '% must be a finite time', arg_name
            USING ERRCODE = 'datetime_field_overflow',
                  HINT = 'infinity and -infinity are not moments; pass a real timestamp';
    END IF;
    RETURN val;
END
$$;

COMMENT ON FUNCTION memory._check_time(text, timestamptz) IS
'Private: NULL becomes now(); raises 22008 for infinity.';

CREATE OR REPLACE FUNCTION memory._check_count(arg_name text, val integer, lo integer, hi integer)
RETURNS integer
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL OR val NOT BETWEEN lo AND hi THEN
        RAISE EXCEPTION '% must be between % and %', arg_name, lo, hi
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got %s', coalesce(val::text, 'NULL')),
                  HINT = 'leave it out for the default';
    END IF;
    RETURN val;
END
$$;

COMMENT ON FUNCTION memory._check_count(text, integer, integer, integer) IS
'Private: returns val when it is within lo..hi; raises 22023 (NULL or outside) naming arg_name.';

-- The checks below pass a NULL (the caller decides whether NULL is allowed: with
-- memory._check_not_null first when it is not).
CREATE OR REPLACE FUNCTION memory._check_not_null(arg_name text, val anyelement, hint text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val IS NULL THEN
        RAISE EXCEPTION '% must not be null', arg_name USING ERRCODE = 'null_value_not_allowed', HINT = hint;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_not_null(text, anyelement, text) IS
'Private: raises 22004 naming arg_name, with hint, when val is NULL.';

CREATE OR REPLACE FUNCTION memory._check_pattern(arg_name text, val text, pattern text, hint text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF val !~ pattern THEN
        RAISE EXCEPTION 'invalid %', arg_name
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got %s', left(quote_literal(val), 80)), HINT = hint;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_pattern(text, text, text, text) IS
'Private: raises 22023 "invalid <arg_name>", with hint, when val does not match the regular expression pattern; NULL passes.';

CREATE OR REPLACE FUNCTION memory._check_length(arg_name text, val text, max_chars integer, hint text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF char_length(val) > max_chars THEN
        RAISE EXCEPTION '% is too long', arg_name
            USING ERRCODE = 'string_data_right_truncation',
                  DETAIL = format('%s characters, at most %s are accepted', char_length(val), max_chars),
                  HINT = hint;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_length(text, text, integer, text) IS
'Private: raises 22001 naming arg_name, with hint, when val has more than max_chars characters; NULL passes.';

CREATE OR REPLACE FUNCTION memory._check_json(arg_name text, val jsonb, max_bytes integer, hint text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- measured as text: pg_column_size would measure a compressed value read from a table
    IF octet_length(val::text) > max_bytes THEN
        RAISE EXCEPTION '% is too large', arg_name
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('%s bytes of JSON text, at most %s', octet_length(val::text), max_bytes),
                  HINT = hint;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_json(text, jsonb, integer, text) IS
'Private: raises 54000 naming arg_name, with hint, when the JSON text of val is over max_bytes bytes; NULL passes.';

CREATE OR REPLACE FUNCTION memory._check_json_object(arg_name text, val jsonb, hint text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(val) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object', arg_name
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('got a JSON %s', jsonb_typeof(val)), HINT = hint;
    END IF;
END
$$;

COMMENT ON FUNCTION memory._check_json_object(text, jsonb, text) IS
'Private: raises 22023 naming arg_name, with hint, when val is not a JSON object; NULL passes.';

-- Two helpers were created by migration 002 because table constraints use them (a
-- generated column, CHECKs); their bodies and comments live here, with the other
-- validation helpers. PL/pgSQL, not SQL: every INSERT is a new statement, and an SQL
-- function that is not inlined (its SET search_path prevents it) was planned again for
-- each one; PL/pgSQL keeps its plans for the session. Same results (the upgrade test
-- compares the catalog with a fresh install).
CREATE OR REPLACE FUNCTION memory._sha256(content text)
RETURNS bytea
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN sha256(convert_to(content, 'UTF8'));
END
$$;

CREATE OR REPLACE FUNCTION memory._valid_tags(tags text[])
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- an empty array (most rows): valid, without running the per-tag query below
    IF cardinality(tags) = 0 THEN
        RETURN true;
    END IF;
    RETURN cardinality(tags) <= 64
       AND array_ndims(tags) IS NOT DISTINCT FROM (CASE WHEN cardinality(tags) = 0 THEN NULL ELSE 1 END)
       AND NOT EXISTS (
           SELECT 1 FROM unnest(tags) AS t
           WHERE t IS NULL OR char_length(t) NOT BETWEEN 1 AND 100
       );
END
$$;

COMMENT ON FUNCTION memory._sha256(text) IS
'Private: sha256 of the UTF-8 bytes of content (immutable; used for content hashes and identity). NULL for NULL; raises nothing.';
COMMENT ON FUNCTION memory._valid_tags(text[]) IS
'Private: true when tags is an empty or one-dimensional array of at most 64 tags, each 1..100 characters and not NULL (the CHECK of every tags column). Raises nothing.';

-- The guard of a SECURITY DEFINER trigger function: it writes what NEW or OLD holds,
-- so it must not run as a trigger of any table but its own (there NEW could be anything).
CREATE OR REPLACE FUNCTION memory._require_trigger_of(fn text, relid oid, tables regclass [])
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF relid <> ALL (tables) THEN
        -- the last ', ' of the list becomes ' and '
        RAISE EXCEPTION '% runs only as a trigger of %',
            fn, regexp_replace(array_to_string(tables::text [], ', '), ', ([^,]*)$', ' and \1')
            USING ERRCODE = 'insufficient_privilege', HINT = 'it is not meant for other tables';
    END IF;
END
$$;

COMMENT ON FUNCTION memory._require_trigger_of(text, oid, regclass []) IS
'Private: the guard of a trigger function fn (''memory.f()''), called with TG_RELID: raises 42501 (fn runs only as a trigger of the tables) unless relid is one of tables. Returns nothing.';
