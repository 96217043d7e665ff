-- A run's results by run alone, in id order: every entry of an upload goes at the end of its
-- run's range (run ids are time-ordered), where `(run_id, outcome)` put each at one of four
-- places. A run's failures are found through `ix_results_attention`, whose condition the
-- queries repeat.
DROP INDEX IF EXISTS ix_results_run;
CREATE INDEX ix_results_run ON results (run_id);
