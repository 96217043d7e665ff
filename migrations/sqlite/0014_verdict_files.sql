-- Files a tester attaches while executing a manual run (a screenshot of the failure) belong to
-- the case and to that run.
ALTER TABLE case_attachments ADD COLUMN run_id BLOB;
CREATE INDEX ix_case_attachments_run ON case_attachments (run_id) WHERE run_id IS NOT NULL;
