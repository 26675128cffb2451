-- Every function of schema memory carries a COMMENT (house style 7): what it does, its
-- arguments and the SQLSTATEs it raises. That comment is what `\df+` shows an operator.
BEGIN;
SELECT plan(3);

SELECT cmp_ok(
    (SELECT count(*) FROM tests.memory_functions),
    '>', 0::bigint,
    'schema memory has functions to check'
);

SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
        ORDER BY 1
    ),
    '{}'::text[],
    'no function in schema memory lacks a comment'
);

-- A comment of a few words says nothing an operator can act on.
SELECT is(
    ARRAY(
        SELECT p.signature FROM tests.memory_functions AS p
        WHERE length(obj_description(p.oid, 'pg_proc')) < 40
        ORDER BY 1
    ),
    '{}'::text[],
    'every function comment in schema memory is a sentence of at least 40 characters'
);

SELECT * FROM finish();
ROLLBACK;
