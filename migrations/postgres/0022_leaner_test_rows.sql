-- Paired with SQLite's 0022, which drops an index PostgreSQL never had (its `tests` keeps no
-- index on org_id alone either).
DROP INDEX IF EXISTS ix_tests_org;
