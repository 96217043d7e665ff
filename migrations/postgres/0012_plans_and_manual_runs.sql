-- Planning and manual execution: milestones group plans and runs with a due date; a plan
-- selects cases (by suite, tag or a saved filter); a manual run is a run (kind 'manual') whose
-- cases are executed one by one, each frozen at the version it was added in. Completing the run
-- writes its verdicts as results, so manual runs appear in the same reports as automated ones.

CREATE TABLE milestones (
    id          UUID PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id  UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- YYYY-MM-DD
    due_on      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at  BIGINT NOT NULL,
    CONSTRAINT uq_milestones_name UNIQUE (project_id, name)
);
CREATE INDEX ix_milestones_org ON milestones (org_id);

CREATE TABLE plans (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id   UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    milestone_id UUID REFERENCES milestones (id) ON DELETE SET NULL,
    -- JSON: {"suites": [ids], "tags": [..], "filter": {case list query}, "keys": [..]}
    selection    TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    CONSTRAINT uq_plans_name UNIQUE (project_id, name)
);
CREATE INDEX ix_plans_org ON plans (org_id);

ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'automated' CHECK (kind IN ('automated', 'manual'));
ALTER TABLE runs ADD COLUMN plan_id UUID;
ALTER TABLE runs ADD COLUMN milestone_id UUID;
CREATE INDEX ix_runs_milestone ON runs (milestone_id) WHERE milestone_id IS NOT NULL;

CREATE TABLE manual_results (
    run_id       UUID NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_id      UUID NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    org_id       UUID NOT NULL,
    position     BIGINT NOT NULL,
    -- The case as it was when added: what the tester executes, whatever edits follow.
    case_key     TEXT NOT NULL,
    case_version BIGINT NOT NULL,
    snapshot     TEXT NOT NULL,
    suite_path   TEXT NOT NULL DEFAULT '',
    assignee     TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('untested', 'passed', 'failed', 'blocked', 'skipped')),
    -- Sealed JSON: {"note", "steps": [{"outcome", "note"}]} (notes are the tester's comments).
    record_sealed BYTEA,
    elapsed_ms   BIGINT NOT NULL DEFAULT 0,
    executed_by  TEXT,
    executed_at  BIGINT,
    PRIMARY KEY (run_id, case_id)
);
CREATE INDEX ix_manual_results_case ON manual_results (case_id);
CREATE INDEX ix_manual_results_org ON manual_results (org_id);

ALTER TABLE milestones ENABLE ROW LEVEL SECURITY;
ALTER TABLE milestones FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON milestones
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON milestones TO testvault_app;
ALTER TABLE plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE plans FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON plans
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON plans TO testvault_app;
ALTER TABLE manual_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE manual_results FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON manual_results
    USING (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR org_id = NULLIF(current_setting('app.org_id', true), '')::UUID);
GRANT SELECT, INSERT, UPDATE, DELETE ON manual_results TO testvault_app;
