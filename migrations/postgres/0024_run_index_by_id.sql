-- SQLite's 0024 rebuilds its run index by run alone; PostgreSQL's results key, `(run_id, id)`
-- since 0023, is that index already.
SELECT 1;
