//! The test repository pages: the suite tree with its cases (filters, reorder, bulk edit,
//! import and export), a case, its editor and its history.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use testvault_core::cases::{
    BulkEdit, CaseAutomation, CasePatch, CaseQuery, CaseView, DiffLine, FieldView, Step, SuiteNode,
    VersionView, fields::FIELD_KINDS, model,
};
use testvault_core::{CoreError, Principal, ProjectView};
use testvault_domain::Permission;
use uuid::Uuid;

/// A submitted form as its pairs: repeated names (checkboxes, steps) keep every value.
type Pairs = Vec<(String, String)>;

fn first(pairs: &Pairs, name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn all(pairs: &Pairs, name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

async fn project_and_orgs(
    state: &AppState,
    p: &Principal,
    slug: &str,
) -> Result<(ProjectView, Vec<testvault_core::OrgView>), CoreError> {
    let project = state
        .core
        .get_project(p.allow(Permission::ReadProjects)?, slug)
        .await?;
    let orgs = state.core.my_orgs(p).await?;
    Ok((project, orgs))
}

// ---------------------------------------------------------------- repository

struct SuiteItem {
    id: String,
    name: String,
    path: String,
    depth: usize,
    position: i64,
    parent: String,
    selected: bool,
    /// Among its siblings: can it move up / down?
    first: bool,
    last: bool,
}

struct CaseRowItem {
    key: String,
    title: String,
    suite: String,
    suite_path: String,
    position: i64,
    priority: String,
    kind: String,
    status: String,
    tags: Vec<String>,
    owner: String,
    removed: bool,
    automated: bool,
}

#[derive(Default, Deserialize)]
pub struct RepoQuery {
    #[serde(default)]
    suite: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    removed: String,
    #[serde(default)]
    notice: String,
}

impl RepoQuery {
    fn case_query(&self) -> CaseQuery {
        let opt = |s: &String| (!s.trim().is_empty()).then(|| s.clone());
        CaseQuery {
            suite: opt(&self.suite),
            q: opt(&self.q),
            tags: opt(&self.tags),
            priority: opt(&self.priority),
            kind: opt(&self.kind),
            status: opt(&self.status),
            owner: opt(&self.owner),
            field: opt(&self.field),
            value: opt(&self.value),
            removed: Some(self.removed == "1"),
            limit: Some(1000),
        }
    }

    /// The filter as a query string (for exports and links), without `notice`.
    fn query_string(&self) -> String {
        let pairs = [
            ("suite", &self.suite),
            ("q", &self.q),
            ("tags", &self.tags),
            ("priority", &self.priority),
            ("kind", &self.kind),
            ("status", &self.status),
            ("owner", &self.owner),
            ("field", &self.field),
            ("value", &self.value),
            ("removed", &self.removed),
        ];
        let kept: Vec<(&str, &String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        serde_urlencoded::to_string(kept).unwrap_or_default()
    }

    fn filtered(&self) -> bool {
        !self.query_string().is_empty()
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    suites: Vec<SuiteItem>,
    cases: Vec<CaseRowItem>,
    f: RepoQuery,
    filtered: bool,
    export_query: String,
    fields: Vec<FieldView>,
    people: Vec<String>,
    can_write: bool,
    notice: String,
    error: Option<String>,
    priorities: [&'static str; 4],
    kinds: [&'static str; 3],
    statuses: [&'static str; 3],
}

fn suite_items(nodes: &[SuiteNode], selected: &str) -> Vec<SuiteItem> {
    nodes
        .iter()
        .map(|n| {
            let siblings: Vec<&SuiteNode> = nodes.iter().filter(|s| s.parent == n.parent).collect();
            SuiteItem {
                id: n.id.to_string(),
                name: n.name.clone(),
                path: n.path.clone(),
                depth: n.depth,
                position: n.position,
                parent: n.parent.map(|p| p.to_string()).unwrap_or_default(),
                selected: n.id.to_string() == selected,
                first: siblings.first().is_some_and(|s| s.id == n.id),
                last: siblings.last().is_some_and(|s| s.id == n.id),
            }
        })
        .collect()
}

fn case_item(c: CaseView) -> CaseRowItem {
    CaseRowItem {
        automated: c.file.is_some(),
        removed: c.removed_at.is_some(),
        key: c.key,
        title: c.title,
        suite: c.suite.map(|s| s.to_string()).unwrap_or_default(),
        suite_path: c.suite_path,
        position: c.position,
        priority: c.priority,
        kind: c.kind,
        status: c.status,
        tags: c.tags,
        owner: c.owner.unwrap_or_default(),
    }
}

pub async fn repository(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(f): Query<RepoQuery>,
) -> Response {
    repository_page(&state, &p, &csrf, &slug, f, None).await
}

async fn repository_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    f: RepoQuery,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let nodes = state.core.suite_tree(read()?, slug).await?;
        let cases = state
            .core
            .list_cases(read()?, slug, &f.case_query())
            .await?;
        let fields = state.core.list_fields(read()?, slug).await?;
        let people = state.core.case_people(read()?, slug).await?;
        Ok::<_, CoreError>((project, orgs, nodes, cases, fields, people))
    }
    .await;
    match loaded {
        Ok((project, orgs, nodes, cases, fields, people)) => render(
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &CasesPage {
                chrome: Chrome::app(
                    &format!("Test cases · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                suites: suite_items(&nodes, &f.suite),
                cases: cases.into_iter().map(case_item).collect(),
                filtered: f.filtered(),
                export_query: f.query_string(),
                notice: f.notice.clone(),
                f,
                fields,
                people,
                error,
                priorities: model::PRIORITIES,
                kinds: model::KINDS,
                statuses: model::STATUSES,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

/// Back to the repository, keeping the filter the form came from (`back`, a query string we
/// made), with a notice.
fn back_to(slug: &str, pairs: &Pairs, notice: &str) -> Response {
    let back = first(pairs, "back").unwrap_or_default();
    // Only our own query strings come back here: no scheme, host or path can be injected.
    let back: String = back
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '#' | '\r' | '\n'))
        .collect();
    let notice = serde_urlencoded::to_string([("notice", notice)]).unwrap_or_default();
    let sep = if back.is_empty() { "" } else { "&" };
    Redirect::to(&format!("/projects/{slug}/cases?{back}{sep}{notice}")).into_response()
}

/// The repository again with an error (the filter the form came from kept).
async fn repository_error(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    pairs: &Pairs,
    e: CoreError,
) -> Response {
    let back = first(pairs, "back").unwrap_or_default();
    let f: RepoQuery = serde_urlencoded::from_str(&back).unwrap_or_default();
    match e {
        CoreError::Invalid(_)
        | CoreError::Conflict(_)
        | CoreError::Refused(_)
        | CoreError::Gone(_) => repository_page(state, p, csrf, slug, f, Some(form_error(e))).await,
        other => pages::error_page(other.into()),
    }
}

pub async fn create_suite(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let parent = match first(&pairs, "parent").filter(|s| !s.is_empty()) {
            Some(id) => Some(Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("suite"))?),
            None => None,
        };
        let name = first(&pairs, "name").unwrap_or_default();
        state
            .core
            .create_suite(p.allow(Permission::WriteCases)?, &slug, parent, &name)
            .await
    }
    .await;
    match result {
        Ok(node) => back_to(&slug, &pairs, &format!("Suite \"{}\" added.", node.name)),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

/// Rename (`name`), move up or down (`step`: -1 / 1), or move under another suite (`parent`).
pub async fn change_suite(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, suite)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&suite).map_err(|_| CoreError::NotFound("suite"))?;
        let allowed = || p.allow(Permission::WriteCases);
        if let Some(name) = first(&pairs, "name") {
            state
                .core
                .rename_suite(allowed()?, &slug, id, &name)
                .await?;
            return Ok("Suite renamed.");
        }
        let parent = match first(&pairs, "parent").filter(|s| !s.is_empty()) {
            Some(raw) => Some(Uuid::parse_str(&raw).map_err(|_| CoreError::NotFound("suite"))?),
            None => None,
        };
        let position = first(&pairs, "position")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_default();
        state
            .core
            .move_suite(allowed()?, &slug, id, parent, position)
            .await?;
        Ok::<_, CoreError>("Suite moved.")
    }
    .await;
    match result {
        Ok(notice) => back_to(&slug, &pairs, notice),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

pub async fn delete_suite(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, suite)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&suite).map_err(|_| CoreError::NotFound("suite"))?;
        state
            .core
            .delete_suite(p.allow(Permission::WriteCases)?, &slug, id)
            .await
    }
    .await;
    match result {
        Ok(()) => back_to(&slug, &pairs, "Suite deleted."),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

/// Reorders a case (`suite`, `position`): the ↑/↓ buttons and drag and drop.
pub async fn place_case(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let suite = first(&pairs, "suite").unwrap_or_default();
        let position = first(&pairs, "position")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        state
            .core
            .place_case(
                p.allow(Permission::WriteCases)?,
                &slug,
                &key,
                &suite,
                position,
            )
            .await
    }
    .await;
    match result {
        Ok(()) => back_to(&slug, &pairs, "Case moved."),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

/// Applies one change to the ticked cases.
pub async fn bulk_edit(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let opt = |name: &str| first(&pairs, name).filter(|v| !v.trim().is_empty());
    let mut fields = BTreeMap::new();
    if let (Some(name), Some(value)) = (opt("field"), first(&pairs, "field_value")) {
        fields.insert(name, serde_json::Value::String(value));
    }
    let edit = BulkEdit {
        keys: all(&pairs, "key"),
        add_tags: opt("add_tags").into_iter().collect(),
        remove_tags: opt("remove_tags").into_iter().collect(),
        priority: opt("priority"),
        status: opt("status"),
        kind: opt("kind"),
        owner: opt("owner"),
        suite: opt("move_to"),
        fields: (!fields.is_empty()).then_some(fields),
    };
    let result = match p.allow(Permission::WriteCases) {
        Ok(allowed) => state.core.bulk_edit_cases(allowed, &slug, edit).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(n) => back_to(&slug, &pairs, &format!("{n} case(s) changed.")),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

/// Imports pasted (or file-read) CSV or Markdown.
pub async fn import(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let markdown = first(&pairs, "format").as_deref() == Some("markdown");
    let text = first(&pairs, "text").unwrap_or_default();
    let result = match p.allow(Permission::WriteCases) {
        Ok(allowed) => {
            state
                .core
                .import_cases(allowed, &slug, &text, markdown)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => back_to(
            &slug,
            &pairs,
            &format!(
                "Imported: {} created, {} updated, {} unchanged.",
                r.created, r.updated, r.unchanged
            ),
        ),
        Err(e) => repository_error(&state, &p, &csrf, &slug, &pairs, e).await,
    }
}

// ---------------------------------------------------------------- one case

struct FieldItem {
    name: String,
    text: String,
}

struct StepItem {
    number: usize,
    action: String,
    expected: String,
    /// The shared steps it comes from, if any.
    shared: String,
}

struct LinkItem {
    test: i64,
    suite: String,
    name: String,
    how: &'static str,
    run: String,
    outcome: String,
    at: String,
}

struct ManualItem {
    run: i64,
    title: String,
    outcome: String,
    by: String,
    at: String,
    final_verdict: bool,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    case: CaseView,
    description_html: String,
    preconditions_html: String,
    steps: Vec<StepItem>,
    fields: Vec<FieldItem>,
    links: Vec<LinkItem>,
    manual: Vec<ManualItem>,
    files: Vec<testvault_core::cases::attachments::AttachmentView>,
    can_write: bool,
    created: String,
    updated: String,
    notice: String,
}

#[derive(Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: String,
}

fn steps_html(steps: &[testvault_core::cases::ExpandedStep]) -> Vec<StepItem> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepItem {
            number: i + 1,
            action: crate::markdown::render(&s.action),
            expected: crate::markdown::render(&s.expected),
            shared: s.shared_title.clone().unwrap_or_default(),
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let case = state.core.get_case(read()?, &slug, &key).await?;
        let automation: CaseAutomation = state.core.case_automation(read()?, &slug, &key).await?;
        let files = state.core.case_attachments(read()?, &slug, &key).await?;
        Ok::<_, CoreError>((project, orgs, case, automation, files))
    }
    .await;
    match loaded {
        Ok((project, orgs, case, automation, files)) => render(
            StatusCode::OK,
            &CasePage {
                chrome: Chrome::app(
                    &format!("T{} {} · {}", case.key, case.title, project.name),
                    "projects",
                    &csrf,
                    &p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                description_html: crate::markdown::render(&case.description),
                preconditions_html: crate::markdown::render(&case.preconditions),
                steps: steps_html(&case.expanded),
                fields: case
                    .fields
                    .iter()
                    .map(|f| FieldItem {
                        name: f.name.clone(),
                        text: f.text.clone(),
                    })
                    .collect(),
                links: automation
                    .tests
                    .into_iter()
                    .map(|t| LinkItem {
                        test: t.test,
                        suite: t.suite,
                        name: t.name,
                        how: t.how,
                        run: t.last_run.map(|n| n.to_string()).unwrap_or_default(),
                        outcome: t.last_outcome.unwrap_or_default(),
                        at: t.last_at.map(when).unwrap_or_default(),
                    })
                    .collect(),
                manual: automation
                    .manual
                    .into_iter()
                    .map(|m| ManualItem {
                        run: m.run,
                        title: m.run_title,
                        outcome: m.outcome,
                        by: m.executed_by.unwrap_or_default(),
                        at: m.executed_at.map(when).unwrap_or_default(),
                        final_verdict: m.final_verdict,
                    })
                    .collect(),
                files,
                created: when(case.created_at),
                updated: when(case.updated_at),
                notice: q.notice,
                case,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

// ---------------------------------------------------------------- editor

struct FieldInput {
    id: String,
    name: String,
    kind: String,
    options: Vec<String>,
    /// Text value (for multiselect: the chosen options).
    value: String,
    chosen: Vec<String>,
}

#[derive(Template)]
#[template(path = "case_edit.html")]
struct EditPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    /// None for a new case.
    key: Option<String>,
    version: i64,
    title: String,
    priority: String,
    kind: String,
    status: String,
    owner: String,
    tags: String,
    preconditions: String,
    description: String,
    steps: Vec<Step>,
    fields: Vec<FieldInput>,
    suites: Vec<SuiteItem>,
    people: Vec<String>,
    /// Shared steps a step may stand for.
    shared: Vec<(String, String)>,
    error: Option<String>,
    priorities: [&'static str; 4],
    kinds: [&'static str; 3],
    statuses: [&'static str; 3],
}

/// The editor's values: from a case, or from a form sent back with an error.
struct Draft {
    version: i64,
    title: String,
    suite: String,
    priority: String,
    kind: String,
    status: String,
    owner: String,
    tags: String,
    preconditions: String,
    description: String,
    steps: Vec<Step>,
    values: BTreeMap<String, Vec<String>>,
}

impl Draft {
    fn from_case(c: &CaseView) -> Self {
        Draft {
            version: c.version,
            title: c.title.clone(),
            suite: c.suite.map(|s| s.to_string()).unwrap_or_default(),
            priority: c.priority.clone(),
            kind: c.kind.clone(),
            status: c.status.clone(),
            owner: c.owner.clone().unwrap_or_default(),
            tags: c.tags.join(", "),
            preconditions: c.preconditions.clone(),
            description: c.description.clone(),
            steps: c.steps.clone(),
            values: c
                .fields
                .iter()
                .map(|f| {
                    let values = match &f.value {
                        serde_json::Value::Array(a) => a
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                        v => vec![FieldView::display(v)],
                    };
                    (f.field.to_string(), values)
                })
                .collect(),
        }
    }

    fn blank(suite: String) -> Self {
        Draft {
            version: 0,
            title: String::new(),
            suite,
            priority: "normal".into(),
            kind: "manual".into(),
            status: "draft".into(),
            owner: String::new(),
            tags: String::new(),
            preconditions: String::new(),
            description: String::new(),
            steps: Vec::new(),
            values: BTreeMap::new(),
        }
    }

    fn from_form(pairs: &Pairs) -> Self {
        let actions = all(pairs, "action");
        let expected = all(pairs, "expected");
        let shared = all(pairs, "shared");
        let steps = actions
            .into_iter()
            .zip(expected)
            .enumerate()
            .map(|(i, (action, expected))| Step {
                shared: shared.get(i).and_then(|id| Uuid::parse_str(id).ok()),
                ..Step::new(action, expected)
            })
            .filter(|s| {
                s.shared.is_some() || !s.action.trim().is_empty() || !s.expected.trim().is_empty()
            })
            .collect();
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            if let Some(id) = k.strip_prefix("field:") {
                values.entry(id.to_string()).or_default().push(v.clone());
            }
        }
        let get = |n: &str| first(pairs, n).unwrap_or_default();
        Draft {
            version: get("version").parse().unwrap_or(0),
            title: get("title"),
            suite: get("suite"),
            priority: get("priority"),
            kind: get("kind"),
            status: get("status"),
            owner: get("owner"),
            tags: get("tags"),
            preconditions: get("preconditions"),
            description: get("description"),
            steps,
            values,
        }
    }

    /// The patch this draft asks for, with field values typed for their field.
    fn patch(&self, fields: &[FieldView]) -> CasePatch {
        let mut values = BTreeMap::new();
        for f in fields {
            let chosen = self
                .values
                .get(&f.id.to_string())
                .cloned()
                .unwrap_or_default();
            let chosen: Vec<String> = chosen
                .into_iter()
                .filter(|v| !v.trim().is_empty())
                .collect();
            let value = if f.kind == "multiselect" {
                serde_json::Value::Array(
                    chosen.into_iter().map(serde_json::Value::String).collect(),
                )
            } else {
                chosen
                    .into_iter()
                    .next()
                    .map(serde_json::Value::String)
                    .unwrap_or(serde_json::Value::Null)
            };
            values.insert(f.id.to_string(), value);
        }
        CasePatch {
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            preconditions: Some(self.preconditions.clone()),
            steps: Some(self.steps.clone()),
            tags: Some(vec![self.tags.clone()]),
            priority: Some(self.priority.clone()),
            kind: Some(self.kind.clone()),
            status: Some(self.status.clone()),
            owner: Some(self.owner.clone()),
            suite: Some(self.suite.clone()),
            fields: Some(values),
            version: (self.version > 0).then_some(self.version),
            ..CasePatch::default()
        }
    }
}

async fn edit_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    key: Option<String>,
    draft: Draft,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let nodes = state.core.suite_tree(read()?, slug).await?;
        let fields = state.core.list_fields(read()?, slug).await?;
        let people = state.core.case_people(read()?, slug).await?;
        let shared = state.core.list_shared_steps(read()?, slug).await?;
        Ok::<_, CoreError>((project, orgs, nodes, fields, people, shared))
    }
    .await;
    match loaded {
        Ok((project, orgs, nodes, fields, people, shared)) => {
            let mut steps = draft.steps.clone();
            // Room to add steps without script; the page's script adds more on demand.
            steps.extend((0..3).map(|_| Step::new("", "")));
            let title = match &key {
                Some(k) => format!("Edit T{k} · {}", project.name),
                None => format!("New case · {}", project.name),
            };
            render(
                if error.is_some() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::OK
                },
                &EditPage {
                    chrome: Chrome::app(&title, "projects", csrf, p, orgs),
                    slug: project.slug,
                    project_name: project.name,
                    key,
                    version: draft.version,
                    suites: suite_items(&nodes, &draft.suite),
                    fields: fields
                        .into_iter()
                        .map(|f| {
                            let chosen = draft
                                .values
                                .get(&f.id.to_string())
                                .cloned()
                                .unwrap_or_default();
                            FieldInput {
                                id: f.id.to_string(),
                                value: chosen.first().cloned().unwrap_or_default(),
                                chosen,
                                name: f.name,
                                kind: f.kind,
                                options: f.options,
                            }
                        })
                        .collect(),
                    title: draft.title,
                    priority: draft.priority,
                    kind: draft.kind,
                    status: draft.status,
                    owner: draft.owner,
                    tags: draft.tags,
                    preconditions: draft.preconditions,
                    description: draft.description,
                    steps,
                    people,
                    shared: shared
                        .into_iter()
                        .map(|s| (s.id.to_string(), s.title))
                        .collect(),
                    error,
                    priorities: model::PRIORITIES,
                    kinds: model::KINDS,
                    statuses: model::STATUSES,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    suite: String,
}

pub async fn new_case(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(q): Query<NewQuery>,
) -> Response {
    edit_page(&state, &p, &csrf, &slug, None, Draft::blank(q.suite), None).await
}

pub async fn edit_case(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
) -> Response {
    let case = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.get_case(allowed, &slug, &key).await,
        Err(e) => Err(e),
    };
    match case {
        Ok(c) => {
            let draft = Draft::from_case(&c);
            edit_page(&state, &p, &csrf, &slug, Some(c.key), draft, None).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

/// Creates (no `key`) or saves a case from the editor.
async fn save(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    key: Option<String>,
    pairs: Pairs,
) -> Response {
    let draft = Draft::from_form(&pairs);
    let result = async {
        let fields = state
            .core
            .list_fields(p.allow(Permission::ReadProjects)?, slug)
            .await?;
        let patch = draft.patch(&fields);
        let allowed = p.allow(Permission::WriteCases)?;
        match &key {
            Some(k) => state.core.update_case(allowed, slug, k, patch).await,
            None => state.core.create_case(allowed, slug, patch).await,
        }
    }
    .await;
    match result {
        Ok(case) => Redirect::to(&format!(
            "/projects/{slug}/cases/T{}?notice=Saved%20as%20version%20{}.",
            case.key, case.version
        ))
        .into_response(),
        Err(
            e @ (CoreError::Invalid(_)
            | CoreError::Gone(_)
            | CoreError::Conflict(_)
            | CoreError::NotFound("suite")),
        ) => edit_page(state, p, csrf, slug, key, draft, Some(form_error(e))).await,
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn create_case(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save(&state, &p, &csrf, &slug, None, pairs).await
}

pub async fn update_case(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save(&state, &p, &csrf, &slug, Some(key), pairs).await
}

// ---------------------------------------------------------------- history

struct VersionItem {
    version: i64,
    summary: String,
    author: String,
    at: String,
}

#[derive(Template)]
#[template(path = "case_history.html")]
struct HistoryPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    key: String,
    title: String,
    current: i64,
    versions: Vec<VersionItem>,
    from: i64,
    to: i64,
    diff: Vec<DiffLine>,
    can_write: bool,
}

#[derive(Default, Deserialize)]
pub struct DiffQuery {
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
}

pub async fn history(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let versions: Vec<VersionView> = state.core.case_versions(read()?, &slug, &key).await?;
        let current = versions.first().map_or(1, |v| v.version);
        let to = q.to.unwrap_or(current);
        let from = q.from.unwrap_or((to - 1).max(1));
        let diff = state
            .core
            .case_diff(read()?, &slug, &key, Some(from), Some(to))
            .await?;
        Ok::<_, CoreError>((project, orgs, versions, current, from, to, diff))
    }
    .await;
    match loaded {
        Ok((project, orgs, versions, current, from, to, diff)) => {
            let title = versions
                .first()
                .map(|v| v.content.title.clone())
                .unwrap_or_default();
            let key = model::parse_case_key(&key).unwrap_or_default();
            render(
                StatusCode::OK,
                &HistoryPage {
                    chrome: Chrome::app(
                        &format!("History of T{key} · {}", project.name),
                        "projects",
                        &csrf,
                        &p,
                        orgs,
                    ),
                    can_write: p.can_in(Permission::WriteCases, project.id),
                    slug: project.slug,
                    project_name: project.name,
                    key,
                    title,
                    current,
                    versions: versions
                        .into_iter()
                        .map(|v| VersionItem {
                            version: v.version,
                            summary: v.summary,
                            author: v.author,
                            at: when(v.created_at),
                        })
                        .collect(),
                    from,
                    to,
                    diff,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn restore(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, version)): Path<(String, String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let version: i64 = version
            .parse()
            .map_err(|_| CoreError::NotFound("case version"))?;
        state
            .core
            .restore_case_version(p.allow(Permission::WriteCases)?, &slug, &key, version)
            .await
    }
    .await;
    match result {
        Ok(case) => Redirect::to(&format!(
            "/projects/{slug}/cases/T{}?notice=Restored%20as%20version%20{}.",
            case.key, case.version
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

// ---------------------------------------------------------------- custom fields

#[derive(Template)]
#[template(path = "case_fields.html")]
struct FieldsPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    fields: Vec<FieldView>,
    kinds: [&'static str; 7],
    can_write: bool,
    error: Option<String>,
}

async fn fields_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let fields = state
            .core
            .list_fields(p.allow(Permission::ReadProjects)?, slug)
            .await?;
        Ok::<_, CoreError>((project, orgs, fields))
    }
    .await;
    match loaded {
        Ok((project, orgs, fields)) => render(
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &FieldsPage {
                chrome: Chrome::app(
                    &format!("Custom fields · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                fields,
                kinds: FIELD_KINDS,
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn fields(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    fields_page(&state, &p, &csrf, &slug, None).await
}

pub async fn create_field(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let spec = testvault_core::cases::FieldSpec {
        name: first(&pairs, "name").unwrap_or_default(),
        kind: first(&pairs, "kind"),
        options: first(&pairs, "options")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
    };
    let result = match p.allow(Permission::WriteCases) {
        Ok(allowed) => state
            .core
            .create_field(allowed, &slug, spec)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/fields")).into_response(),
        Err(e @ (CoreError::Invalid(_) | CoreError::Conflict(_) | CoreError::Refused(_))) => {
            fields_page(&state, &p, &csrf, &slug, Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn delete_field(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, field)): Path<(String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&field).map_err(|_| CoreError::NotFound("custom field"))?;
        state
            .core
            .delete_field(p.allow(Permission::WriteCases)?, &slug, id)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/fields")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

// ---------------------------------------------------------------- automated tests

struct UnlinkedItem {
    id: i64,
    suite: String,
    name: String,
    file: String,
}

#[derive(Template)]
#[template(path = "unlinked.html")]
struct UnlinkedPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    tests: Vec<UnlinkedItem>,
    can_write: bool,
}

pub async fn unlinked(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let tests = state
            .core
            .unlinked_tests(p.allow(Permission::ReadProjects)?, &slug, 1000)
            .await?;
        Ok::<_, CoreError>((project, orgs, tests))
    }
    .await;
    match loaded {
        Ok((project, orgs, tests)) => render(
            StatusCode::OK,
            &UnlinkedPage {
                chrome: Chrome::app(
                    &format!("Tests without a case · {}", project.name),
                    "projects",
                    &csrf,
                    &p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                tests: tests
                    .into_iter()
                    .map(|t| UnlinkedItem {
                        id: t.id,
                        suite: t.suite,
                        name: pages::test_name(t.name, &t.parameters),
                        file: t.file.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

/// Makes a case of each ticked test.
pub async fn from_tests(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let tests: Vec<i64> = all(&pairs, "test")
            .iter()
            .map(|t| t.parse().map_err(|_| CoreError::NotFound("test")))
            .collect::<Result<_, _>>()?;
        state
            .core
            .cases_from_tests(p.allow(Permission::WriteCases)?, &slug, &tests)
            .await
    }
    .await;
    match result {
        Ok(keys) => Redirect::to(&format!(
            "/projects/{slug}/cases?notice={}%20case(s)%20created%20from%20automated%20tests.",
            keys.len()
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

/// Links a test to a case from the test's page (`key`), or unlinks it (`unlink`).
pub async fn link_from_test(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, test)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let id: i64 = test.parse().map_err(|_| CoreError::NotFound("test"))?;
        let allowed = p.allow(Permission::WriteCases)?;
        match first(&pairs, "key").filter(|k| !k.trim().is_empty()) {
            Some(key) => state.core.link_test(allowed, &slug, &key, id).await,
            None => state.core.unlink_test(allowed, &slug, id).await,
        }?;
        Ok::<_, CoreError>(id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/projects/{slug}/tests/{id}")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

// ---------------------------------------------------------------- attachments

/// Uploads a file from the case page: a `multipart/form-data` form with the CSRF token, an
/// optional step and one file.
pub async fn upload_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key)): Path<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    use testvault_core::cases::attachments::MAX_BYTES;
    // A project the caller cannot see is not found, whatever the body.
    let visible = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.get_project(allowed, &slug).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = visible {
        return pages::error_page(e.into());
    }
    let boundary = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(testvault_ingest::multipart::boundary);
    let Some(boundary) = boundary else {
        return pages::error_page(
            CoreError::Invalid(testvault_domain::DomainError::new(
                "file",
                "send the file as multipart/form-data",
            ))
            .into(),
        );
    };
    let cookie = crate::cookies::read(req.headers(), crate::cookies::CSRF).unwrap_or_default();
    let bytes = match crate::extract::body_bytes_within(req, MAX_BYTES + 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let limits = testvault_ingest::Limits {
        max_decompressed_bytes: (MAX_BYTES + 64 * 1024) as u64,
        max_zip_entries: 1,
        ..testvault_ingest::Limits::default()
    };
    let parts = match testvault_ingest::multipart::read_parts(&bytes, &boundary, limits) {
        Ok(parts) => parts,
        Err(e) => {
            return pages::error_page(
                CoreError::Invalid(testvault_domain::DomainError::new("file", e.to_string()))
                    .into(),
            );
        }
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|part| part.name.as_deref() == Some(name) && part.filename.is_none())
            .and_then(|part| String::from_utf8(part.bytes.clone()).ok())
            .unwrap_or_default()
    };
    if !crate::csrf::tokens_match(&field("csrf"), &cookie) {
        return pages::csrf_failed_page();
    }
    let step = field("step").trim().parse::<i64>().ok();
    let result = async {
        let file = parts
            .iter()
            .find(|part| part.filename.is_some())
            .ok_or_else(|| {
                CoreError::Invalid(testvault_domain::DomainError::new("file", "choose a file"))
            })?;
        state
            .core
            .add_attachment(
                p.allow(Permission::WriteCases)?,
                &slug,
                &key,
                file.filename.as_deref().unwrap_or_default(),
                step,
                &file.bytes,
            )
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!(
            "/projects/{slug}/cases/{key}?notice=File%20attached.#files"
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Default, Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    inline: Option<bool>,
}

pub async fn download_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("attachment"))?;
        state
            .core
            .attachment(p.allow(Permission::ReadProjects)?, &slug, &key, id)
            .await
    }
    .await;
    match result {
        Ok((view, bytes)) => {
            crate::attachment::file_response(&view, bytes, q.inline.unwrap_or(false))
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn remove_attachment(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| CoreError::NotFound("attachment"))?;
        state
            .core
            .delete_attachment(p.allow(Permission::WriteCases)?, &slug, &key, id)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!(
            "/projects/{slug}/cases/{key}?notice=File%20deleted.#files"
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

// ---------------------------------------------------------------- shared steps

struct SharedItem {
    id: String,
    title: String,
    version: i64,
    /// The steps as the editor writes them: one per line, `action => expected`.
    text: String,
    steps: Vec<Step>,
}

#[derive(Template)]
#[template(path = "shared_steps.html")]
struct SharedPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    items: Vec<SharedItem>,
    can_write: bool,
    error: Option<String>,
}

/// `action => expected` lines as steps.
fn steps_from_text(text: &str) -> Vec<Step> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once("=>") {
            Some((a, e)) => Step::new(a.trim(), e.trim()),
            None => Step::new(l.trim(), ""),
        })
        .collect()
}

fn steps_to_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            if s.expected.is_empty() {
                s.action.replace('\n', " ")
            } else {
                format!(
                    "{} => {}",
                    s.action.replace('\n', " "),
                    s.expected.replace('\n', " ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn shared_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(state, p, slug).await?;
        let items = state
            .core
            .list_shared_steps(p.allow(Permission::ReadProjects)?, slug)
            .await?;
        Ok::<_, CoreError>((project, orgs, items))
    }
    .await;
    match loaded {
        Ok((project, orgs, items)) => render(
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &SharedPage {
                chrome: Chrome::app(
                    &format!("Shared steps · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                items: items
                    .into_iter()
                    .map(|s| SharedItem {
                        id: s.id.to_string(),
                        text: steps_to_text(&s.steps),
                        title: s.title,
                        version: s.version,
                        steps: s.steps,
                    })
                    .collect(),
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    shared_page(&state, &p, &csrf, &slug, None).await
}

/// Creates (`POST …/shared-steps`) or edits (`POST …/shared-steps/{id}`) shared steps.
async fn save_shared(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    id: Option<String>,
    pairs: Pairs,
) -> Response {
    let result = async {
        let id = match id {
            Some(raw) => {
                Some(Uuid::parse_str(&raw).map_err(|_| CoreError::NotFound("shared steps"))?)
            }
            None => None,
        };
        let spec = testvault_core::cases::SharedStepsSpec {
            title: first(&pairs, "title").unwrap_or_default(),
            steps: steps_from_text(&first(&pairs, "steps").unwrap_or_default()),
            version: first(&pairs, "version").and_then(|v| v.parse().ok()),
        };
        state
            .core
            .save_shared_steps(p.allow(Permission::WriteCases)?, slug, id, spec)
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/projects/{slug}/shared-steps")).into_response(),
        Err(e @ (CoreError::Invalid(_) | CoreError::Conflict(_) | CoreError::Gone(_))) => {
            shared_page(state, p, csrf, slug, Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn create_shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save_shared(&state, &p, &csrf, &slug, None, pairs).await
}

pub async fn update_shared_steps(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    save_shared(&state, &p, &csrf, &slug, Some(id), pairs).await
}
