-- Automated test runs and their results. A test's identity (suite path, name, parameters) is a
-- row in `tests`, numbered per installation; results point at it, so history is one index scan.
-- Free text (messages, traces, output) is sealed with the org's key in `results.details`.

CREATE TABLE runs (
    id               BLOB PRIMARY KEY,
    org_id           BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id       BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    title            TEXT NOT NULL,
    branch           TEXT,
    commit_sha       TEXT,
    build_url        TEXT,
    build_name       TEXT,
    environment      TEXT NOT NULL DEFAULT '{}',
    tags             TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('running', 'finished')),
    shards_expected  INTEGER,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    total            INTEGER NOT NULL DEFAULT 0,
    passed           INTEGER NOT NULL DEFAULT 0,
    failed           INTEGER NOT NULL DEFAULT 0,
    errored          INTEGER NOT NULL DEFAULT 0,
    skipped          INTEGER NOT NULL DEFAULT 0,
    flaky            INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_runs_project_number UNIQUE (project_id, number)
);
CREATE INDEX ix_runs_project_created ON runs (project_id, created_at);
CREATE INDEX ix_runs_org ON runs (org_id);

CREATE TABLE run_shards (
    run_id      BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    org_id      BLOB NOT NULL,
    shard       TEXT NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (run_id, shard)
);

CREATE TABLE tests (
    id           INTEGER PRIMARY KEY,
    org_id       BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id   BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    -- 64-bit hash of identity_key: the lookup key (an integer index is far cheaper than a text
    -- one). The store checks identity_key on every lookup, so a collision is refused, never merged.
    identity_hash INTEGER NOT NULL,
    suite        TEXT NOT NULL,
    name         TEXT NOT NULL,
    parameters   TEXT NOT NULL DEFAULT '',
    file         TEXT,
    created_at   INTEGER NOT NULL,
    CONSTRAINT uq_tests_identity UNIQUE (project_id, identity_hash)
);
CREATE INDEX ix_tests_org ON tests (org_id);

CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    org_id      BLOB NOT NULL,
    run_id      BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    test_id     INTEGER NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    outcome     INTEGER NOT NULL,
    flaky       INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    duration_ms INTEGER,
    signature   INTEGER,
    details     BLOB
);
CREATE INDEX ix_results_run ON results (run_id, outcome);
CREATE INDEX ix_results_test ON results (test_id, id);

-- Blind index: keyed hashes of the normalised words of failure messages, so results can be found
-- by error text that is only stored sealed.
CREATE TABLE result_terms (
    org_id    BLOB NOT NULL,
    term      BLOB NOT NULL,
    run_id    BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    test_id   INTEGER NOT NULL
);
CREATE INDEX ix_result_terms ON result_terms (org_id, term);

-- Idempotency: an append carries a key; a retried batch is stored once.
CREATE TABLE ingest_batches (
    run_id          BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    org_id          BLOB NOT NULL,
    idempotency_key TEXT NOT NULL,
    results         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, idempotency_key)
);
