-- A failure cluster (an error signature in a project) can carry a triage label; new failures
-- with the same signature show it too.
CREATE TABLE cluster_labels (
    org_id     BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    signature  INTEGER NOT NULL,
    label      TEXT NOT NULL CHECK (label IN ('product_bug', 'test_bug', 'environment', 'infrastructure', 'investigating', 'wont_fix')),
    note       TEXT NOT NULL DEFAULT '',
    set_by     TEXT NOT NULL,
    set_at     INTEGER NOT NULL,
    PRIMARY KEY (project_id, signature)
);
CREATE INDEX ix_cluster_labels_org ON cluster_labels (org_id);
