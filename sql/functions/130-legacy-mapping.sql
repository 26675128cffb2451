-- Legacy import (issue 7), 1 of 4: mapping helpers, each old value to the new one.
-- The import (133-legacy-import.sql) and its report use the same ones, so the report
-- compares exactly what the import wrote. Functions run as memory_owner.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory._legacy_unit(val double precision, fallback real)
RETURNS real
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN val IS NULL OR val = 'NaN'::double precision THEN fallback
        ELSE least(1, greatest(0, val))::real
    END
$$;

COMMENT ON FUNCTION memory._legacy_unit(double precision, real) IS
'Private (legacy import): an old score as real in [0, 1] (clamped); NULL or NaN gives fallback. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_tags(tags text [])
RETURNS text []
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(t.tag ORDER BY t.n) FILTER (WHERE t.n <= 64), '{}')
    FROM (
        SELECT x.tag, row_number() OVER (ORDER BY x.ord) AS n
        FROM unnest(tags) WITH ORDINALITY AS x (tag, ord)
        WHERE x.tag IS NOT NULL AND char_length(x.tag) BETWEEN 1 AND 100
    ) AS t
$$;

COMMENT ON FUNCTION memory._legacy_tags(text []) IS
'Private (legacy import): the old tags that are valid new tags (1-100 characters, not NULL), in order, at most 64; NULL gives {}. The original array goes to metadata when anything was dropped (_legacy_episode_metadata). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_object(val jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN val IS NULL OR jsonb_typeof(val) = 'null' THEN '{}'::jsonb
        WHEN jsonb_typeof(val) = 'object' THEN val
        ELSE jsonb_build_object('legacy_value', val)
    END
$$;

COMMENT ON FUNCTION memory._legacy_object(jsonb) IS
'Private (legacy import): an old jsonb as a JSON object: NULL gives {}, a non-object v gives {"legacy_value": v}. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_episode_metadata(metadata jsonb, tags text [])
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory._legacy_object(metadata)
        || CASE
            WHEN tags IS NOT NULL AND memory._legacy_tags(tags) IS DISTINCT FROM tags
                THEN jsonb_build_object('legacy_tags', to_jsonb(tags))
            ELSE '{}'::jsonb
        END
$$;

COMMENT ON FUNCTION memory._legacy_episode_metadata(jsonb, text []) IS
'Private (legacy import): the metadata of an imported episode: the old metadata as an object (_legacy_object), plus legacy_tags (the original array) when some old tags were not valid new tags. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_importable(content text, max_chars integer)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT content IS NOT NULL AND content ~ '\S' AND char_length(content) <= max_chars
$$;

COMMENT ON FUNCTION memory._legacy_importable(text, integer) IS
'Private (legacy import): whether an old text can be stored (not blank, at most max_chars characters). Texts that cannot are never cut: the report lists their ids. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_project_name(name text, project_id uuid)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN name IS NULL AND project_id IS NULL THEN NULL
        WHEN name IS NULL OR name !~ '\S' THEN 'legacy project ' || coalesce(project_id::text, '')
        WHEN char_length(name) > 200 THEN left(name, 191) || ' ' || left(md5(name), 8)
        ELSE name
    END
$$;

COMMENT ON FUNCTION memory._legacy_project_name(text, uuid) IS
'Private (legacy import): the new name of an old project (projects are matched by name): the old name; a blank one becomes "legacy project <id>", one over 200 characters is shortened with an md5 suffix. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_fact_statement(concept text, definition text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN definition IS NULL OR definition !~ '\S' THEN concept ELSE definition END
$$;

COMMENT ON FUNCTION memory._legacy_fact_statement(text, text) IS
'Private (legacy import): the statement of an imported fact: the old definition, or the concept itself when the definition is missing or blank (noted in metadata). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_fact_metadata(
    definition text, relationships jsonb, updated_at timestamptz, source_count integer
)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'legacy_updated_at', updated_at,
        'legacy_relationships', relationships,
        'legacy_definition_missing', CASE WHEN definition IS NULL OR definition !~ '\S' THEN true END,
        'legacy_source_episodes_dropped', CASE WHEN source_count > 1000 THEN source_count - 1000 END
    ))
$$;

COMMENT ON FUNCTION memory._legacy_fact_metadata(text, jsonb, timestamptz, integer) IS
'Private (legacy import): the metadata of an imported fact: legacy_updated_at, legacy_relationships (the old JSON, kept whole), legacy_definition_missing, legacy_source_episodes_dropped (beyond 1000). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_relationships(relationships jsonb)
RETURNS TABLE (concept text, relation text, strength real)
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- {"related_concepts": [...], "strength": s}
    SELECT c.value, 'related_to', memory._legacy_unit((relationships ->> 'strength')::double precision, 1)
    FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(relationships -> 'related_concepts') = 'array'
             THEN relationships -> 'related_concepts' ELSE '[]'::jsonb END
    ) AS c (value)
    WHERE jsonb_typeof(relationships) = 'object'
      AND coalesce(jsonb_typeof(relationships -> 'strength'), 'number') = 'number'
    UNION ALL
    -- [{"concept": c, "relation": r, "strength": s}, ...]
    SELECT e.value ->> 'concept',
           CASE WHEN (e.value ->> 'relation') ~ '^[a-z][a-z0-9_]{0,62}$' THEN e.value ->> 'relation' ELSE 'related_to' END,
           memory._legacy_unit(
               CASE WHEN jsonb_typeof(e.value -> 'strength') = 'number' THEN (e.value ->> 'strength')::double precision END, 1
           )
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(relationships) = 'array' THEN relationships ELSE '[]'::jsonb END) AS e (value)
    WHERE jsonb_typeof(e.value) = 'object' AND jsonb_typeof(e.value -> 'concept') = 'string'
$$;

COMMENT ON FUNCTION memory._legacy_relationships(jsonb) IS
'Private (legacy import): the entries of an old relationships value, in either format the old brain wrote: {"related_concepts": [names], "strength": s} (relation related_to) or [{"concept", "relation", "strength"}] (a relation that is not a lower-case word becomes related_to). Strength clamped to [0, 1], default 1. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_label(label text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN label ~ '^[a-z][a-z0-9_]{0,62}$' THEN label
        ELSE left(
            regexp_replace(
                regexp_replace(lower(coalesce(label, '')), '[^a-z0-9_]+', '_', 'g'),
                '^([^a-z]|$)', 'b_\1'
            ),
            55
        ) || '_' || left(md5(coalesce(label, '')), 6)
    END
$$;

COMMENT ON FUNCTION memory._legacy_label(text) IS
'Private (legacy import): the new label of an old block: the old label when it is a valid label; otherwise lower-cased, other characters as _, prefixed b_ when it does not start with a letter (or is empty), and suffixed with 6 hex digits of its md5, so that two old labels never meet (e.g. "Current Mission" -> current_mission_<md5>). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_kind(kind text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN kind ~ '^[a-z][a-z0-9_]{0,49}$' THEN kind
        ELSE left(regexp_replace(regexp_replace(lower(coalesce(kind, '')), '[^a-z0-9_]+', '_', 'g'), '^([^a-z]|$)', 'legacy_\1'), 50)
    END
$$;

COMMENT ON FUNCTION memory._legacy_kind(text) IS
'Private (legacy import): the kind of an imported checkpoint: the old checkpoint_type when it is a valid kind, else lower-cased with other characters as _ (the original is kept in the state). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_identity_hash(old_hash text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN lower(old_hash) ~ '^[0-9a-f]{64}$' THEN lower(old_hash)
        ELSE memory._identity_hash('[]'::jsonb)
    END
$$;

COMMENT ON FUNCTION memory._legacy_identity_hash(text) IS
'Private (legacy import): the identity hash of an imported checkpoint: the old one (lower-case) when it is 64 hex digits, else the hash of no blocks (the old value is kept in the state). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_checkpoint_state(state jsonb, metadata jsonb, kind text, old_hash text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory._legacy_object(state)
        || jsonb_strip_nulls(jsonb_build_object(
            'legacy_metadata', metadata,
            'legacy_checkpoint_type', CASE WHEN memory._legacy_kind(kind) IS DISTINCT FROM kind THEN kind END,
            'legacy_identity_hash', CASE WHEN memory._legacy_identity_hash(old_hash) IS DISTINCT FROM old_hash THEN old_hash END
        ))
$$;

COMMENT ON FUNCTION memory._legacy_checkpoint_state(jsonb, jsonb, text, text) IS
'Private (legacy import): the state of an imported checkpoint: the old state_data as an object, plus legacy_metadata, legacy_checkpoint_type and legacy_identity_hash when the old values could not be kept as they were. Old checkpoints have no block snapshot: blocks is []. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_context_type(context_type text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN context_type IS NULL OR context_type !~ '[A-Za-z0-9]' THEN 'legacy'
        WHEN context_type ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' THEN context_type
        ELSE left(regexp_replace(regexp_replace(context_type, '[^A-Za-z0-9_.-]+', '_', 'g'), '^[^A-Za-z0-9]+', ''), 100)
    END
$$;

COMMENT ON FUNCTION memory._legacy_context_type(text) IS
'Private (legacy import): the context_type of an imported working-memory item: the old one when valid, legacy when NULL, else with other characters as _. Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_priority(priority text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN lower(priority) IN ('critical', 'high', 'normal', 'low') THEN lower(priority) ELSE 'normal' END
$$;

COMMENT ON FUNCTION memory._legacy_priority(text) IS
'Private (legacy import): an old priority as critical, high, normal or low (anything else is normal). Raises nothing.';

CREATE OR REPLACE FUNCTION memory._legacy_expires_at(expires_at timestamptz, created_at timestamptz, ttl_seconds integer)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        expires_at,
        created_at + make_interval(secs => coalesce(ttl_seconds, 86400))
    )
$$;

COMMENT ON FUNCTION memory._legacy_expires_at(timestamptz, timestamptz, integer) IS
'Private (legacy import): when an old working-memory item expires: expires_at, else created_at + ttl_seconds (default a day). Items already expired are not imported. Raises nothing.';
