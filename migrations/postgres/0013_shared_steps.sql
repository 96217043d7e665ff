-- Reusable steps: a named sequence of steps (log in as an admin, reset the cart) that cases
-- reference instead of copying; editing it changes every case that uses it.
CREATE TABLE shared_steps (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    -- JSON array of {"action", "expected"}.
    steps      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT uq_shared_steps_title UNIQUE (project_id, title)
);
CREATE INDEX ix_shared_steps_org ON shared_steps (org_id);
ALTER TABLE shared_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON shared_steps
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON shared_steps TO testvault_app;
