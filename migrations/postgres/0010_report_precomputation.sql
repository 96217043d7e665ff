-- Per-run, per-suite counts, written in the transaction that stores the results: the run page's
-- suite groups and the heat map read a few rows per run here instead of every result.
CREATE TABLE run_suites (
    run_id      UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    org_id      UUID NOT NULL,
    suite       TEXT NOT NULL,
    total       BIGINT NOT NULL,
    failing     BIGINT NOT NULL,
    skipped     BIGINT NOT NULL,
    flaky       BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (run_id, suite)
);

-- Counts for results stored before this table existed (results has forced row security: read
-- them all, for this transaction only).
SELECT set_config('app.all_orgs', 'on', true);
INSERT INTO run_suites (run_id, org_id, suite, total, failing, skipped, flaky, duration_ms)
SELECT r.run_id, r.org_id, t.suite, COUNT(*),
       COUNT(*) FILTER (WHERE r.outcome IN (1, 2)),
       COUNT(*) FILTER (WHERE r.outcome = 3),
       COUNT(*) FILTER (WHERE r.flaky),
       COALESCE(SUM(r.duration_ms), 0)
FROM results r JOIN tests t ON t.id = r.test_id
GROUP BY r.run_id, r.org_id, t.suite;

ALTER TABLE run_suites ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_suites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON run_suites
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON run_suites TO testvault_app;

-- Error-text search inside one run reads the blind index by run (and deleting a run's terms
-- no longer scans the table).
CREATE INDEX ix_result_terms_run ON result_terms (run_id, term);

-- A lower bound of the ids of a run's results, set when they are stored: a test's results in
-- a window of recent runs are then one range of the (test_id, id) index, not its whole history.
ALTER TABLE runs ADD COLUMN results_from BIGINT;
UPDATE runs SET results_from = (SELECT MIN(r.id) FROM results r WHERE r.run_id = runs.id);

-- The results that need attention — failures and passes on a retry, a few in a hundred — by
-- run, with what the reports read of them: flaky detection, failure clusters and the heat map
-- start from these instead of every result of the window. Queries repeat this WHERE clause word
-- for word, which is what lets a database use a partial index.
CREATE INDEX ix_results_attention ON results (run_id, test_id, outcome, flaky) INCLUDE (org_id) WHERE outcome IN (1, 2) OR flaky;

-- A test's recent results are read for flaky detection and history: with the run, outcome and
-- flaky flag in the index, that is one contiguous index range per test, not a table page per
-- result. PostgreSQL also keeps `org_id` there: row-level security filters on it, and without it
-- every entry would cost a table read.
DROP INDEX ix_results_test;
CREATE INDEX ix_results_test ON results (test_id, id) INCLUDE (run_id, outcome, flaky, org_id);
