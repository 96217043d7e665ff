-- Custom roles (named permission sets per org), members holding one, and per-project grants.

CREATE TABLE org_roles (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT uq_org_roles_name UNIQUE (org_id, name_key)
);

-- When set, the custom role decides and `role_level` is ignored.
ALTER TABLE members ADD COLUMN custom_role_id BLOB REFERENCES org_roles (id);
CREATE INDEX ix_members_custom_role ON members (custom_role_id);

CREATE TABLE project_grants (
    project_id BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    org_id     BLOB NOT NULL,
    user_id    BLOB NOT NULL,
    role_level INTEGER NOT NULL CHECK (role_level BETWEEN 1 AND 5),
    granted_by BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES members (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX ix_project_grants_member ON project_grants (org_id, user_id);
