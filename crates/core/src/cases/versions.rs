//! A case's versions: the list, a diff between two, and restoring an old one (which writes a
//! new version with the old content, so nothing is ever lost).

use super::diff::{DiffLine, diff, lines};
use super::edit::Checker;
use super::model::CaseContent;
use super::{CaseView, content_of};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::Permission;

#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version: i64,
    pub summary: String,
    pub author: String,
    pub created_at: i64,
    pub content: CaseContent,
}

impl Core {
    /// Every version of a case, newest first.
    pub async fn case_versions(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
    ) -> Result<Vec<VersionView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.versions_of(p.org, project, key).await
    }

    async fn versions_of(
        &self,
        org: testvault_domain::OrgId,
        project: testvault_domain::ProjectId,
        key: &str,
    ) -> Result<Vec<VersionView>, CoreError> {
        let row = self.case_row(org, project, key).await?;
        self.store()
            .case_versions(org, row.id)
            .await?
            .into_iter()
            .map(|v| {
                Ok(VersionView {
                    content: serde_json::from_str(&v.snapshot)
                        .map_err(|e| CoreError::internal(format!("case version: {e}")))?,
                    version: v.version,
                    summary: v.summary,
                    author: v.author,
                    created_at: v.created_at,
                })
            })
            .collect()
    }

    /// What changed from version `from` (default: the one before `to`) to version `to` (default:
    /// the current one); either may be the older.
    pub async fn case_diff(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<DiffLine>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let fields = self.fields_of(p.org, project).await?;
        let shared = self.shared_of(p.org, project).await?;
        let versions = self.case_versions(allowed, slug, key).await?;
        let to = to.unwrap_or_else(|| versions.first().map_or(1, |v| v.version));
        let from = from.unwrap_or((to - 1).max(1));
        let find = |n: i64| {
            versions
                .iter()
                .find(|v| v.version == n)
                .ok_or(CoreError::NotFound("case version"))
        };
        let (a, b) = (find(from)?, find(to)?);
        Ok(diff(
            &lines(&a.content, &fields, &shared),
            &lines(&b.content, &fields, &shared),
        ))
    }

    /// Makes an old version's content current again, as a new version. Needs `write_cases`.
    pub async fn restore_case_version(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        version: i64,
    ) -> Result<CaseView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.case_row(p.org, project, key).await?;
        let old = self
            .versions_of(p.org, project, key)
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(CoreError::NotFound("case version"))?;
        let checker = Checker::load(self, p.org, project).await?;
        // An owner who has left, or fields since deleted, are dropped, not refused.
        let mut content = old.content;
        if checker.check(content.clone()).is_err() {
            content.owner = None;
        }
        let content = checker.check(content)?;
        if content == content_of(&row)? {
            return self.case_by_key(p.org, project, key).await;
        }
        let suite = row.write.suite;
        self.write_versions(
            p,
            project,
            &checker,
            vec![(row, content, suite, format!("restored version {version}"))],
        )
        .await?;
        self.case_by_key(p.org, project, key).await
    }
}
