-- Reusable steps: a named sequence of steps (log in as an admin, reset the cart) that cases
-- reference instead of copying; editing it changes every case that uses it.
CREATE TABLE shared_steps (
    id         BLOB PRIMARY KEY,
    org_id     BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    -- JSON array of {"action", "expected"}.
    steps      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT uq_shared_steps_title UNIQUE (project_id, title)
);
CREATE INDEX ix_shared_steps_org ON shared_steps (org_id);
