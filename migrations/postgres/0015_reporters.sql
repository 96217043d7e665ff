-- What other tools' reporters send that is not a result yet: ReportPortal's item tree while a
-- launch runs (a test item becomes a result when it finishes; suites only name where tests
-- live), its logs until their item finishes, and files attached to results (sealed in the
-- database until object storage arrives).

CREATE TABLE reporter_items (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id        UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id     UUID REFERENCES reporter_items (id) ON DELETE CASCADE,
    -- SUITE, TEST, STEP, …: as the agent says.
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- JSON arrays: the names of the enclosing items (outermost first), the test's parameters
    -- as [name, value] pairs, its attributes as [key, value] pairs.
    suite_path    TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    code_ref      TEXT,
    has_stats     BOOLEAN NOT NULL,
    retry         BOOLEAN NOT NULL,
    -- The identity of the test this item is, when it is one (the result's identity hash).
    identity_hash BIGINT NOT NULL,
    -- Milliseconds since the epoch, as the agent sends them.
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    status        TEXT,
    -- The agent's description at finish (jest puts the failure there), sealed.
    description   BYTEA
);
CREATE INDEX ix_reporter_items_run ON reporter_items (run_id, identity_hash);
CREATE INDEX ix_reporter_items_parent ON reporter_items (parent_id);
CREATE INDEX ix_reporter_items_org ON reporter_items (org_id);

CREATE TABLE reporter_logs (
    id        UUID PRIMARY KEY,
    org_id    UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id    UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_id   UUID REFERENCES reporter_items (id) ON DELETE CASCADE,
    level     TEXT NOT NULL,
    logged_at BIGINT NOT NULL,
    message   BYTEA NOT NULL
);
CREATE INDEX ix_reporter_logs_item ON reporter_logs (item_id, logged_at);
CREATE INDEX ix_reporter_logs_org ON reporter_logs (org_id);

-- A file attached to a test's result in a run (found by the test's identity hash).
CREATE TABLE result_files (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id        UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    identity_hash BIGINT NOT NULL,
    name          TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content       BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX ix_result_files_run ON result_files (run_id, identity_hash);
CREATE INDEX ix_result_files_org ON result_files (org_id);

ALTER TABLE reporter_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporter_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporter_items
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON reporter_items TO testvault_app;

ALTER TABLE reporter_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporter_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporter_logs
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON reporter_logs TO testvault_app;

ALTER TABLE result_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE result_files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON result_files
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON result_files TO testvault_app;
