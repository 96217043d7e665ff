//! The manual test repository: suites, cases with steps and custom fields, every edit a version,
//! search and bulk edit, import and export, and the links between cases and automated tests.

pub mod attachments;
mod diff;
mod edit;
pub mod fields;
pub mod io;
mod links;
pub mod model;
pub mod shared;
pub mod source;
pub mod suites;
mod versions;

pub use diff::DiffLine;
pub(crate) use edit::snapshot as edit_snapshot;
pub use edit::{BulkEdit, CasePatch};
pub use fields::{FieldSpec, FieldView};
pub use links::{CaseAutomation, CaseLinkView, LinkedCase};
pub use model::{CaseContent, Step, case_key_in_name, parse_case_key};
pub use shared::{ExpandedStep, SharedStepsSpec, SharedStepsView};
pub use source::{ImportReport, ImportedTest};
pub use suites::SuiteNode;
pub use versions::VersionView;

use crate::{Allowed, Core, CoreError};
use serde::{Deserialize, Serialize};
use testvault_domain::{OrgId, Permission, ProjectId, UserId};
use testvault_store::{CaseFilter, CaseRow};
use uuid::Uuid;

/// A custom field's value on a case, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct FieldValueView {
    pub field: Uuid,
    pub name: String,
    pub kind: String,
    pub value: serde_json::Value,
    pub text: String,
}

/// A case as the API and pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    /// `T` + 8 hex digits is how tests and people refer to it (`@T1a2b3c4d`).
    pub key: String,
    pub suite: Option<Uuid>,
    pub suite_path: String,
    pub position: i64,
    pub title: String,
    pub description: String,
    pub preconditions: String,
    pub steps: Vec<Step>,
    /// The steps as executed: shared references replaced by their sequences.
    pub expanded: Vec<ExpandedStep>,
    pub tags: Vec<String>,
    pub priority: String,
    pub kind: String,
    pub status: String,
    pub owner: Option<String>,
    pub fields: Vec<FieldValueView>,
    pub version: i64,
    pub file: Option<String>,
    pub line: Option<i64>,
    /// The test's source, when imported with it (only on a single case).
    pub source: Option<String>,
    /// Set when `import-tests` no longer finds the test in the code.
    pub removed_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

/// What a case list selects; see `list_cases`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CaseQuery {
    /// A suite id (with its sub-suites), or `none` for cases outside any suite.
    #[serde(default)]
    pub suite: Option<String>,
    /// Words that must all occur in the title, text, steps or tags.
    #[serde(default)]
    pub q: Option<String>,
    /// Comma-separated tags that must all be on the case.
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// An owner's email.
    #[serde(default)]
    pub owner: Option<String>,
    /// A custom field's name and the value it must have (`field=Browser&value=chrome`; a
    /// multi-select field matches when the value is one of its choices).
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// `true` also lists cases whose test `import-tests` no longer finds.
    #[serde(default)]
    pub removed: Option<bool>,
    #[serde(default)]
    pub limit: Option<i64>,
}

pub const MAX_LIST: i64 = 5_000;
const TABLE: &str = "cases";
const SOURCE: &str = "source";

impl Core {
    /// Cases matching `query`, in tree order. Needs `read_projects`.
    pub async fn list_cases(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        query: &CaseQuery,
    ) -> Result<Vec<CaseView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.cases_matching(p.org, project, query).await
    }

    /// `list_cases` for use cases that have checked their own permission (plans).
    pub(crate) async fn cases_matching(
        &self,
        org: OrgId,
        project: ProjectId,
        query: &CaseQuery,
    ) -> Result<Vec<CaseView>, CoreError> {
        let ctx = self.view_context(org, project).await?;
        let (nodes, fields) = (&ctx.nodes, &ctx.fields);
        let mut filter = CaseFilter {
            include_removed: query.removed.unwrap_or(false),
            ..CaseFilter::default()
        };
        match query
            .suite
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => {}
            Some("none") => {
                filter.suites = Some(Vec::new());
                filter.unfiled = true;
            }
            Some(raw) => {
                let id = Uuid::parse_str(raw).map_err(|_| CoreError::NotFound("suite"))?;
                if !nodes.iter().any(|n| n.id == id) {
                    return Err(CoreError::NotFound("suite"));
                }
                filter.suites = Some(suites::with_descendants(nodes, id));
            }
        }
        if let Some(q) = &query.q {
            filter.words = q
                .split_whitespace()
                .take(10)
                .map(str::to_lowercase)
                .collect();
        }
        if let Some(tags) = &query.tags {
            filter.tags = model::normalise_tags(std::slice::from_ref(tags))?;
        }
        let pick = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        filter.priority = pick(&query.priority);
        filter.kind = pick(&query.kind);
        filter.status = pick(&query.status);
        if let Some(owner) = pick(&query.owner) {
            let members = self
                .store()
                .list_members(org, testvault_domain::time::now())
                .await?;
            // An unknown owner matches nothing (not everything).
            filter.owner = Some(
                members
                    .iter()
                    .find(|m| m.email.eq_ignore_ascii_case(&owner))
                    .map(|m| m.user_id)
                    .unwrap_or(UserId(Uuid::nil())),
            );
        }
        let field_filter = match (pick(&query.field), pick(&query.value)) {
            (Some(name), value) => {
                let field = fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(&name))
                    .ok_or(CoreError::NotFound("custom field"))?;
                Some((field.id.to_string(), value.unwrap_or_default()))
            }
            (None, _) => None,
        };
        let limit = query.limit.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
        let rows = self
            .store()
            .list_cases(
                org,
                project,
                &filter,
                if field_filter.is_some() {
                    MAX_LIST
                } else {
                    limit
                },
            )
            .await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            let view = self.case_view(org, row, &ctx, false).await?;
            if let Some((id, want)) = &field_filter {
                let hit = view.fields.iter().any(|f| {
                    f.field.to_string() == *id
                        && match &f.value {
                            serde_json::Value::Array(a) => {
                                a.iter().any(|v| v.as_str() == Some(want.as_str()))
                            }
                            v => {
                                want.is_empty() || FieldView::display(v).eq_ignore_ascii_case(want)
                            }
                        }
                });
                if !hit {
                    continue;
                }
            }
            views.push(view);
        }
        // Tree order: suites depth first, cases by position within each; unfiled last.
        let order: std::collections::HashMap<Uuid, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        views.sort_by_key(|v| {
            (
                v.suite
                    .and_then(|s| order.get(&s).copied())
                    .unwrap_or(usize::MAX),
                v.position,
            )
        });
        views.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(views)
    }

    /// One case, with its imported source opened. Needs `read_projects`.
    pub async fn get_case(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
    ) -> Result<CaseView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.case_by_key(p.org, project, key).await
    }

    /// A case as shown, for use cases that have already checked their own permission.
    pub(crate) async fn case_by_key(
        &self,
        org: OrgId,
        project: ProjectId,
        key: &str,
    ) -> Result<CaseView, CoreError> {
        let row = self.case_row(org, project, key).await?;
        let ctx = self.view_context(org, project).await?;
        self.case_view(org, row, &ctx, true).await
    }

    /// What showing cases needs besides their rows, read once per request.
    pub(crate) async fn view_context(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<ViewContext, CoreError> {
        Ok(ViewContext {
            nodes: suites::tree(self.store().list_suites(org, project).await?),
            fields: self.fields_of(org, project).await?,
            shared: self.shared_of(org, project).await?,
        })
    }

    pub(crate) async fn case_row(
        &self,
        org: OrgId,
        project: ProjectId,
        key: &str,
    ) -> Result<CaseRow, CoreError> {
        let key = parse_case_key(key).ok_or(CoreError::NotFound("case"))?;
        self.store()
            .get_case(org, project, &key)
            .await?
            .ok_or(CoreError::NotFound("case"))
    }

    pub(crate) async fn case_view(
        &self,
        org: OrgId,
        row: CaseRow,
        ctx: &ViewContext,
        with_source: bool,
    ) -> Result<CaseView, CoreError> {
        let ViewContext {
            nodes,
            fields,
            shared,
        } = ctx;
        let content = content_of(&row)?;
        let source = match (&row.write.source_sealed, with_source) {
            (Some(sealed), true) => Some(
                self.keyring()
                    .open(
                        self.store(),
                        org,
                        TABLE,
                        SOURCE,
                        &row.id.to_string(),
                        sealed,
                    )
                    .await?,
            ),
            _ => None,
        };
        let field_values = fields
            .iter()
            .filter_map(|f| {
                content
                    .fields
                    .get(&f.id.to_string())
                    .map(|v| FieldValueView {
                        field: f.id,
                        name: f.name.clone(),
                        kind: f.kind.clone(),
                        value: v.clone(),
                        text: FieldView::display(v),
                    })
            })
            .collect();
        let suite_path = row
            .write
            .suite
            .and_then(|s| nodes.iter().find(|n| n.id == s))
            .map(|n| n.path.clone())
            .unwrap_or_default();
        Ok(CaseView {
            key: row.key,
            suite: row.write.suite,
            suite_path,
            position: row.position,
            title: content.title,
            description: content.description,
            preconditions: content.preconditions,
            expanded: shared::expand(&content.steps, shared),
            steps: content.steps,
            tags: content.tags,
            priority: content.priority,
            kind: content.kind,
            status: content.status,
            owner: content.owner,
            fields: field_values,
            version: row.version,
            file: row.write.file,
            line: row.write.line,
            source,
            removed_at: row.write.removed_at,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        })
    }
}

/// What showing a case needs besides its row: the suite tree (for its path), the custom fields
/// (for their names) and the shared steps (to expand references).
pub(crate) struct ViewContext {
    pub nodes: Vec<SuiteNode>,
    pub fields: Vec<FieldView>,
    pub shared: Vec<SharedStepsView>,
}

/// The content a stored row holds (its newest version's).
pub(crate) fn content_of(row: &CaseRow) -> Result<CaseContent, CoreError> {
    let w = &row.write;
    Ok(CaseContent {
        title: w.title.clone(),
        description: w.description.clone(),
        preconditions: w.preconditions.clone(),
        steps: serde_json::from_str(&w.steps)
            .map_err(|e| CoreError::internal(format!("case {} steps: {e}", row.key)))?,
        tags: model::parse_stored_tags(&w.tags),
        priority: w.priority.clone(),
        kind: w.kind.clone(),
        status: w.status.clone(),
        owner: serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&w.fields)
            .ok()
            .and_then(|m| {
                m.get(OWNER_KEY)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            }),
        fields: serde_json::from_str::<std::collections::BTreeMap<String, serde_json::Value>>(
            &w.fields,
        )
        .map_err(|e| CoreError::internal(format!("case {} fields: {e}", row.key)))?
        .into_iter()
        .filter(|(k, _)| k != OWNER_KEY)
        .collect(),
    })
}

/// The owner's email rides in the fields JSON under this key (the `owner_id` column holds the
/// user for filtering; the email keeps versions readable after a member leaves).
pub(crate) const OWNER_KEY: &str = "_owner";
