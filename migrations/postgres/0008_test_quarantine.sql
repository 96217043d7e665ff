-- A team can quarantine a test (a known flake being worked on): it stays visible everywhere,
-- flagged, and its failures do not fail the comparison's quality gate.
ALTER TABLE tests ADD COLUMN quarantined_at BIGINT;
ALTER TABLE tests ADD COLUMN quarantined_by TEXT;
ALTER TABLE tests ADD COLUMN quarantine_reason TEXT;
