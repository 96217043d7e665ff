//! Manual runs: a run of kind `manual` holding cases frozen at the version they were added in,
//! assigned to testers, executed step by step (pass, fail, blocked, skipped, with notes and
//! elapsed time). Completing the run freezes it and stores its verdicts as results through the
//! ingest path, so manual runs count in the same reports as automated ones.

use super::Selection;
use crate::audit::Change;
use crate::cases::{CaseContent, CaseView, model};
use crate::{Allowed, Core, CoreError, RunSpec, RunView};
use serde::{Deserialize, Serialize};
use testvault_domain::{DomainError, Permission, RunId, time};
use testvault_ingest::{Outcome, TestIdentity, TestResult};
use testvault_store::{ManualRow, ManualVerdict, NewManualItem};
use uuid::Uuid;

pub const OUTCOMES: [&str; 5] = ["untested", "passed", "failed", "blocked", "skipped"];
const MAX_CASES: usize = 5_000;
const MAX_NOTE: usize = 5_000;
const TABLE: &str = "manual_results";
const RECORD: &str = "record";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ManualRunSpec {
    #[serde(default)]
    pub title: Option<String>,
    /// Take the cases of this plan (and its milestone).
    #[serde(default)]
    pub plan: Option<Uuid>,
    #[serde(default)]
    pub milestone: Option<Uuid>,
    /// Or (also) these cases.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Assign every case to this member (email).
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
}

/// A step's verdict.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StepVerdict {
    #[serde(default = "untested")]
    pub outcome: String,
    #[serde(default)]
    pub note: String,
}

fn untested() -> String {
    "untested".into()
}

/// A case's verdict as a tester records it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Verdict {
    pub outcome: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub steps: Vec<StepVerdict>,
    /// Time spent on the case this time (added to what was recorded before).
    #[serde(default)]
    pub elapsed_ms: i64,
}

/// The sealed part of a verdict: the tester's words.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Record {
    note: String,
    steps: Vec<StepVerdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManualStepView {
    pub action: String,
    pub expected: String,
    pub outcome: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManualItemView {
    pub key: String,
    pub version: i64,
    pub title: String,
    pub suite_path: String,
    pub preconditions: String,
    pub description: String,
    pub steps: Vec<ManualStepView>,
    pub assignee: Option<String>,
    pub outcome: String,
    pub note: String,
    pub elapsed_ms: i64,
    pub executed_by: Option<String>,
    pub executed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManualRunView {
    pub run: RunView,
    pub plan: Option<Uuid>,
    pub milestone: Option<Uuid>,
    pub complete: bool,
    pub progress: super::Progress,
    pub items: Vec<ManualItemView>,
}

fn ingest_outcome(outcome: &str) -> Outcome {
    match outcome {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        _ => Outcome::Skipped,
    }
}

impl Core {
    /// Starts a manual run with the cases of a plan and/or named cases. Needs `execute_runs`.
    pub async fn create_manual_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        spec: ManualRunSpec,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ExecuteRuns)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let mut milestone = spec.milestone;
        let mut selection = Selection {
            keys: spec.keys.clone(),
            ..Selection::default()
        };
        if let Some(plan) = spec.plan {
            let row = self
                .store()
                .list_plans(p.org, project)
                .await?
                .into_iter()
                .find(|r| r.id == plan)
                .ok_or(CoreError::NotFound("plan"))?;
            let planned: Selection = serde_json::from_str(&row.selection)
                .map_err(|e| CoreError::internal(format!("plan selection: {e}")))?;
            selection.suites = planned.suites;
            selection.tags = planned.tags;
            selection.filter = planned.filter;
            selection.keys.extend(planned.keys);
            milestone = milestone.or(row.milestone);
        }
        if let Some(m) = milestone
            && !self
                .store()
                .list_milestones(p.org, project)
                .await?
                .iter()
                .any(|r| r.id == m)
        {
            return Err(CoreError::NotFound("milestone"));
        }
        let cases: Vec<CaseView> = self.selected_cases(p.org, project, &selection).await?;
        if cases.is_empty() {
            return Err(DomainError::new(
                "cases",
                "the run would hold no cases: pick a plan or cases",
            )
            .into());
        }
        if cases.len() > MAX_CASES {
            return Err(DomainError::new("cases", "at most 5000 cases in one run").into());
        }
        let assignee = spec
            .assignee
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty());
        if let Some(a) = &assignee
            && !self
                .case_people(p.allow(Permission::ReadProjects)?, slug)
                .await?
                .contains(a)
        {
            return Err(DomainError::new(
                "assignee",
                "must be the email of a member of the organisation",
            )
            .into());
        }
        let mut items = Vec::with_capacity(cases.len());
        for c in &cases {
            let row = self.case_row(p.org, project, &c.key).await?;
            // Frozen with shared steps expanded: later edits to them do not reach this run.
            let mut content = crate::cases::content_of(&row)?;
            content.steps = c
                .expanded
                .iter()
                .map(|s| crate::cases::Step::new(s.action.clone(), s.expected.clone()))
                .collect();
            items.push(NewManualItem {
                case_id: row.id,
                case_key: c.key.clone(),
                case_version: c.version,
                snapshot: crate::cases::edit_snapshot(&content)?,
                suite_path: c.suite_path.clone(),
                assignee: assignee.clone(),
            });
        }
        let run_spec = RunSpec {
            title: Some(spec.title.unwrap_or_else(|| "Manual run".into())),
            branch: spec.branch,
            tags: vec!["manual".into()],
            ..RunSpec::default()
        };
        let valid = run_spec.validate()?;
        let id = RunId::new();
        let by = crate::runs::actor_label(p);
        let event = crate::audit::by(
            p,
            Change::new("run.created", "run", id).after(serde_json::json!({
                "project": slug, "kind": "manual", "plan": spec.plan, "milestone": milestone, "cases": items.len(),
            })),
        );
        self.store()
            .create_manual_run(
                crate::runs::new_run(p.org, project, id, &valid, &by),
                spec.plan,
                milestone,
                &items,
                &event,
            )
            .await?;
        self.run_view(p.org, id).await
    }

    /// A manual run with every case, its steps and its verdicts (notes opened).
    pub async fn manual_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
    ) -> Result<ManualRunView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.run_in(p.org, project, run).await?;
        let (plan, milestone) = self
            .store()
            .manual_run_info(p.org, run)
            .await?
            .ok_or(CoreError::NotFound("manual run"))?;
        let rows = self.store().manual_items(p.org, run).await?;
        let mut progress = testvault_store::ManualProgress {
            runs: 1,
            ..Default::default()
        };
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            progress.total += 1;
            match r.outcome.as_str() {
                "passed" => progress.passed += 1,
                "failed" => progress.failed += 1,
                "blocked" => progress.blocked += 1,
                "skipped" => progress.skipped += 1,
                _ => {}
            }
            items.push(self.item_view(p.org, run, r).await?);
        }
        Ok(ManualRunView {
            complete: row.finished,
            run: RunView::from(row),
            plan,
            milestone,
            progress: progress.into(),
            items,
        })
    }

    async fn item_view(
        &self,
        org: testvault_domain::OrgId,
        run: RunId,
        r: ManualRow,
    ) -> Result<ManualItemView, CoreError> {
        let content: CaseContent = serde_json::from_str(&r.snapshot)
            .map_err(|e| CoreError::internal(format!("manual case snapshot: {e}")))?;
        let record: Record = match &r.record_sealed {
            Some(sealed) => {
                let json = self
                    .keyring()
                    .open(
                        self.store(),
                        org,
                        TABLE,
                        RECORD,
                        &place(run, r.case_id),
                        sealed,
                    )
                    .await?;
                serde_json::from_str(&json)
                    .map_err(|e| CoreError::internal(format!("manual record: {e}")))?
            }
            None => Record::default(),
        };
        let steps = content
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let v = record.steps.get(i).cloned().unwrap_or_else(|| StepVerdict {
                    outcome: untested(),
                    note: String::new(),
                });
                ManualStepView {
                    action: s.action.clone(),
                    expected: s.expected.clone(),
                    outcome: v.outcome,
                    note: v.note,
                }
            })
            .collect();
        Ok(ManualItemView {
            key: r.case_key,
            version: r.case_version,
            title: content.title,
            suite_path: r.suite_path,
            preconditions: content.preconditions,
            description: content.description,
            steps,
            assignee: r.assignee,
            outcome: r.outcome,
            note: record.note,
            elapsed_ms: r.elapsed_ms,
            executed_by: r.executed_by,
            executed_at: r.executed_at,
        })
    }

    /// Records a case's verdict in a running manual run. Needs `execute_runs`; refused once the
    /// run is complete.
    pub async fn record_verdict(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        key: &str,
        verdict: Verdict,
    ) -> Result<ManualItemView, CoreError> {
        let p = allowed.require(Permission::ExecuteRuns)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let key = model::parse_case_key(key).ok_or(CoreError::NotFound("case"))?;
        let item = self.manual_item(p.org, run, &key).await?;
        model::one_of("outcome", &verdict.outcome, &OUTCOMES)?;
        model::too_long("note", &verdict.note, MAX_NOTE)?;
        let steps: Vec<StepVerdict> = verdict
            .steps
            .into_iter()
            .map(|s| {
                model::one_of("steps", &s.outcome, &OUTCOMES)?;
                model::too_long("steps", &s.note, MAX_NOTE)?;
                Ok(StepVerdict {
                    outcome: s.outcome,
                    note: s.note.trim().to_string(),
                })
            })
            .collect::<Result<_, DomainError>>()?;
        let record = Record {
            note: verdict.note.trim().to_string(),
            steps,
        };
        let json =
            serde_json::to_string(&record).map_err(|e| CoreError::internal(e.to_string()))?;
        let sealed = self
            .keyring()
            .seal(
                self.store(),
                p.org,
                TABLE,
                RECORD,
                &place(run, item.case_id),
                &json,
            )
            .await?;
        let by = crate::runs::actor_label(p);
        // Elapsed time accumulates over visits; one visit counts at most a day.
        let elapsed = item.elapsed_ms + verdict.elapsed_ms.clamp(0, 86_400_000);
        let event = crate::audit::by(
            p,
            Change::new("manual.recorded", "run", run).after(
                serde_json::json!({ "case": format!("T{key}"), "outcome": verdict.outcome }),
            ),
        );
        self.store()
            .record_manual(
                &ManualVerdict {
                    run,
                    case_id: item.case_id,
                    outcome: &verdict.outcome,
                    record_sealed: Some(&sealed),
                    elapsed_ms: elapsed,
                    executed_by: &by,
                    at: time::now(),
                },
                &event,
            )
            .await?;
        let row = self.manual_item(p.org, run, &key).await?;
        self.item_view(p.org, run, row).await
    }

    /// Assigns a case of a running manual run (`None`: nobody). Needs `execute_runs`.
    pub async fn assign_manual_case(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        key: &str,
        assignee: Option<String>,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ExecuteRuns)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let key = model::parse_case_key(key).ok_or(CoreError::NotFound("case"))?;
        let assignee = assignee
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty());
        if let Some(a) = &assignee
            && !self
                .case_people(p.allow(Permission::ReadProjects)?, slug)
                .await?
                .contains(a)
        {
            return Err(DomainError::new(
                "assignee",
                "must be the email of a member of the organisation",
            )
            .into());
        }
        let item = self.manual_item(p.org, run, &key).await?;
        let event = crate::audit::by(
            p,
            Change::new("manual.assigned", "run", run)
                .after(serde_json::json!({ "case": format!("T{key}"), "assignee": assignee })),
        );
        if !self
            .store()
            .assign_manual(run, item.case_id, assignee.as_deref(), &event)
            .await?
        {
            return Err(CoreError::Refused(
                "this run is complete: its results are frozen",
            ));
        }
        Ok(())
    }

    /// Completes a manual run: its verdicts become results (a case is the test `title @Tkey` in
    /// its suite, so reports and the case's page join them) and the run is finished — frozen.
    /// Needs `execute_runs`.
    pub async fn complete_manual_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ExecuteRuns)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.run_in(p.org, project, run).await?;
        self.store()
            .manual_run_info(p.org, run)
            .await?
            .ok_or(CoreError::NotFound("manual run"))?;
        if row.finished {
            return Err(CoreError::Refused("this run is already complete"));
        }
        let mut results = Vec::new();
        for r in self.store().manual_items(p.org, run).await? {
            let item = self.item_view(p.org, run, r).await?;
            let suite: Vec<String> = item.suite_path.split(" / ").map(str::to_string).collect();
            let identity =
                TestIdentity::new(suite, format!("{} @T{}", item.title, item.key), Vec::new());
            let mut result = TestResult::new(identity, ingest_outcome(&item.outcome));
            result.duration_ms = u64::try_from(item.elapsed_ms).ok().filter(|ms| *ms > 0);
            result.message = match item.outcome.as_str() {
                "untested" => Some("not tested".to_string()),
                "blocked" => Some(format!("blocked: {}", item.note)),
                _ => (!item.note.is_empty()).then(|| item.note.clone()),
            };
            result.labels.push(("kind".into(), "manual".into()));
            if let Some(by) = &item.executed_by {
                result.labels.push(("executed_by".into(), by.clone()));
            }
            results.push(result);
        }
        self.store_results(p, project, run, format!("manual-complete-{run}"), results)
            .await?;
        let event = crate::audit::by(
            p,
            Change::new("run.finished", "run", run).after(serde_json::json!({ "kind": "manual" })),
        );
        if !self
            .store()
            .finish_run(p.org, run, None, false, time::now(), &event)
            .await?
        {
            return Err(CoreError::NotFound("run"));
        }
        self.run_view(p.org, run).await
    }
}

impl Core {
    /// One case of a manual run, by its key.
    async fn manual_item(
        &self,
        org: testvault_domain::OrgId,
        run: RunId,
        key: &str,
    ) -> Result<ManualRow, CoreError> {
        self.store()
            .manual_items(org, run)
            .await?
            .into_iter()
            .find(|r| r.case_key == key)
            .ok_or(CoreError::NotFound("case in this run"))
    }
}

/// Where a verdict's sealed record belongs: its run and case.
fn place(run: RunId, case: Uuid) -> String {
    format!("{run}/{case}")
}
