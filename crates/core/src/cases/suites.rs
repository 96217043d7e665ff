//! The suite tree of a project's repository: create, rename, move (reparent and reorder),
//! delete when empty. Moving a suite under itself or one of its descendants is refused.

use super::model::{MAX_SUITE_NAME, one_line, too_long};
use crate::audit::Change;
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use std::collections::HashMap;
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, time};
use testvault_store::SuiteRow;
use uuid::Uuid;

/// One suite in the tree, listed depth first in order.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteNode {
    pub id: Uuid,
    pub parent: Option<Uuid>,
    pub name: String,
    /// Names from the root, joined by ` / `.
    pub path: String,
    pub depth: usize,
    pub position: i64,
}

/// The suites of a project, depth first.
pub(crate) fn tree(rows: Vec<SuiteRow>) -> Vec<SuiteNode> {
    let mut children: HashMap<Option<Uuid>, Vec<SuiteRow>> = HashMap::new();
    for r in rows {
        children.entry(r.parent).or_default().push(r);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            a.position
                .cmp(&b.position)
                .then_with(|| a.name.cmp(&b.name))
        });
    }
    let mut out = Vec::new();
    // (parent, depth, path): an explicit stack, so a deep tree can't overflow ours.
    let mut stack: Vec<(SuiteRow, usize, String)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|r| (r, 0, String::new()))
        .collect();
    while let Some((row, depth, prefix)) = stack.pop() {
        let path = if prefix.is_empty() {
            row.name.clone()
        } else {
            format!("{prefix} / {}", row.name)
        };
        for child in children
            .remove(&Some(row.id))
            .unwrap_or_default()
            .into_iter()
            .rev()
        {
            stack.push((child, depth + 1, path.clone()));
        }
        out.push(SuiteNode {
            id: row.id,
            parent: row.parent,
            name: row.name,
            path,
            depth,
            position: row.position,
        });
    }
    out
}

/// `suite` and every suite below it.
pub(crate) fn with_descendants(nodes: &[SuiteNode], suite: Uuid) -> Vec<Uuid> {
    let mut out = vec![suite];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            nodes
                .iter()
                .filter(|n| n.parent == Some(parent))
                .map(|n| n.id),
        );
        i += 1;
    }
    out
}

fn checked_name(raw: &str) -> Result<String, DomainError> {
    let name = one_line(raw);
    if name.is_empty() {
        return Err(DomainError::new("name", "must not be empty"));
    }
    too_long("name", &name, MAX_SUITE_NAME)?;
    Ok(name)
}

impl Core {
    pub async fn suite_tree(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<SuiteNode>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        Ok(tree(self.store().list_suites(p.org, project).await?))
    }

    pub async fn create_suite(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        parent: Option<Uuid>,
        name: &str,
    ) -> Result<SuiteNode, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let name = checked_name(name)?;
        let nodes = tree(self.store().list_suites(p.org, project).await?);
        if let Some(parent) = parent
            && !nodes.iter().any(|n| n.id == parent)
        {
            return Err(CoreError::NotFound("parent suite"));
        }
        let id = Uuid::new_v4();
        let event = crate::audit::by(
            p,
            Change::new("suite.created", "suite", id)
                .after(serde_json::json!({ "project": slug, "name": name, "parent": parent })),
        );
        self.store()
            .create_suites(p.org, project, &[(id, parent, name)], time::now(), &event)
            .await?;
        let nodes = tree(self.store().list_suites(p.org, project).await?);
        nodes
            .into_iter()
            .find(|n| n.id == id)
            .ok_or(CoreError::NotFound("suite"))
    }

    /// The suite at `path` (names from the root), made where missing. For imports.
    pub(crate) async fn ensure_suite_path(
        &self,
        p: &crate::Principal,
        org: OrgId,
        project: ProjectId,
        nodes: &mut Vec<SuiteNode>,
        path: &[String],
    ) -> Result<Option<Uuid>, CoreError> {
        let mut parent: Option<Uuid> = None;
        let mut missing: Vec<(Uuid, Option<Uuid>, String)> = Vec::new();
        for part in path {
            let name = checked_name(part)?;
            let found = nodes
                .iter()
                .find(|n| n.parent == parent && n.name == name)
                .map(|n| n.id)
                .or_else(|| {
                    missing
                        .iter()
                        .find(|(_, par, n)| *par == parent && *n == name)
                        .map(|m| m.0)
                });
            parent = Some(match found {
                Some(id) => id,
                None => {
                    let id = Uuid::new_v4();
                    missing.push((id, parent, name));
                    id
                }
            });
        }
        if !missing.is_empty() {
            let event = crate::audit::by(
                p,
                Change::new("suite.created", "suite", missing[0].0).after(serde_json::json!({
                    "path": path.join(" / "),
                    "created": missing.len(),
                })),
            );
            self.store()
                .create_suites(org, project, &missing, time::now(), &event)
                .await?;
            *nodes = tree(self.store().list_suites(org, project).await?);
        }
        Ok(parent)
    }

    pub async fn rename_suite(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        suite: Uuid,
        name: &str,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let name = checked_name(name)?;
        let event = crate::audit::by(
            p,
            Change::new("suite.renamed", "suite", suite).after(serde_json::json!({ "name": name })),
        );
        if !self
            .store()
            .rename_suite(project, suite, &name, &event)
            .await?
        {
            return Err(CoreError::NotFound("suite"));
        }
        Ok(())
    }

    /// Moves a suite under `parent` (`None`: top level) at `position` (1-based; 0 or past the
    /// end: last).
    pub async fn move_suite(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        suite: Uuid,
        parent: Option<Uuid>,
        position: i64,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let nodes = tree(self.store().list_suites(p.org, project).await?);
        if !nodes.iter().any(|n| n.id == suite) {
            return Err(CoreError::NotFound("suite"));
        }
        if let Some(parent) = parent {
            if !nodes.iter().any(|n| n.id == parent) {
                return Err(CoreError::NotFound("parent suite"));
            }
            if with_descendants(&nodes, suite).contains(&parent) {
                return Err(DomainError::new(
                    "parent",
                    "a suite cannot move into itself or one of its sub-suites",
                )
                .into());
            }
        }
        let position = if position <= 0 { i64::MAX } else { position };
        let event = crate::audit::by(
            p,
            Change::new("suite.moved", "suite", suite).after(
                serde_json::json!({ "parent": parent, "position": position.min(1_000_000) }),
            ),
        );
        self.store()
            .move_suite(project, suite, parent, position, &event)
            .await?;
        Ok(())
    }

    /// Deletes an empty suite.
    pub async fn delete_suite(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        suite: Uuid,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let event = crate::audit::by(
            p,
            Change::new("suite.deleted", "suite", suite)
                .after(serde_json::json!({ "project": slug })),
        );
        if !self.store().delete_suite(project, suite, &event).await? {
            return Err(CoreError::NotFound("suite"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u128, parent: Option<u128>, name: &str, position: i64) -> SuiteRow {
        SuiteRow {
            id: Uuid::from_u128(id),
            parent: parent.map(Uuid::from_u128),
            name: name.into(),
            position,
        }
    }

    #[test]
    fn the_tree_is_depth_first_in_order() {
        let nodes = tree(vec![
            row(1, None, "B", 2),
            row(2, None, "A", 1),
            row(3, Some(2), "A2", 2),
            row(4, Some(2), "A1", 1),
            row(5, Some(4), "deep", 1),
        ]);
        let paths: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["A", "A / A1", "A / A1 / deep", "A / A2", "B"]);
        assert_eq!(
            with_descendants(&nodes, Uuid::from_u128(2)).len(),
            4,
            "A, A1, deep, A2"
        );
    }
}
