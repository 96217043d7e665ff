//! The case editor: new and edit, with steps, custom fields and shared steps.

#[allow(unused_imports)]
use super::*;

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
                pages::status_for(&error),
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
