-- No agent can lock a shared table against the others: agents hold no table-level
-- INSERT, UPDATE, DELETE or TRUNCATE privilege, which every lock mode stronger than
-- ACCESS SHARE requires.
BEGIN;
SELECT plan(3);

SELECT tests.make_agent('Alpha');
SELECT tests.act_as('Alpha');

SELECT is(
    ARRAY(
        SELECT c.relname::text
        FROM pg_class AS c
        WHERE c.relnamespace = 'memory'::regnamespace AND c.relkind IN ('r', 'p')
          AND (has_table_privilege('memory_agent', c.oid, 'INSERT')
               OR has_table_privilege('memory_agent', c.oid, 'UPDATE')
               OR has_table_privilege('memory_agent', c.oid, 'DELETE')
               OR has_table_privilege('memory_agent', c.oid, 'TRUNCATE'))
        ORDER BY 1
    ),
    '{}'::text[],
    'memory_agent has no table-level INSERT, UPDATE, DELETE or TRUNCATE on any table of memory'
);
SELECT throws_ok($$ LOCK TABLE memory.episodes IN ACCESS EXCLUSIVE MODE $$, '42501', NULL,
    'an agent cannot take an exclusive lock on the episodes');
SELECT throws_ok($$ LOCK TABLE memory.working_memory IN SHARE ROW EXCLUSIVE MODE $$, '42501', NULL,
    'an agent cannot block writers of working memory');

SELECT * FROM finish();
ROLLBACK;
