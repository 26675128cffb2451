-- 006: the pg_cron job that deletes expired working memory (reads already hide it).
SELECT memory.schedule_job('memory-expire-working-memory', '* * * * *', 'SELECT memory.expire_working_memory()');
