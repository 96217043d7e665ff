-- API tokens: personal (act as their user) or project (CI, bound to one project).
-- Only the prefix is stored in clear; the secret as its SHA-256.

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('personal', 'project')),
    user_id      UUID REFERENCES users (id) ON DELETE CASCADE,
    project_id   UUID REFERENCES projects (id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL,
    created_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at   BIGINT,
    CONSTRAINT uq_api_tokens_prefix UNIQUE (prefix),
    CONSTRAINT ck_api_tokens_kind CHECK ((kind = 'personal' AND user_id IS NOT NULL AND project_id IS NULL)
                                      OR (kind = 'project' AND project_id IS NOT NULL))
);
CREATE INDEX ix_api_tokens_org ON api_tokens (org_id);
