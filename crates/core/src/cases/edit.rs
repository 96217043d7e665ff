//! Writing cases: create, edit (optimistically: an edit names the version it started from),
//! bulk edit of a selection in one transaction, and placing a case in a suite and order.

use super::fields::check_values;
use super::model::{CaseContent, Step, normalise_tags, stored_tags};
use super::{CaseView, OWNER_KEY, content_of, suites};
use crate::audit::Change;
use crate::{Allowed, Core, CoreError, Principal};
use serde::Deserialize;
use std::collections::BTreeMap;
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, UserId, time};
use testvault_store::{CaseRow, CaseUpdate, CaseWrite, NewCase, VersionWrite};
use uuid::Uuid;

/// Changes to a case; what is left out stays as it is (on create: the defaults).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CasePatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub preconditions: Option<String>,
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// A member's email; empty clears the owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// A suite id; empty puts the case outside any suite.
    #[serde(default)]
    pub suite: Option<String>,
    /// Suite names from the root, made where missing (imports and scripts).
    #[serde(default)]
    pub suite_path: Option<Vec<String>>,
    /// Custom field values by field name (or id); `null` or empty clears one. Merged into the
    /// case's values.
    #[serde(default)]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
    /// The version this edit started from: a case changed since is not overwritten.
    #[serde(default)]
    pub version: Option<i64>,
}

/// One change applied to every case of a selection.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BulkEdit {
    pub keys: Vec<String>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Move to this suite (id; empty: outside any suite).
    #[serde(default)]
    pub suite: Option<String>,
    #[serde(default)]
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

const MAX_BULK: usize = 1_000;

/// What the rules need to check a content: the project's fields and members.
pub(crate) struct Checker {
    fields: Vec<super::FieldView>,
    members: Vec<(UserId, String)>,
    shared: Vec<Uuid>,
}

impl Checker {
    pub(crate) async fn load(
        core: &Core,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Self, CoreError> {
        let fields = core.fields_of(org, project).await?;
        let members = core
            .store()
            .list_members(org, time::now())
            .await?
            .into_iter()
            .map(|m| (m.user_id, m.email.to_lowercase()))
            .collect();
        let shared = core
            .shared_of(org, project)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        Ok(Checker {
            fields,
            members,
            shared,
        })
    }

    fn emails(&self) -> Vec<String> {
        self.members.iter().map(|(_, e)| e.clone()).collect()
    }

    /// Applies `patch` to `content` and checks the result.
    pub(crate) fn apply(
        &self,
        mut content: CaseContent,
        patch: &CasePatch,
    ) -> Result<CaseContent, CoreError> {
        let set = |target: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *target = v.clone();
            }
        };
        set(&mut content.title, &patch.title);
        set(&mut content.description, &patch.description);
        set(&mut content.preconditions, &patch.preconditions);
        set(&mut content.priority, &patch.priority);
        set(&mut content.kind, &patch.kind);
        set(&mut content.status, &patch.status);
        if let Some(steps) = &patch.steps {
            content.steps = steps.clone();
        }
        if let Some(tags) = &patch.tags {
            content.tags = tags.clone();
        }
        if let Some(owner) = &patch.owner {
            content.owner = Some(owner.clone());
        }
        if let Some(values) = &patch.fields {
            let checked = check_values(&self.fields, values, &self.emails())?;
            // Named fields are replaced: set when valid, cleared when empty.
            for name in values.keys() {
                if let Some(f) = self.fields.iter().find(|f| f.is_named(name)) {
                    content.fields.remove(&f.id.to_string());
                }
            }
            content.fields.extend(checked);
        }
        self.check(content)
    }

    /// Checks a whole content (normalised built-ins, owner a member, fields valid).
    pub(crate) fn check(&self, content: CaseContent) -> Result<CaseContent, CoreError> {
        let mut content = content.normalise()?;
        if let Some(owner) = &content.owner
            && !self.members.iter().any(|(_, e)| e == owner)
        {
            return Err(DomainError::new(
                "owner",
                "must be the email of a member of the organisation",
            )
            .into());
        }
        if content
            .steps
            .iter()
            .any(|s| s.shared.is_some_and(|id| !self.shared.contains(&id)))
        {
            return Err(DomainError::new(
                "steps",
                "refers to shared steps that do not exist in this project",
            )
            .into());
        }
        // Values of deleted fields are dropped on the next write.
        content
            .fields
            .retain(|id, _| self.fields.iter().any(|f| f.id.to_string() == *id));
        Ok(content)
    }

    fn owner_id(&self, content: &CaseContent) -> Option<UserId> {
        let owner = content.owner.as_ref()?;
        self.members
            .iter()
            .find(|(_, e)| e == owner)
            .map(|(id, _)| *id)
    }

    /// The row columns for `content`.
    pub(crate) fn write(
        &self,
        key: &str,
        content: &CaseContent,
        suite: Option<Uuid>,
        code: Option<&CaseRow>,
    ) -> Result<CaseWrite, CoreError> {
        let mut fields: BTreeMap<String, serde_json::Value> = content.fields.clone();
        if let Some(owner) = &content.owner {
            fields.insert(OWNER_KEY.into(), serde_json::Value::String(owner.clone()));
        }
        Ok(CaseWrite {
            suite,
            title: content.title.clone(),
            description: content.description.clone(),
            preconditions: content.preconditions.clone(),
            steps: to_json(&content.steps)?,
            tags: stored_tags(&content.tags),
            priority: content.priority.clone(),
            kind: content.kind.clone(),
            status: content.status.clone(),
            owner: self.owner_id(content),
            fields: to_json(&fields)?,
            code_ref: code.and_then(|c| c.write.code_ref.clone()),
            file: code.and_then(|c| c.write.file.clone()),
            line: code.and_then(|c| c.write.line),
            source_sealed: code.and_then(|c| c.write.source_sealed.clone()),
            removed_at: code.and_then(|c| c.write.removed_at),
            search_text: content.search_text(key),
        })
    }
}

/// Where an imported test lives, carried by a new case.
#[derive(Debug, Clone, Default)]
pub(crate) struct Code {
    pub code_ref: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub source_sealed: Option<Vec<u8>>,
}

/// A case about to be created.
pub(crate) struct Draft {
    pub id: Uuid,
    pub key: String,
    pub content: CaseContent,
    pub suite: Option<Uuid>,
    pub code: Code,
}

impl Draft {
    pub(crate) fn new(key: String, content: CaseContent, suite: Option<Uuid>) -> Self {
        Draft {
            id: Uuid::new_v4(),
            key,
            content,
            suite,
            code: Code::default(),
        }
    }
}

/// JSON text of a value we built (cannot fail for these types; mapped, not unwrapped).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, CoreError> {
    serde_json::to_string(v).map_err(|e| CoreError::internal(e.to_string()))
}

pub(crate) fn snapshot(content: &CaseContent) -> Result<String, CoreError> {
    to_json(content)
}

/// A fresh key: 8 random hex digits.
pub(crate) fn new_key() -> String {
    let bytes = Uuid::new_v4().into_bytes();
    bytes[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Which fields an edit changed, for the version's summary.
pub(crate) fn summary(before: &CaseContent, after: &CaseContent) -> String {
    let mut changed = Vec::new();
    for (name, differs) in [
        ("title", before.title != after.title),
        ("description", before.description != after.description),
        ("preconditions", before.preconditions != after.preconditions),
        ("steps", before.steps != after.steps),
        ("tags", before.tags != after.tags),
        ("priority", before.priority != after.priority),
        ("type", before.kind != after.kind),
        ("status", before.status != after.status),
        ("owner", before.owner != after.owner),
        ("custom fields", before.fields != after.fields),
    ] {
        if differs {
            changed.push(name);
        }
    }
    if changed.is_empty() {
        "saved without changes".into()
    } else {
        format!("changed {}", changed.join(", "))
    }
}

impl Core {
    /// The org's members' emails: the choices for a case's owner and for user fields.
    pub async fn case_people(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
    ) -> Result<Vec<String>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        Ok(Checker::load(self, p.org, project).await?.emails())
    }

    /// Creates a case. Needs `write_cases`; audited.
    pub async fn create_case(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        patch: CasePatch,
    ) -> Result<CaseView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let checker = Checker::load(self, p.org, project).await?;
        if patch.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(DomainError::new("title", "must not be empty").into());
        }
        let content = checker.apply(CaseContent::new(String::new()), &patch)?;
        let suite = self.patch_suite(p, project, &patch, None).await?;
        let draft = Draft::new(new_key(), content, suite);
        let key = draft.key.clone();
        self.insert_cases(p, project, vec![draft], "created")
            .await?;
        self.case_by_key(p.org, project, &key).await
    }

    /// Inserts new cases with version 1.
    pub(crate) async fn insert_cases(
        &self,
        p: &Principal,
        project: ProjectId,
        drafts: Vec<Draft>,
        summary: &str,
    ) -> Result<(), CoreError> {
        let checker = Checker::load(self, p.org, project).await?;
        let author = crate::runs::actor_label(p);
        let now = time::now();
        let mut new = Vec::with_capacity(drafts.len());
        let mut events = Vec::with_capacity(drafts.len());
        for d in drafts {
            let mut write = checker.write(&d.key, &d.content, d.suite, None)?;
            write.code_ref = d.code.code_ref;
            write.file = d.code.file;
            write.line = d.code.line;
            write.source_sealed = d.code.source_sealed;
            events.push(crate::audit::by(
                p,
                Change::new("case.created", "case", format!("T{}", d.key))
                    .after(serde_json::json!({ "title": d.content.title, "summary": summary })),
            ));
            new.push(NewCase {
                id: d.id,
                key: d.key,
                write,
                version: VersionWrite {
                    snapshot: snapshot(&d.content)?,
                    summary: summary.into(),
                    author: author.clone(),
                    at: now,
                },
            });
        }
        self.store()
            .create_cases(p.org, project, &new, &events)
            .await?;
        Ok(())
    }

    /// Edits a case: a new version when anything changed. Needs `write_cases`; audited.
    pub async fn update_case(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        patch: CasePatch,
    ) -> Result<CaseView, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.case_row(p.org, project, key).await?;
        if let Some(v) = patch.version
            && v != row.version
        {
            return Err(CoreError::Gone(
                "the case was changed by someone else since you opened it: reload it and edit again",
            ));
        }
        let checker = Checker::load(self, p.org, project).await?;
        let before = content_of(&row)?;
        let after = checker.apply(before.clone(), &patch)?;
        let suite = self
            .patch_suite(p, project, &patch, Some(row.write.suite))
            .await?;
        if after == before && suite == row.write.suite {
            return self.case_by_key(p.org, project, &row.key).await;
        }
        let summary = if after == before {
            "moved to another suite".to_string()
        } else {
            summary(&before, &after)
        };
        self.write_versions(p, project, &checker, vec![(row, after, suite, summary)])
            .await?;
        self.case_by_key(p.org, project, key).await
    }

    /// Writes new versions of cases in one transaction, each from the row it was read as.
    pub(crate) async fn write_versions(
        &self,
        p: &Principal,
        project: ProjectId,
        checker: &Checker,
        edits: Vec<(CaseRow, CaseContent, Option<Uuid>, String)>,
    ) -> Result<(), CoreError> {
        let author = crate::runs::actor_label(p);
        let now = time::now();
        let mut updates = Vec::with_capacity(edits.len());
        let mut events = Vec::with_capacity(edits.len());
        for (row, content, suite, summary) in edits {
            events.push(crate::audit::by(
                p,
                Change::new("case.updated", "case", format!("T{}", row.key)).after(
                    serde_json::json!({
                        "version": row.version + 1,
                        "summary": summary,
                    }),
                ),
            ));
            updates.push(CaseUpdate {
                id: row.id,
                expected_version: row.version,
                write: checker.write(&row.key, &content, suite, Some(&row))?,
                version: VersionWrite {
                    snapshot: snapshot(&content)?,
                    summary,
                    author: author.clone(),
                    at: now,
                },
            });
        }
        self.store()
            .update_cases(p.org, project, &updates, &events)
            .await?;
        Ok(())
    }

    /// The suite a patch names (`keep`: the case's current one when it names none).
    async fn patch_suite(
        &self,
        p: &Principal,
        project: ProjectId,
        patch: &CasePatch,
        keep: Option<Option<Uuid>>,
    ) -> Result<Option<Uuid>, CoreError> {
        if let Some(path) = &patch.suite_path {
            let mut nodes = suites::tree(self.store().list_suites(p.org, project).await?);
            return self
                .ensure_suite_path(p, p.org, project, &mut nodes, path)
                .await;
        }
        match &patch.suite {
            None => Ok(keep.flatten()),
            Some(raw) => self.suite_id(p.org, project, raw).await,
        }
    }

    /// A suite id given as text (empty: none), checked to be the project's.
    pub(crate) async fn suite_id(
        &self,
        org: OrgId,
        project: ProjectId,
        raw: &str,
    ) -> Result<Option<Uuid>, CoreError> {
        let raw = raw.trim();
        if raw.is_empty() || raw == "none" {
            return Ok(None);
        }
        let id = Uuid::parse_str(raw).map_err(|_| CoreError::NotFound("suite"))?;
        let known = self
            .store()
            .list_suites(org, project)
            .await?
            .iter()
            .any(|s| s.id == id);
        if known {
            Ok(Some(id))
        } else {
            Err(CoreError::NotFound("suite"))
        }
    }

    /// Applies one change to a selection of cases, all or none. Needs `write_cases`.
    pub async fn bulk_edit_cases(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        edit: BulkEdit,
    ) -> Result<usize, CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        if edit.keys.is_empty() {
            return Err(DomainError::new("keys", "select at least one case").into());
        }
        if edit.keys.len() > MAX_BULK {
            return Err(DomainError::new("keys", "at most 1000 cases at once").into());
        }
        let keys: Vec<String> = edit
            .keys
            .iter()
            .map(|k| super::parse_case_key(k).ok_or(CoreError::NotFound("case")))
            .collect::<Result<_, _>>()?;
        let rows = self
            .store()
            .list_cases(
                p.org,
                project,
                &testvault_store::CaseFilter {
                    keys: keys.clone(),
                    include_removed: true,
                    ..Default::default()
                },
                MAX_BULK as i64,
            )
            .await?;
        if rows.len() != keys.len() {
            return Err(CoreError::NotFound("case"));
        }
        let checker = Checker::load(self, p.org, project).await?;
        let add = normalise_tags(&edit.add_tags)?;
        let remove = normalise_tags(&edit.remove_tags)?;
        let patch = CasePatch {
            priority: edit.priority.clone(),
            status: edit.status.clone(),
            kind: edit.kind.clone(),
            owner: edit.owner.clone(),
            fields: edit.fields.clone(),
            ..CasePatch::default()
        };
        let target_suite = match &edit.suite {
            Some(raw) => Some(self.suite_id(p.org, project, raw).await?),
            None => None,
        };
        let mut edits = Vec::with_capacity(rows.len());
        for row in rows {
            let before = content_of(&row)?;
            let mut after = checker.apply(before.clone(), &patch)?;
            after.tags.retain(|t| !remove.contains(t));
            after.tags.extend(add.iter().cloned());
            let after = checker.check(after)?;
            let suite = target_suite.unwrap_or(row.write.suite);
            if after == before && suite == row.write.suite {
                continue;
            }
            let summary = format!(
                "bulk edit: {}",
                summary(&before, &after).trim_start_matches("changed ")
            );
            edits.push((row, after, suite, summary));
        }
        let n = edits.len();
        if n > 0 {
            self.write_versions(p, project, &checker, edits).await?;
        }
        Ok(n)
    }

    /// Puts a case in `suite` at `position` (1-based; 0 = last), keyboard or drag reorder.
    pub async fn place_case(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        key: &str,
        suite: &str,
        position: i64,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::WriteCases)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let row = self.case_row(p.org, project, key).await?;
        let suite = self.suite_id(p.org, project, suite).await?;
        let position = if position <= 0 { i64::MAX } else { position };
        let event = crate::audit::by(
            p,
            Change::new("case.moved", "case", format!("T{}", row.key))
                .after(serde_json::json!({ "suite": suite, "position": position.min(1_000_000) })),
        );
        self.store()
            .place_case(project, row.id, suite, position, &event)
            .await?;
        Ok(())
    }
}
