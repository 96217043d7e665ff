-- Audit retention. (Row-level security and the restricted application role are PostgreSQL's;
-- an SQLite file has one user, the embedded server.)

ALTER TABLE orgs ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365
    CHECK (audit_retention_days BETWEEN 30 AND 3650);

-- The last purged event of an org: verification starts from it instead of the genesis hash.
CREATE TABLE audit_anchors (
    org_id    BLOB PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    purged_at INTEGER NOT NULL
);

-- Deletes only of events past their org's retention.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    WHEN OLD.at >= CAST(strftime('%s', 'now') AS INTEGER)
        - COALESCE((SELECT audit_retention_days FROM orgs WHERE id = OLD.org_id), 36500) * 86400
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
