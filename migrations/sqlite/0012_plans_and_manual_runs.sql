-- Planning and manual execution: milestones group plans and runs with a due date; a plan
-- selects cases (by suite, tag or a saved filter); a manual run is a run (kind 'manual') whose
-- cases are executed one by one, each frozen at the version it was added in. Completing the run
-- writes its verdicts as results, so manual runs appear in the same reports as automated ones.

CREATE TABLE milestones (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id  BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- YYYY-MM-DD
    due_on      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at  INTEGER NOT NULL,
    CONSTRAINT uq_milestones_name UNIQUE (project_id, name)
);
CREATE INDEX ix_milestones_org ON milestones (org_id);

CREATE TABLE plans (
    id           BLOB PRIMARY KEY,
    org_id       BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id   BLOB NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    milestone_id BLOB REFERENCES milestones (id) ON DELETE SET NULL,
    -- JSON: {"suites": [ids], "tags": [..], "filter": {case list query}, "keys": [..]}
    selection    TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    CONSTRAINT uq_plans_name UNIQUE (project_id, name)
);
CREATE INDEX ix_plans_org ON plans (org_id);

ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'automated' CHECK (kind IN ('automated', 'manual'));
ALTER TABLE runs ADD COLUMN plan_id BLOB;
ALTER TABLE runs ADD COLUMN milestone_id BLOB;
CREATE INDEX ix_runs_milestone ON runs (milestone_id) WHERE milestone_id IS NOT NULL;

CREATE TABLE manual_results (
    run_id       BLOB NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_id      BLOB NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    org_id       BLOB NOT NULL,
    position     INTEGER NOT NULL,
    -- The case as it was when added: what the tester executes, whatever edits follow.
    case_key     TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    snapshot     TEXT NOT NULL,
    suite_path   TEXT NOT NULL DEFAULT '',
    assignee     TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('untested', 'passed', 'failed', 'blocked', 'skipped')),
    -- Sealed JSON: {"note", "steps": [{"outcome", "note"}]} (notes are the tester's comments).
    record_sealed BLOB,
    elapsed_ms   INTEGER NOT NULL DEFAULT 0,
    executed_by  TEXT,
    executed_at  INTEGER,
    PRIMARY KEY (run_id, case_id)
);
CREATE INDEX ix_manual_results_case ON manual_results (case_id);
CREATE INDEX ix_manual_results_org ON manual_results (org_id);
