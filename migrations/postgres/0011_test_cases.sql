-- The manual test repository: a tree of suites per project, cases with ordered steps, custom
-- fields, every edit kept as a version, small attachments sealed with the org's key, and links
-- from cases to the automated tests that cover them.

CREATE TABLE case_suites (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    parent_id  UUID REFERENCES case_suites (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
-- One name per parent: import and paths find suites by name.
CREATE UNIQUE INDEX uq_case_suites_name ON case_suites (project_id, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), name);
CREATE INDEX ix_case_suites_org ON case_suites (org_id);

CREATE TABLE cases (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id    UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- 8 hex digits, unique in the project: what `@T1a2b3c4d` in an automated test names.
    key           TEXT NOT NULL,
    suite_id      UUID REFERENCES case_suites (id) ON DELETE SET NULL,
    position      BIGINT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    preconditions TEXT NOT NULL DEFAULT '',
    -- JSON array of {"action", "expected"}.
    steps         TEXT NOT NULL DEFAULT '[]',
    -- Space-separated, lowercase, each surrounded by spaces for exact LIKE matches (' smoke ').
    tags          TEXT NOT NULL DEFAULT '',
    priority      TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'critical')),
    kind          TEXT NOT NULL CHECK (kind IN ('manual', 'automated', 'both')),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'ready', 'deprecated')),
    owner_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    -- JSON object: custom field id -> value.
    fields        TEXT NOT NULL DEFAULT '{}',
    version       BIGINT NOT NULL,
    -- Where an imported automated test lives (`code_ref`: file, suite path and name, what
    -- `import-tests` finds it again by), and its source sealed with the org's key.
    code_ref      TEXT,
    file          TEXT,
    line          BIGINT,
    source_sealed BYTEA,
    -- Set when `import-tests` no longer finds the test in the code it scanned.
    removed_at    BIGINT,
    -- Lowercase title, text, steps and tags: what search matches.
    search_text   TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT uq_cases_key UNIQUE (project_id, key)
);
CREATE INDEX ix_cases_suite ON cases (project_id, suite_id, position);
CREATE UNIQUE INDEX uq_cases_code ON cases (project_id, code_ref) WHERE code_ref IS NOT NULL;
CREATE INDEX ix_cases_org ON cases (org_id);

-- Every version of a case, the first included; a restore writes a new one.
CREATE TABLE case_versions (
    case_id    UUID NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    org_id     UUID NOT NULL,
    -- JSON of the editable content at this version.
    snapshot   TEXT NOT NULL,
    summary    TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, version)
);
CREATE INDEX ix_case_versions_org ON case_versions (org_id);

CREATE TABLE custom_fields (
    id         UUID PRIMARY KEY,
    org_id     UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('text', 'number', 'select', 'multiselect', 'date', 'user', 'url')),
    -- JSON array of the choices (select and multiselect).
    options    TEXT NOT NULL DEFAULT '[]',
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT uq_custom_fields_name UNIQUE (project_id, name)
);
CREATE INDEX ix_custom_fields_org ON custom_fields (org_id);

-- Files on a case or one of its steps, sealed with the org's key.
CREATE TABLE case_attachments (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    case_id      UUID NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    step         BIGINT,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sealed       BYTEA NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX ix_case_attachments_case ON case_attachments (case_id);
CREATE INDEX ix_case_attachments_org ON case_attachments (org_id);

-- An automated test linked to a case explicitly (made from it, or matched by import-tests).
-- A test whose name carries `@T<key>` is linked without a row here.
CREATE TABLE case_links (
    case_id    UUID NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    test_id    BIGINT NOT NULL,
    org_id     UUID NOT NULL,
    project_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, test_id)
);
CREATE UNIQUE INDEX uq_case_links_test ON case_links (test_id);
CREATE INDEX ix_case_links_org ON case_links (org_id);

ALTER TABLE case_suites ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_suites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON case_suites
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON case_suites TO testvault_app;
ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cases
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON cases TO testvault_app;
ALTER TABLE case_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON case_versions
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON case_versions TO testvault_app;
ALTER TABLE custom_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE custom_fields FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON custom_fields
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON custom_fields TO testvault_app;
ALTER TABLE case_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_attachments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON case_attachments
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON case_attachments TO testvault_app;
ALTER TABLE case_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON case_links
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON case_links TO testvault_app;
