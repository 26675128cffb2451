-- Every table of schema memory has row-level security enabled (house style 11).
-- It bites as soon as a table is added without ALTER TABLE ... ENABLE ROW LEVEL SECURITY.
BEGIN;
SELECT plan(2);

SELECT is(
    ARRAY(
        SELECT c.relname::text
        FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace
          AND c.relkind IN ('r', 'p')
          AND NOT c.relrowsecurity
        ORDER BY 1
    ),
    '{}'::text[],
    'no table in schema memory lacks row-level security'
);

SELECT is(
    ARRAY(
        SELECT c.relname::text
        FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace
          AND c.relkind IN ('r', 'p')
          AND c.relrowsecurity
          AND NOT EXISTS (SELECT 1 FROM pg_policy AS p WHERE p.polrelid = c.oid)
        ORDER BY 1
    ),
    '{}'::text[],
    'every table with row-level security has at least one policy'
);

SELECT * FROM finish();
ROLLBACK;
