-- 017: the pg_cron job of retention (issue 20, item 2): every 10 minutes, at most 50
-- batches of 1,000 episodes in all agents (memory.apply_retention); the next run goes on.
SELECT memory.schedule_job('memory-retention', '*/10 * * * *', 'SELECT memory.apply_retention()');
