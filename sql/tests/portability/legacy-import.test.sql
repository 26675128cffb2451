-- Legacy import (sql/functions/130-133): who may run it, every kind of bad
-- argument refused before anything is written, and the mapping of old values onto the
-- new model. The end-to-end import of a real old database (4,704 episodes through
-- postgres_fdw) is python/tests/test_legacy_import.py: a foreign server sees only
-- committed data, which a test rolled back cannot give it.
BEGIN;
SELECT plan(44);

SELECT tests.make_agent('Heir');

-- ---------------------------------------------------------------- privileges
SELECT ok(
    has_function_privilege('memory_admin', 'memory.import_legacy(text, text, integer, text, text, boolean, jsonb)', 'EXECUTE')
    AND has_function_privilege('memory_admin', 'memory.legacy_import_report(text, text)', 'EXECUTE'),
    'operators may run the legacy import and its report'
);
SELECT is(
    ARRAY(
        SELECT r || ' ' || f
        FROM unnest(ARRAY['memory_agent', 'memory_worker', 'memory_reader']) AS r,
             unnest(ARRAY['memory.import_legacy(text, text, integer, text, text, boolean, jsonb)',
                          'memory.legacy_import_report(text, text)']) AS f
        WHERE has_function_privilege(r, f, 'EXECUTE')
        ORDER BY 1
    ),
    '{}'::text[],
    'agents, the daemon and readers may not run the legacy import or its report'
);
SELECT ok(
    (SELECT bool_and(p.prosecdef AND p.proowner = 'memory_owner'::regrole)
     FROM pg_proc AS p
     WHERE p.oid IN ('memory.import_legacy(text, text, integer, text, text, boolean, jsonb)'::regprocedure,
                     'memory.legacy_import_report(text, text)'::regprocedure)),
    'both entry points are SECURITY DEFINER functions of memory_owner'
);
SELECT ok(
    NOT has_table_privilege('memory_agent', 'memory.legacy_imports', 'SELECT')
    AND NOT has_table_privilege('memory_agent', 'memory.agent_imports', 'SELECT')
    AND has_table_privilege('memory_admin', 'memory.legacy_imports', 'SELECT'),
    'import bookkeeping is for operators only'
);
SELECT ok(
    NOT has_schema_privilege('memory_agent', 'memory_legacy', 'USAGE')
    AND NOT has_schema_privilege('memory_admin', 'memory_legacy', 'USAGE')
    AND NOT has_schema_privilege('public', 'memory_legacy', 'USAGE'),
    'nobody but memory_owner reaches the foreign tables of old databases'
);
SELECT ok(
    (SELECT relrowsecurity FROM pg_class WHERE oid = 'memory.legacy_imports'::regclass)
    AND (SELECT relrowsecurity FROM pg_class WHERE oid = 'memory.agent_imports'::regclass),
    'the new tables have row-level security'
);
SELECT has_extension('postgres_fdw', 'postgres_fdw (contrib) is installed');

-- ---------------------------------------------------------------- bad arguments
SELECT throws_ok(
    $$SELECT memory.import_legacy('Old Brain!', 'Heir')$$,
    '22023', 'invalid server name',
    'a server name that is not a lower-case identifier is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy(NULL, 'Heir')$$,
    '22023', 'invalid server name',
    'a NULL server is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy('old_brain', 'Heir', 0)$$,
    '22023', 'batch_size must be between 1 and 10000',
    'a batch of 0 rows is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy('old_brain', 'Heir', 20000)$$,
    '22023', 'batch_size must be between 1 and 10000',
    'a batch of 20,000 rows is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy('old_brain', 'Heir', 500, 'public; drop table x')$$,
    '22023', 'invalid schema name',
    'a remote schema that is not an identifier is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy('old_brain', 'Nobody')$$,
    'P0002', 'agent Nobody does not exist',
    'an unknown agent is refused'
);
SELECT throws_ok(
    $$SELECT memory.import_legacy('pgtap_no_server', 'Heir')$$,
    '42704', 'foreign server pgtap_no_server does not exist',
    'an unknown foreign server is refused'
);

CREATE FOREIGN DATA WRAPPER pgtap_dummy_fdw;
CREATE SERVER pgtap_dummy FOREIGN DATA WRAPPER pgtap_dummy_fdw;
SELECT throws_ok(
    $$SELECT memory.import_legacy('pgtap_dummy', 'Heir')$$,
    '42809', 'foreign server pgtap_dummy does not use postgres_fdw',
    'a foreign server of another wrapper is refused'
);
CREATE SERVER pgtap_nomap FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
SELECT throws_ok(
    $$SELECT memory.import_legacy('pgtap_nomap', 'Heir')$$,
    '42501', 'memory_owner cannot use foreign server pgtap_nomap',
    'a server memory_owner has no usage or user mapping for is refused'
);
SELECT is(
    (SELECT count(*) FROM memory.legacy_imports),
    (SELECT count(*) FROM memory.legacy_imports WHERE server_name NOT IN ('old_brain', 'pgtap_no_server', 'pgtap_dummy', 'pgtap_nomap')),
    'refused imports leave no progress row'
);
SELECT throws_ok(
    $$SELECT * FROM memory.legacy_import_report('pgtap_nomap', 'Heir')$$,
    'P0002', 'legacy server pgtap_nomap has not been imported into agent Heir',
    'a report of an import that never ran is refused'
);
SELECT throws_ok(
    $$SELECT * FROM memory.legacy_import_report('Bad-Name', 'Heir')$$,
    '22023', 'invalid server name',
    'the report checks the server name too'
);

-- ---------------------------------------------------------------- mapping helpers
SELECT is(memory._legacy_unit(0.75, 0.5), 0.75::real, 'an old score in [0, 1] is kept');
SELECT is(memory._legacy_unit(NULL, 0.5), 0.5::real, 'a NULL old score gets the default');
SELECT is(memory._legacy_unit(1.7, 0.5), 1::real, 'an old score above 1 is clamped');
SELECT is(memory._legacy_unit('NaN', 0.5), 0.5::real, 'NaN gets the default');
SELECT is(memory._legacy_tags(NULL), '{}'::text[], 'NULL tags become {}');
SELECT is(memory._legacy_tags(ARRAY['a', NULL, '', 'b']), ARRAY['a', 'b'], 'NULL and empty tags are dropped, order kept');
SELECT is(
    memory._legacy_episode_metadata(NULL, ARRAY['a', NULL]),
    '{"legacy_tags": ["a", null]}'::jsonb,
    'metadata keeps the original tags when some were dropped'
);
SELECT is(memory._legacy_episode_metadata('{"k": 1}', ARRAY['a']), '{"k": 1}'::jsonb, 'valid metadata and tags pass unchanged');
SELECT is(memory._legacy_object('[1, 2]'), '{"legacy_value": [1, 2]}'::jsonb, 'a non-object is wrapped, not lost');
SELECT ok(NOT memory._legacy_importable('   ', 500000), 'a blank text cannot be stored (the report lists it)');
SELECT ok(memory._legacy_importable(repeat('x', 9000), 500000), 'a long text is stored whole');
SELECT is(memory._legacy_label('persona'), 'persona', 'a valid label is kept');
SELECT is(
    memory._legacy_label('Current Mission'),
    'current_mission_' || left(md5('Current Mission'), 6),
    'an invalid label is made valid and keeps a trace of the original'
);
SELECT ok(
    memory._legacy_label('Persona') <> memory._legacy_label('persona'),
    'two old labels never meet on one new label'
);
SELECT is(memory._legacy_kind('Manual Save'), 'manual_save', 'an old checkpoint type becomes a valid kind');
SELECT is(
    memory._legacy_checkpoint_state('{"a": 1}', '{"m": 2}', 'Manual Save', repeat('A', 64)),
    ('{"a": 1, "legacy_metadata": {"m": 2}, "legacy_checkpoint_type": "Manual Save", "legacy_identity_hash": "'
     || repeat('A', 64) || '"}')::jsonb,
    'a checkpoint state keeps the old metadata, type and hash that could not stay as they were'
);
SELECT is(memory._legacy_identity_hash(repeat('A', 64)), repeat('a', 64), 'an upper-case old hash is lower-cased');
SELECT is(memory._legacy_context_type(NULL), 'legacy', 'a NULL context type becomes legacy');
SELECT is(memory._legacy_context_type('focus area!'), 'focus_area_', 'an invalid context type is made valid');
SELECT is(memory._legacy_priority('URGENT'), 'normal', 'an unknown priority becomes normal');
SELECT is(
    memory._legacy_expires_at(NULL, '2025-01-01 00:00+00', 3600),
    '2025-01-01 01:00+00'::timestamptz,
    'an old item without expires_at expires ttl_seconds after it was created'
);
SELECT is(
    ARRAY(SELECT r.concept || '/' || r.relation || '/' || r.strength
          FROM memory._legacy_relationships('{"related_concepts": ["Redis", "HNSW"], "strength": 0.5}') AS r),
    ARRAY['Redis/related_to/0.5', 'HNSW/related_to/0.5'],
    'the related_concepts format gives one related_to entry per name'
);
SELECT is(
    ARRAY(SELECT r.concept || '/' || r.relation || '/' || r.strength
          FROM memory._legacy_relationships('[{"concept": "Redis", "relation": "depends_on", "strength": 2},
                                             {"concept": "HNSW", "relation": "Related To"}, {"x": 1}]') AS r),
    ARRAY['Redis/depends_on/1', 'HNSW/related_to/1'],
    'the list format keeps valid relations, clamps strength and skips entries without a concept'
);
SELECT is(
    memory._legacy_project_name('   ', '11111111-1111-4111-8111-111111111111'),
    'legacy project 11111111-1111-4111-8111-111111111111',
    'a blank project name gets a name from its id'
);
SELECT is(
    memory._legacy_fact_statement('Redis', NULL), 'Redis',
    'a fact without definition states its concept (and says so in metadata)'
);

SELECT * FROM finish();
ROLLBACK;
