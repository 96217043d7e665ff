-- A failure's search terms were indexed twice: by org (for a search across the project's runs)
-- and by run. A search now probes the run index once per run of the project, and every stored
-- failure word writes one index entry instead of two. (PostgreSQL's 0023 also rebuilds its
-- results key and its row-level security policies; SQLite has neither: a result's id is its
-- rowid, and SQLite has no row-level security.)
DROP INDEX IF EXISTS ix_result_terms;
