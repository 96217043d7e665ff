-- A failure cluster (an error signature in a project) can carry a triage label; new failures
-- with the same signature show it too.
CREATE TABLE cluster_labels (
    org_id     UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    signature  BIGINT NOT NULL,
    label      TEXT NOT NULL CHECK (label IN ('product_bug', 'test_bug', 'environment', 'infrastructure', 'investigating', 'wont_fix')),
    note       TEXT NOT NULL DEFAULT '',
    set_by     TEXT NOT NULL,
    set_at     BIGINT NOT NULL,
    PRIMARY KEY (project_id, signature)
);
CREATE INDEX ix_cluster_labels_org ON cluster_labels (org_id);
ALTER TABLE cluster_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE cluster_labels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cluster_labels
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON cluster_labels TO testvault_app;
