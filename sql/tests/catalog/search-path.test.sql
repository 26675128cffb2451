-- Every function of schema memory pins its search_path (house style 3), and the
-- pinned path names only trusted schemas.
BEGIN;
SELECT plan(4);

SELECT cmp_ok(
    (SELECT count(*) FROM tests.memory_functions),
    '>', 0::bigint,
    'schema memory has functions to check'
);

SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE p.prokind <> 'p'
          AND NOT EXISTS (
              SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%'
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'no function in schema memory lacks a pinned search_path'
);

-- A procedure that COMMITs may have neither SET clauses nor SECURITY DEFINER
-- (PostgreSQL refuses transaction control there): it pins its path with set_config at
-- the start of each transaction instead, and is never SECURITY DEFINER.
SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE p.prokind = 'p'
          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%')
          AND (p.prosecdef OR p.prosrc NOT LIKE '%pg_catalog.set_config(''search_path'', ''pg_catalog, pg_temp'', true)%')
        ORDER BY 1
    ),
    '{}'::text[],
    'every procedure without a SET clause pins its search_path with set_config and is not SECURITY DEFINER'
);

SELECT is(
    ARRAY(
        SELECT p.signature || ' -> ' || c
        FROM tests.memory_functions AS p, unnest(p.proconfig) AS c
        WHERE c LIKE 'search_path=%'
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
