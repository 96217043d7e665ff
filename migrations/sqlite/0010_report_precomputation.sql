-- Per-run, per-suite counts, written in the transaction that stores the results: the run page's
-- suite groups and the heat map read a few rows per run here instead of every result.
CREATE TABLE run_suites (
    run_id      BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    org_id      BLOB NOT NULL,
    suite       TEXT NOT NULL,
    total       INTEGER NOT NULL,
    failing     INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    flaky       INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, suite)
);

INSERT INTO run_suites (run_id, org_id, suite, total, failing, skipped, flaky, duration_ms)
SELECT r.run_id, r.org_id, t.suite, COUNT(*),
       SUM(CASE WHEN r.outcome IN (1, 2) THEN 1 ELSE 0 END),
       SUM(CASE WHEN r.outcome = 3 THEN 1 ELSE 0 END),
       SUM(CASE WHEN r.flaky THEN 1 ELSE 0 END),
       COALESCE(SUM(r.duration_ms), 0)
FROM results r JOIN tests t ON t.id = r.test_id
GROUP BY r.run_id, r.org_id, t.suite;

-- Error-text search inside one run reads the blind index by run (and deleting a run's terms
-- no longer scans the table).
CREATE INDEX ix_result_terms_run ON result_terms (run_id, term);

-- A lower bound of the ids of a run's results, set when they are stored: a test's results in
-- a window of recent runs are then one range of the (test_id, id) index, not its whole history.
ALTER TABLE runs ADD COLUMN results_from INTEGER;
UPDATE runs SET results_from = (SELECT MIN(r.id) FROM results r WHERE r.run_id = runs.id);

-- The results that need attention — failures and passes on a retry, a few in a hundred — by
-- run, with what the reports read of them: flaky detection, failure clusters and the heat map
-- start from these instead of every result of the window. Queries repeat this WHERE clause word
-- for word, which is what lets a database use a partial index.
CREATE INDEX ix_results_attention ON results (run_id, test_id, outcome, flaky) WHERE outcome IN (1, 2) OR flaky;

-- A test's recent results are read for flaky detection and history: with the run, outcome and
-- flaky flag in the index, that is one contiguous index range per test, not a table page per
-- result.
DROP INDEX ix_results_test;
CREATE INDEX ix_results_test ON results (test_id, id, run_id, outcome, flaky);
