-- Foundation: orgs and their keys, people, members, projects, invitations, sessions, setup links,
-- sign-in throttling. Times are Unix seconds; ids are UUIDs (16-byte BLOBs on SQLite).

CREATE TABLE orgs (
    id                    BLOB PRIMARY KEY,
    name                  TEXT NOT NULL,
    name_key              TEXT NOT NULL,
    idle_timeout_secs     INTEGER NOT NULL,
    absolute_timeout_secs INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    CONSTRAINT uq_orgs_name_key UNIQUE (name_key)
);

CREATE TABLE org_keys (
    org_id        BLOB PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    wrapped_key   BLOB NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TABLE members (
    org_id     BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_level INTEGER NOT NULL CHECK (role_level BETWEEN 1 AND 5),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX ix_members_user ON members (user_id);

CREATE TABLE projects (
    id                 BLOB PRIMARY KEY,
    org_id             BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    slug               TEXT NOT NULL,
    name               TEXT NOT NULL,
    description_sealed BLOB,
    created_by         BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at         INTEGER NOT NULL,
    CONSTRAINT uq_projects_org_slug UNIQUE (org_id, slug)
);

CREATE TABLE invitations (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role_level  INTEGER NOT NULL CHECK (role_level BETWEEN 1 AND 5),
    token_hash  BLOB NOT NULL,
    invited_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked_at  INTEGER,
    CONSTRAINT uq_invitations_token UNIQUE (token_hash)
);
CREATE INDEX ix_invitations_org ON invitations (org_id);

CREATE TABLE sessions (
    id_hash      BLOB PRIMARY KEY,
    public_id    BLOB NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    CONSTRAINT uq_sessions_public_id UNIQUE (public_id)
);
CREATE INDEX ix_sessions_user ON sessions (user_id);
CREATE INDEX ix_sessions_org ON sessions (org_id);

CREATE TABLE setup_tokens (
    token_hash BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE auth_throttle (
    key_hash     BLOB PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);
