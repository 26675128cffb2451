-- Schema-wide: every row-level security policy of schema memory applies to named
-- roles (never PUBLIC), agents' policies are scoped to the current agent, and nothing
-- of schema memory (tables, views, sequences, columns, the schema) is granted to PUBLIC.
-- Bites as soon as a new table, view or policy breaks one of these rules.
BEGIN;
SELECT plan(9);

SELECT cmp_ok(
    (SELECT count(*) FROM pg_policy AS p INNER JOIN pg_class AS c ON c.oid = p.polrelid
     WHERE c.relnamespace = 'memory'::regnamespace),
    '>', 0::bigint,
    'schema memory has policies to check'
);

SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || p.polname
        FROM pg_policy AS p INNER JOIN pg_class AS c ON c.oid = p.polrelid
        WHERE c.relnamespace = 'memory'::regnamespace
          AND (0::oid = ANY(p.polroles) OR cardinality(p.polroles) = 0)
        ORDER BY 1
    ),
    '{}'::text[],
    'no policy of schema memory applies to PUBLIC'
);

SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || p.polname || ' -> ' || coalesce(r.rolname, role_oid::text)
        FROM pg_policy AS p
            INNER JOIN pg_class AS c ON c.oid = p.polrelid
            CROSS JOIN LATERAL unnest(p.polroles) AS role_oid
            LEFT JOIN pg_roles AS r ON r.oid = role_oid
        WHERE c.relnamespace = 'memory'::regnamespace
          AND coalesce(r.rolname, '') NOT IN ('memory_agent', 'memory_worker', 'memory_reader', 'memory_admin',
                                              'memory_share_grantee')
        ORDER BY 1
    ),
    '{}'::text[],
    'every policy of schema memory names only the project''s group roles (memory_agent, memory_worker, memory_reader, memory_admin, memory_share_grantee)'
);

SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || p.polname
        FROM pg_policy AS p INNER JOIN pg_class AS c ON c.oid = p.polrelid
        WHERE c.relnamespace = 'memory'::regnamespace
          AND 'memory_agent'::regrole = ANY(p.polroles)
          AND EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = 'agent_id' AND NOT a.attisdropped)
          AND NOT (
              (p.polqual IS NOT NULL OR p.polwithcheck IS NOT NULL)
              AND (p.polqual IS NULL OR pg_get_expr(p.polqual, p.polrelid) LIKE '%agent_id = ( SELECT memory.current_agent()%')
              AND (p.polwithcheck IS NULL OR pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%agent_id = ( SELECT memory.current_agent()%')
          )
        ORDER BY 1
    ),
    '{}'::text[],
    'every policy for agents on a table keyed on agent_id compares agent_id with memory.current_agent() in USING and WITH CHECK'
);

-- Sharing (migration 028): the only agents' policies that admit another agent's rows
-- are the read policies of the grants, on episodes and their chunks, for SELECT only,
-- and they apply to the grantees only (memory_share_grantee: agents holding a grant),
-- so that an agent without a grant is planned exactly as before sharing existed.
SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || p.polname || ' (' || p.polcmd::text || ') -> '
               || array_to_string(ARRAY(SELECT r::regrole::text FROM unnest(p.polroles) AS r ORDER BY 1), ', ')
        FROM pg_policy AS p INNER JOIN pg_class AS c ON c.oid = p.polrelid
        WHERE c.relnamespace = 'memory'::regnamespace
          AND c.relname <> 'shares'
          AND coalesce(pg_get_expr(p.polqual, p.polrelid), '') LIKE '%memory.shares%'
        ORDER BY 1
    ),
    ARRAY['chunks: agents read what other agents share with them (r) -> memory_share_grantee',
          'episodes: agents read what other agents share with them (r) -> memory_share_grantee'],
    'only SELECT policies of episodes and chunks let an agent read rows shared with it, for the grantees only'
);

SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || a.privilege_type
        FROM pg_class AS c
            CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) AS a
        WHERE c.relnamespace = 'memory'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND a.grantee = 0
        ORDER BY 1
    ),
    '{}'::text[],
    'no table, view or sequence of schema memory is granted to PUBLIC'
);

SELECT is(
    ARRAY(
        SELECT c.relname || '.' || att.attname || ': ' || a.privilege_type
        FROM pg_class AS c
            INNER JOIN pg_attribute AS att ON att.attrelid = c.oid AND att.attacl IS NOT NULL
            CROSS JOIN LATERAL aclexplode(att.attacl) AS a
        WHERE c.relnamespace = 'memory'::regnamespace
          AND a.grantee = 0
        ORDER BY 1
    ),
    '{}'::text[],
    'no column of schema memory is granted to PUBLIC'
);

SELECT is(
    ARRAY(
        SELECT c.relname || ': ' || priv
        FROM pg_class AS c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS priv
        WHERE c.relnamespace = 'memory'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND has_table_privilege('public', c.oid, priv)
        ORDER BY 1
    ),
    '{}'::text[],
    'PUBLIC holds no privilege on any table or view of schema memory (by any route)'
);

SELECT ok(
    NOT has_schema_privilege('public', 'memory', 'USAGE') AND NOT has_schema_privilege('public', 'memory', 'CREATE'),
    'PUBLIC can neither use nor create in schema memory'
);

SELECT * FROM finish();
ROLLBACK;
