-- The pg_cron jobs of migration 005 and the privileges of the functions they run.
BEGIN;
SELECT plan(8);

SELECT is(
    (SELECT concat_ws(' | ', schedule, command, username, database = current_database(), active)
     FROM cron.job WHERE jobname = 'memory-auto-checkpoint'),
    '*/10 * * * * | SELECT memory.auto_checkpoint() | memory_operator | t | t',
    'memory-auto-checkpoint runs auto_checkpoint every 10 minutes as memory_operator'
);
SELECT is(
    (SELECT concat_ws(' | ', schedule, command, username, database = current_database(), active)
     FROM cron.job WHERE jobname = 'memory-instance-liveness'),
    '* * * * * | SELECT memory.mark_stale_instances_offline() | memory_operator | t | t',
    'memory-instance-liveness runs mark_stale_instances_offline every minute as memory_operator'
);
SELECT ok(
    has_function_privilege('memory_operator', 'memory.auto_checkpoint()', 'EXECUTE'),
    'the job role can run auto_checkpoint'
);
SELECT ok(
    has_function_privilege('memory_operator', 'memory.mark_stale_instances_offline()', 'EXECUTE'),
    'the job role can run mark_stale_instances_offline'
);
SELECT ok(
    NOT has_function_privilege('memory_agent', 'memory.auto_checkpoint()', 'EXECUTE'),
    'agents cannot run auto_checkpoint'
);
SELECT ok(
    NOT has_function_privilege('memory_agent', 'memory._take_checkpoint(uuid, text, jsonb, real)', 'EXECUTE'),
    'agents cannot write a checkpoint for an arbitrary agent id'
);
SELECT is(memory.instance_liveness_threshold(), interval '2 minutes', 'the liveness threshold is 2 minutes');
SELECT ok(
    NOT has_table_privilege('memory_agent', 'memory.block_history', 'INSERT'),
    'agents cannot insert into block_history (the history trigger is SECURITY DEFINER)'
);

SELECT * FROM finish();
ROLLBACK;
