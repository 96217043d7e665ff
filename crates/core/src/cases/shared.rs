//! Shared steps: a named sequence of steps that cases reference (`{"shared": id}` in their
//! steps) instead of copying it. Editing the sequence changes every case that uses it; a manual
//! run freezes the expanded steps when it starts.

use super::model::{self, Step};
use crate::audit::Change;
use crate::{Allowed, Core, CoreError};
use serde::{Deserialize, Serialize};
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, time};
use testvault_store::SharedStepsRow;
use uuid::Uuid;

const MAX_STEPS: usize = 100;
const MAX_TEXT: usize = 5_000;
/// How an exported step names a shared sequence (CSV cell, Markdown item).
pub const EXPORT_PREFIX: &str = "[shared] ";

#[derive(Debug, Clone, Serialize)]
pub struct SharedStepsView {
    pub id: Uuid,
    pub title: String,
    pub steps: Vec<Step>,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SharedStepsSpec {
    pub title: String,
    pub steps: Vec<Step>,
    /// For an edit: the version it started from.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A case's step as it is executed: its own, or one of a shared sequence it references.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExpandedStep {
    pub action: String,
    pub expected: String,
    /// The shared sequence it comes from.
    pub shared: Option<Uuid>,
    pub shared_title: Option<String>,
}

/// `steps` with each shared reference replaced by the sequence's steps (a reference to a
/// sequence that no longer exists shows as one step saying so).
pub fn expand(steps: &[Step], shared: &[SharedStepsView]) -> Vec<ExpandedStep> {
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        match s.shared {
            None => out.push(ExpandedStep {
                action: s.action.clone(),
                expected: s.expected.clone(),
                shared: None,
                shared_title: None,
            }),
            Some(id) => match shared.iter().find(|x| x.id == id) {
                Some(seq) => out.extend(seq.steps.iter().map(|inner| ExpandedStep {
                    action: inner.action.clone(),
                    expected: inner.expected.clone(),
                    shared: Some(id),
                    shared_title: Some(seq.title.clone()),
                })),
                None => out.push(ExpandedStep {
                    action: "(shared steps that no longer exist)".into(),
                    expected: String::new(),
                    shared: Some(id),
                    shared_title: None,
                }),
            },
        }
    }
    out
}

fn view(row: SharedStepsRow) -> Result<SharedStepsView, CoreError> {
    Ok(SharedStepsView {
        steps: serde_json::from_str(&row.steps)
            .map_err(|e| CoreError::internal(format!("shared steps: {e}")))?,
        id: row.id,
        title: row.title,
        version: row.version,
        updated_by: row.updated_by,
        updated_at: row.updated_at,
    })
}

/// Checks a sequence: a title, 1 to 100 plain steps (no nesting).
fn checked(spec: &SharedStepsSpec) -> Result<(String, Vec<Step>), DomainError> {
    let title = model::one_line(&spec.title);
    if title.is_empty() {
        return Err(DomainError::new("title", "must not be empty"));
    }
    model::too_long("title", &title, 300)?;
    let steps: Vec<Step> = spec
        .steps
        .iter()
        .map(|s| Step::new(s.action.trim(), s.expected.trim()))
        .filter(|s| !s.action.is_empty() || !s.expected.is_empty())
        .collect();
    if spec.steps.iter().any(|s| s.shared.is_some()) {
        return Err(DomainError::new(
            "steps",
            "shared steps cannot reference other shared steps",
        ));
    }
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return Err(DomainError::new("steps", "between 1 and 100 steps"));
    }
    for s in &steps {
        model::too_long("steps", &s.action, MAX_TEXT)?;
        model::too_long("steps", &s.expected, MAX_TEXT)?;
    }
    Ok((title, steps))
}

impl Core {
    pub(crate) async fn shared_of(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<SharedStepsView>, CoreError> {
        self.store()
            .list_shared_steps(org, project)
            .await?
            .into_iter()
            .map(view)
            .collect()
    }

    pub async fn list_shared_steps(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<SharedStepsView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.shared_of(p.org, project).await
    }

    /// Creates (no `id`) or edits shared steps. Needs `write_cases`; audited.
    pub async fn save_shared_steps(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        id: Option<Uuid>,
        spec: SharedStepsSpec,
    ) -> Result<SharedStepsView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let (title, steps) = checked(&spec)?;
        let row = SharedStepsRow {
            id: id.unwrap_or_else(Uuid::new_v4),
            title,
            steps: super::edit::to_json(&steps)?,
            version: 1,
            updated_by: crate::runs::actor_label(p),
            updated_at: time::now(),
        };
        match id {
            None => {
                let event = crate::audit::by(
                    p,
                    Change::new("shared_steps.created", "shared_steps", row.id)
                        .after(serde_json::json!({ "project": slug, "title": row.title, "steps": steps.len() })),
                );
                self.store()
                    .create_shared_steps(project, &row, &event)
                    .await?;
            }
            Some(id) => {
                let current = self
                    .shared_of(p.org, project)
                    .await?
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or(CoreError::NotFound("shared steps"))?;
                let expected = spec.version.unwrap_or(current.version);
                let event = crate::audit::by(
                    p,
                    Change::new("shared_steps.updated", "shared_steps", id)
                        .before(serde_json::json!({ "title": current.title, "steps": current.steps.len() }))
                        .after(serde_json::json!({ "title": row.title, "steps": steps.len() })),
                );
                self.store()
                    .update_shared_steps(project, &row, expected, &event)
                    .await?;
            }
        }
        self.shared_of(p.org, project)
            .await?
            .into_iter()
            .find(|s| s.id == row.id)
            .ok_or(CoreError::NotFound("shared steps"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_in_place() {
        let id = Uuid::from_u128(7);
        let shared = vec![SharedStepsView {
            id,
            title: "Log in".into(),
            steps: vec![Step::new("Open", "Form"), Step::new("Submit", "Home")],
            version: 1,
            updated_by: String::new(),
            updated_at: 0,
        }];
        let steps = vec![
            Step::new("First", ""),
            Step {
                shared: Some(id),
                ..Step::new("", "")
            },
            Step::new("Last", ""),
        ];
        let out: Vec<String> = expand(&steps, &shared)
            .into_iter()
            .map(|s| s.action)
            .collect();
        assert_eq!(out, ["First", "Open", "Submit", "Last"]);
    }
}
