-- Every function of schema memory carries a COMMENT (house style 7): what it does, its
-- arguments and the SQLSTATEs it raises. That comment is what `\df+` shows an operator.
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
          AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
        ORDER BY 1
    ),
    '{}'::text[],
    'no function in schema memory lacks a comment'
);

-- A comment of a few words says nothing an operator can act on.
SELECT is(
    ARRAY(
        SELECT p.oid::regprocedure::text
        FROM pg_proc AS p
        WHERE p.pronamespace = 'memory'::regnamespace
          AND length(obj_description(p.oid, 'pg_proc')) < 40
        ORDER BY 1
    ),
    '{}'::text[],
    'every function comment in schema memory is a sentence of at least 40 characters'
);

SELECT * FROM finish();
ROLLBACK;
