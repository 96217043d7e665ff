-- Nothing reads tests by org alone (every query names the project, and orgs are never deleted
-- row by row), yet every new test paid for an entry in this index.
DROP INDEX IF EXISTS ix_tests_org;
