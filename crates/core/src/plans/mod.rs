//! Planning: milestones (a name, a due date, the progress of the runs that belong to them) and
//! plans (a named selection of cases by suite, tag, saved filter or key). Manual runs are made
//! from a plan or a selection (`manual`).

pub mod manual;

use crate::audit::Change;
use crate::cases::{CaseQuery, CaseView, model};
use crate::{Allowed, Core, CoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, time};
use testvault_store::{ManualProgress, MilestoneRow, PlanRow};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub runs: i64,
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub blocked: i64,
    pub skipped: i64,
    pub untested: i64,
    /// Share of cases with a verdict, 0–100.
    pub done_pct: i64,
}

impl From<ManualProgress> for Progress {
    fn from(p: ManualProgress) -> Self {
        let done = p.passed + p.failed + p.blocked + p.skipped;
        Progress {
            runs: p.runs,
            total: p.total,
            passed: p.passed,
            failed: p.failed,
            blocked: p.blocked,
            skipped: p.skipped,
            untested: p.total - done,
            done_pct: if p.total > 0 { done * 100 / p.total } else { 0 },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MilestoneView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub due_on: Option<String>,
    pub status: String,
    /// Open and past its due date.
    pub overdue: bool,
    pub progress: Progress,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MilestoneSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub due_on: Option<String>,
}

/// Which cases a plan holds: the union of its parts; deprecated cases and cases gone from code
/// are left out.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Selection {
    /// Suites (with their sub-suites).
    #[serde(default)]
    pub suites: Vec<Uuid>,
    /// Cases with any of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A saved filter, as the case list takes it.
    #[serde(default)]
    pub filter: Option<CaseQuery>,
    /// Cases by key.
    #[serde(default)]
    pub keys: Vec<String>,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.suites.is_empty()
            && self.tags.is_empty()
            && self.filter.is_none()
            && self.keys.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlanSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub milestone: Option<Uuid>,
    pub selection: Selection,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub milestone: Option<Uuid>,
    pub selection: Selection,
    /// How many cases the selection holds now.
    pub cases: usize,
    pub created_by: String,
    pub created_at: i64,
}

fn checked_name(raw: &str) -> Result<String, DomainError> {
    let name = model::one_line(raw);
    if name.is_empty() {
        return Err(DomainError::new("name", "must not be empty"));
    }
    model::too_long("name", &name, 200)?;
    Ok(name)
}

/// Today as `YYYY-MM-DD` (UTC).
fn today() -> String {
    time::format_utc(time::now()).chars().take(10).collect()
}

impl Core {
    pub async fn list_milestones(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<MilestoneView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let progress = self.store().milestone_progress(p.org, project).await?;
        let today = today();
        Ok(self
            .store()
            .list_milestones(p.org, project)
            .await?
            .into_iter()
            .map(|m| {
                let done = progress
                    .iter()
                    .find(|(id, _)| *id == m.id)
                    .map(|(_, p)| *p)
                    .unwrap_or_default();
                MilestoneView {
                    overdue: m.status == "open"
                        && m.due_on.as_deref().is_some_and(|d| d < today.as_str()),
                    id: m.id,
                    name: m.name,
                    description: m.description,
                    due_on: m.due_on,
                    status: m.status,
                    progress: done.into(),
                }
            })
            .collect())
    }

    /// Adds a milestone. Needs `manage_plans`.
    pub async fn create_milestone(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        spec: MilestoneSpec,
    ) -> Result<Uuid, CoreError> {
        let p = allowed.require(Permission::ManagePlans)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let name = checked_name(&spec.name)?;
        model::too_long("description", &spec.description, 5_000)?;
        let due_on = spec
            .due_on
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if due_on
            .as_deref()
            .is_some_and(|d| !crate::cases::fields::is_date(d))
        {
            return Err(DomainError::new("due_on", "must be a date written YYYY-MM-DD").into());
        }
        let row = MilestoneRow {
            id: Uuid::new_v4(),
            name,
            description: spec.description.trim().to_string(),
            due_on,
            status: "open".into(),
            created_at: time::now(),
        };
        let event = crate::audit::by(
            p,
            Change::new("milestone.created", "milestone", row.id).after(
                serde_json::json!({ "project": slug, "name": row.name, "due_on": row.due_on }),
            ),
        );
        self.store().create_milestone(project, &row, &event).await?;
        Ok(row.id)
    }

    /// Closes (`open: false`) or reopens a milestone.
    pub async fn set_milestone_open(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        milestone: Uuid,
        open: bool,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManagePlans)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let status = if open { "open" } else { "closed" };
        let event = crate::audit::by(
            p,
            Change::new("milestone.updated", "milestone", milestone)
                .after(serde_json::json!({ "status": status })),
        );
        if !self
            .store()
            .set_milestone_status(project, milestone, status, &event)
            .await?
        {
            return Err(CoreError::NotFound("milestone"));
        }
        Ok(())
    }

    pub async fn list_plans(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<PlanView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let mut out = Vec::new();
        for row in self.store().list_plans(p.org, project).await? {
            out.push(self.plan_view(p.org, project, row).await?);
        }
        Ok(out)
    }

    async fn plan_view(
        &self,
        org: OrgId,
        project: ProjectId,
        row: PlanRow,
    ) -> Result<PlanView, CoreError> {
        let selection: Selection = serde_json::from_str(&row.selection)
            .map_err(|e| CoreError::internal(format!("plan selection: {e}")))?;
        let cases = self.selected_cases(org, project, &selection).await?.len();
        Ok(PlanView {
            id: row.id,
            name: row.name,
            description: row.description,
            milestone: row.milestone,
            selection,
            cases,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }

    /// The cases a selection holds now, in tree order, each once.
    pub(crate) async fn selected_cases(
        &self,
        org: OrgId,
        project: ProjectId,
        selection: &Selection,
    ) -> Result<Vec<CaseView>, CoreError> {
        let all = self
            .cases_matching(org, project, &CaseQuery::default())
            .await?;
        let nodes = crate::cases::suites::tree(self.store().list_suites(org, project).await?);
        let mut suites: HashSet<Uuid> = HashSet::new();
        for s in &selection.suites {
            suites.extend(crate::cases::suites::with_descendants(&nodes, *s));
        }
        let tags: HashSet<&str> = selection.tags.iter().map(String::as_str).collect();
        let keys: HashSet<String> = selection
            .keys
            .iter()
            .filter_map(|k| model::parse_case_key(k))
            .collect();
        let filtered: HashSet<String> = match &selection.filter {
            Some(q) => self
                .cases_matching(org, project, q)
                .await?
                .into_iter()
                .map(|c| c.key)
                .collect(),
            None => HashSet::new(),
        };
        Ok(all
            .into_iter()
            .filter(|c| c.status != "deprecated")
            .filter(|c| {
                c.suite.is_some_and(|s| suites.contains(&s))
                    || c.tags.iter().any(|t| tags.contains(t.as_str()))
                    || keys.contains(&c.key)
                    || filtered.contains(&c.key)
            })
            .collect())
    }

    /// Saves a plan. Needs `manage_plans`.
    pub async fn create_plan(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        spec: PlanSpec,
    ) -> Result<PlanView, CoreError> {
        let p = allowed.require(Permission::ManagePlans)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let name = checked_name(&spec.name)?;
        model::too_long("description", &spec.description, 5_000)?;
        if spec.selection.is_empty() {
            return Err(
                DomainError::new("selection", "choose suites, tags, a filter or cases").into(),
            );
        }
        if let Some(m) = spec.milestone
            && !self
                .store()
                .list_milestones(p.org, project)
                .await?
                .iter()
                .any(|r| r.id == m)
        {
            return Err(CoreError::NotFound("milestone"));
        }
        let mut selection = spec.selection;
        selection.tags = model::normalise_tags(&selection.tags)?;
        let row = PlanRow {
            id: Uuid::new_v4(),
            name,
            description: spec.description.trim().to_string(),
            milestone: spec.milestone,
            selection: serde_json::to_string(&selection)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            created_by: crate::runs::actor_label(p),
            created_at: time::now(),
        };
        let event = crate::audit::by(
            p,
            Change::new("plan.created", "plan", row.id).after(
                serde_json::json!({ "project": slug, "name": row.name, "selection": selection }),
            ),
        );
        self.store().create_plan(project, &row, &event).await?;
        self.plan_view(p.org, project, row).await
    }
}
