-- Legacy layouts (issue 20): the description the import reads (places, columns,
-- synonyms), and an operator's column_map refused when malformed, before anything is
-- written. Each layout end to end (4,704 episodes through postgres_fdw, with the
-- verification report) is python/tests/test_legacy_layouts.py.
BEGIN;
SELECT plan(12);

SELECT tests.make_agent('Heir');

SELECT is(
    ARRAY(SELECT column_name FROM memory._legacy_columns('episodes') WHERE required ORDER BY pos),
    ARRAY['episode_id', 'content'],
    'an old episode needs its id and its content; every other column may be missing'
);
SELECT is(
    (SELECT synonyms FROM memory._legacy_columns('episodes') WHERE column_name = 'episode_id'),
    ARRAY['uuid', 'id'],
    'the id also goes by uuid (orchestrator) and id (memory_system)'
);
SELECT is(
    ARRAY(SELECT schema_of || '.' || remote_table FROM memory._legacy_locations() WHERE suffix = 'episodes' ORDER BY pos),
    ARRAY['remote.zep_episodic_memory', 'core.zep_episodic_memory', 'memory_system.episodes'],
    'the episodes are looked for in the three layouts of the seeds, in order'
);
SELECT is(
    (SELECT count(*) FROM memory._legacy_tables() AS t WHERE NOT EXISTS (
        SELECT 1 FROM memory._legacy_columns(t.suffix) AS c WHERE c.required AND c.pos = 1)),
    0::bigint,
    'every old table''s key is required'
);
SELECT is(memory._legacy_check_map(NULL), '{}'::jsonb, 'no column map is an empty one');
SELECT is(
    memory._legacy_check_map('{"episodes": {"table": "old.notes", "content": "body", "episode_id": "note_id"}}'),
    '{"episodes": {"table": "old.notes", "content": "body", "episode_id": "note_id"}}'::jsonb,
    'a well-formed map is kept as given'
);

SELECT throws_ok($$SELECT memory.import_legacy('nosuch', 'Heir', column_map => '[]')$$, '22023',
                 'column_map must be a JSON object', 'a column map that is not an object: 22023');
SELECT throws_ok($$SELECT memory.import_legacy('nosuch', 'Heir', column_map => '{"notes": {}}')$$, '22023',
                 'column_map has an unknown table or a value that is not an object', 'an unknown table: 22023');
SELECT throws_ok($$SELECT memory.import_legacy('nosuch', 'Heir', column_map => '{"episodes": {"body": "x"}}')$$,
                 '22023', 'column_map names an unknown column or a value that is not a name',
                 'an unknown column: 22023');
SELECT throws_ok($$SELECT memory.import_legacy('nosuch', 'Heir', column_map => '{"episodes": {"content": 1}}')$$,
                 '22023', 'column_map names an unknown column or a value that is not a name',
                 'a column that is not a name: 22023');
SELECT throws_ok($$SELECT memory.import_legacy('nosuch', 'Heir', column_map => '{"episodes": {"table": "notes"}}')$$,
                 '22023', 'column_map names an unknown column or a value that is not a name',
                 'a table without its schema: 22023');
SELECT is((SELECT count(*) FROM memory.legacy_imports WHERE server_name = 'nosuch'), 0::bigint,
          'refused calls start no import');

SELECT * FROM finish();
ROLLBACK;
