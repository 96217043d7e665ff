-- What other tools' reporters send that is not a result yet: ReportPortal's item tree while a
-- launch runs (a test item becomes a result when it finishes; suites only name where tests
-- live), its logs until their item finishes, and files attached to results (sealed in the
-- database until object storage arrives).

CREATE TABLE reporter_items (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id        BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id     BLOB REFERENCES reporter_items (id) ON DELETE CASCADE,
    -- SUITE, TEST, STEP, …: as the agent says.
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- JSON arrays: the names of the enclosing items (outermost first), the test's parameters
    -- as [name, value] pairs, its attributes as [key, value] pairs.
    suite_path    TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    code_ref      TEXT,
    has_stats     INTEGER NOT NULL,
    retry         INTEGER NOT NULL,
    -- The identity of the test this item is, when it is one (the result's identity hash).
    identity_hash BIGINT NOT NULL,
    -- Milliseconds since the epoch, as the agent sends them.
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    status        TEXT,
    -- The agent's description at finish (jest puts the failure there), sealed.
    description   BLOB
);
CREATE INDEX ix_reporter_items_run ON reporter_items (run_id, identity_hash);
CREATE INDEX ix_reporter_items_parent ON reporter_items (parent_id);
CREATE INDEX ix_reporter_items_org ON reporter_items (org_id);

CREATE TABLE reporter_logs (
    id        BLOB PRIMARY KEY,
    org_id    BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id    BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    item_id   BLOB REFERENCES reporter_items (id) ON DELETE CASCADE,
    level     TEXT NOT NULL,
    logged_at BIGINT NOT NULL,
    message   BLOB NOT NULL
);
CREATE INDEX ix_reporter_logs_item ON reporter_logs (item_id, logged_at);
CREATE INDEX ix_reporter_logs_org ON reporter_logs (org_id);

-- A file attached to a test's result in a run (found by the test's identity hash).
CREATE TABLE result_files (
    id            BLOB PRIMARY KEY,
    org_id        BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    run_id        BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    identity_hash BIGINT NOT NULL,
    name          TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content       BLOB NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX ix_result_files_run ON result_files (run_id, identity_hash);
CREATE INDEX ix_result_files_org ON result_files (org_id);
