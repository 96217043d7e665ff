//! The repository page: the suite tree, filtered case list, reorder, bulk edit, import.

#[allow(unused_imports)]
use super::*;

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
            pages::status_for(&error),
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
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '#'))
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
