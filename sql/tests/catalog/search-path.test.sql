-- Every function of schema memory pins its search_path (house style 3), and the
-- pinned path names only trusted schemas.
BEGIN;
SELECT plan(3);

SELECT cmp_ok(
    (SELECT count(*) FROM pg_proc WHERE pronamespace = 'memory'::regnamespace),
    '>', 0::bigint,
    'schema memory has functions to check'
);

SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text
        FROM pg_proc AS p
        WHERE p.pronamespace = 'memory'::regnamespace
          AND NOT EXISTS (
              SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%'
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'no function in schema memory lacks a pinned search_path'
);

SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text || ' -> ' || c
        FROM pg_proc AS p, unnest(p.proconfig) AS c
        WHERE p.pronamespace = 'memory'::regnamespace
          AND c LIKE 'search_path=%'
          AND EXISTS (
              SELECT 1
              FROM unnest(string_to_array(replace(substr(c, 13), ' ', ''), ',')) AS s
              WHERE s NOT IN ('pg_catalog', 'pg_temp', 'public', 'memory', '""')
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'pinned search paths name only pg_catalog, public (extensions), memory and pg_temp'
);

SELECT * FROM finish();
ROLLBACK;
