//! Planning pages: milestones and plans (with the forms that make them and start manual runs),
//! and the focused execution view of a manual run.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::cases::{CaseQuery, SuiteNode};
use testvault_core::plans::manual::{
    ManualItemView, ManualRunSpec, ManualRunView, StepVerdict, Verdict,
};
use testvault_core::plans::{MilestoneSpec, MilestoneView, PlanSpec, PlanView, Selection};
use testvault_core::{CoreError, Principal};
use testvault_domain::Permission;
use uuid::Uuid;

use super::form::{Pairs, filled as first};

/// Every non-blank value named `name`.
fn all(pairs: &Pairs, name: &str) -> Vec<String> {
    super::form::all(pairs, name)
        .into_iter()
        .filter(|v| !v.trim().is_empty())
        .collect()
}

fn uuid(raw: Option<String>, what: &'static str) -> Result<Option<Uuid>, CoreError> {
    raw.map(|r| Uuid::parse_str(r.trim()).map_err(|_| CoreError::NotFound(what)))
        .transpose()
}

struct PlanItem {
    id: String,
    name: String,
    description: String,
    milestone: String,
    cases: usize,
    parts: String,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    milestones: Vec<MilestoneView>,
    plans: Vec<PlanItem>,
    suites: Vec<SuiteNode>,
    people: Vec<String>,
    can_plan: bool,
    can_execute: bool,
    error: Option<String>,
}

fn describe(selection: &Selection, suites: &[SuiteNode]) -> String {
    let mut parts = Vec::new();
    let names: Vec<String> = selection
        .suites
        .iter()
        .filter_map(|id| suites.iter().find(|s| s.id == *id).map(|s| s.path.clone()))
        .collect();
    if !names.is_empty() {
        parts.push(format!("suites {}", names.join(", ")));
    }
    if !selection.tags.is_empty() {
        parts.push(format!("tags {}", selection.tags.join(", ")));
    }
    if let Some(f) = &selection.filter {
        let mut bits = Vec::new();
        for (name, v) in [
            ("search", &f.q),
            ("priority", &f.priority),
            ("status", &f.status),
            ("type", &f.kind),
        ] {
            if let Some(v) = v {
                bits.push(format!("{name} {v}"));
            }
        }
        parts.push(format!("filter: {}", bits.join(", ")));
    }
    if !selection.keys.is_empty() {
        parts.push(format!("{} chosen cases", selection.keys.len()));
    }
    parts.join("; ")
}

async fn plans_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let read = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(read()?, slug).await?;
        let milestones = state.core.list_milestones(read()?, slug).await?;
        let plans: Vec<PlanView> = state.core.list_plans(read()?, slug).await?;
        let suites = state.core.suite_tree(read()?, slug).await?;
        let people = state.core.case_people(read()?, slug).await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((project, milestones, plans, suites, people, orgs))
    }
    .await;
    match loaded {
        Ok((project, milestones, plans, suites, people, orgs)) => render(
            pages::status_for(&error),
            &PlansPage {
                chrome: Chrome::app(
                    &format!("Plans · {}", project.name),
                    "projects",
                    csrf,
                    p,
                    orgs,
                ),
                can_plan: p.can_in(Permission::ManagePlans, project.id),
                can_execute: p.can_in(Permission::ExecuteRuns, project.id),
                slug: project.slug,
                project_name: project.name,
                plans: plans
                    .into_iter()
                    .map(|pl| PlanItem {
                        id: pl.id.to_string(),
                        milestone: pl
                            .milestone
                            .and_then(|m| milestones.iter().find(|x| x.id == m))
                            .map(|m| m.name.clone())
                            .unwrap_or_default(),
                        parts: describe(&pl.selection, &suites),
                        name: pl.name,
                        description: pl.description,
                        cases: pl.cases,
                    })
                    .collect(),
                milestones,
                suites,
                people,
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    plans_page(&state, &p, &csrf, &slug, None).await
}

/// Sends a form's refusal back to the plans page; anything else is an error page.
async fn refused(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    e: CoreError,
) -> Response {
    match e {
        CoreError::Invalid(_) | CoreError::Conflict(_) | CoreError::Refused(_) => {
            plans_page(state, p, csrf, slug, Some(form_error(e))).await
        }
        other => pages::error_page(other.into()),
    }
}

pub async fn create_milestone(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let spec = MilestoneSpec {
        name: first(&pairs, "name").unwrap_or_default(),
        description: first(&pairs, "description").unwrap_or_default(),
        due_on: first(&pairs, "due_on"),
    };
    let result = match p.allow(Permission::ManagePlans) {
        Ok(allowed) => state.core.create_milestone(allowed, &slug, spec).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/projects/{slug}/plans")).into_response(),
        Err(e) => refused(&state, &p, &csrf, &slug, e).await,
    }
}

pub async fn milestone_status(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, id)): Path<(String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let id = uuid(Some(id), "milestone")?.ok_or(CoreError::NotFound("milestone"))?;
        let open = first(&pairs, "status").as_deref() == Some("open");
        state
            .core
            .set_milestone_open(p.allow(Permission::ManagePlans)?, &slug, id, open)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/plans")).into_response(),
        Err(e) => refused(&state, &p, &csrf, &slug, e).await,
    }
}

pub async fn create_plan(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let suites = all(&pairs, "suite")
            .into_iter()
            .map(|s| Uuid::parse_str(&s).map_err(|_| CoreError::NotFound("suite")))
            .collect::<Result<Vec<_>, _>>()?;
        let filter = CaseQuery {
            q: first(&pairs, "q"),
            priority: first(&pairs, "priority"),
            status: first(&pairs, "status"),
            ..CaseQuery::default()
        };
        let has_filter = filter.q.is_some() || filter.priority.is_some() || filter.status.is_some();
        let spec = PlanSpec {
            name: first(&pairs, "name").unwrap_or_default(),
            description: first(&pairs, "description").unwrap_or_default(),
            milestone: uuid(first(&pairs, "milestone"), "milestone")?,
            selection: Selection {
                suites,
                tags: first(&pairs, "tags").into_iter().collect(),
                filter: has_filter.then_some(filter),
                keys: first(&pairs, "keys")
                    .map(|k| {
                        k.split([',', ' ', '\n'])
                            .map(str::to_string)
                            .filter(|k| !k.trim().is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        };
        state
            .core
            .create_plan(p.allow(Permission::ManagePlans)?, &slug, spec)
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/projects/{slug}/plans")).into_response(),
        Err(e) => refused(&state, &p, &csrf, &slug, e).await,
    }
}

/// Starts a manual run from a plan, and opens it.
pub async fn start_run(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let spec = ManualRunSpec {
            title: first(&pairs, "title"),
            plan: uuid(first(&pairs, "plan"), "plan")?,
            assignee: first(&pairs, "assignee"),
            // Ticked in the repository's case list.
            keys: all(&pairs, "key"),
            ..ManualRunSpec::default()
        };
        state
            .core
            .create_manual_run(p.allow(Permission::ExecuteRuns)?, &slug, spec)
            .await
    }
    .await;
    match result {
        Ok(run) => {
            Redirect::to(&format!("/projects/{slug}/runs/{}/execute", run.number)).into_response()
        }
        Err(e) => refused(&state, &p, &csrf, &slug, e).await,
    }
}

// ---------------------------------------------------------------- execution

/// A step of the case in focus, rendered, with its verdict so far.
struct StepRow {
    /// 0-based: names the form fields.
    index: usize,
    action_html: String,
    expected_html: String,
    outcome: String,
    note: String,
}

#[derive(Template)]
#[template(path = "execute.html")]
struct ExecutePage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    run: ManualRunView,
    /// The case in focus (the first untested one by default).
    current: Option<ManualItemView>,
    next_key: String,
    description_html: String,
    preconditions_html: String,
    steps: Vec<StepRow>,
    can_execute: bool,
    /// Files attached to the case in focus during this run.
    files: Vec<testvault_core::cases::attachments::AttachmentView>,
    people: Vec<String>,
    /// Verdict buttons and their keys.
    outcomes: [(&'static str, &'static str); 4],
    error: Option<String>,
    created: String,
}

#[derive(Default, Deserialize)]
pub struct ExecuteQuery {
    #[serde(default)]
    case: String,
}

async fn execute_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    slug: &str,
    number: &str,
    focus: &str,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let read = || p.allow(Permission::ReadProjects);
        let number: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let project = state.core.get_project(read()?, slug).await?;
        let run = state.core.run_by_number(read()?, slug, number).await?;
        let manual = state.core.manual_run(read()?, slug, run.id).await?;
        // The case in focus: the one asked for, else the first untested one, else the first.
        let focus = testvault_core::cases::parse_case_key(focus).unwrap_or_default();
        let index = manual
            .items
            .iter()
            .position(|i| i.key == focus)
            .or_else(|| manual.items.iter().position(|i| i.outcome == "untested"))
            .unwrap_or(0);
        let files = match manual.items.get(index) {
            Some(item) => {
                state
                    .core
                    .verdict_files(read()?, slug, run.id, &item.key)
                    .await?
            }
            None => Vec::new(),
        };
        let people = state.core.case_people(read()?, slug).await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((project, manual, index, files, people, orgs))
    }
    .await;
    match loaded {
        Ok((project, run, index, files, people, orgs)) => {
            let current = run.items.get(index).cloned();
            let next_key = run
                .items
                .iter()
                .skip(index + 1)
                .chain(run.items.iter().take(index))
                .find(|i| i.outcome == "untested")
                .map(|i| i.key.clone())
                .unwrap_or_default();
            let render_md = crate::markdown::render;
            render(
                pages::status_for(&error),
                &ExecutePage {
                    chrome: Chrome::app(
                        &format!("#{} {} · {}", run.run.number, run.run.title, project.name),
                        "projects",
                        csrf,
                        p,
                        orgs,
                    ),
                    can_execute: p.can_in(Permission::ExecuteRuns, project.id) && !run.complete,
                    slug: project.slug,
                    project_name: project.name,
                    description_html: current
                        .as_ref()
                        .map(|c| render_md(&c.description))
                        .unwrap_or_default(),
                    preconditions_html: current
                        .as_ref()
                        .map(|c| render_md(&c.preconditions))
                        .unwrap_or_default(),
                    steps: current
                        .as_ref()
                        .map(|c| {
                            c.steps
                                .iter()
                                .enumerate()
                                .map(|(index, s)| StepRow {
                                    index,
                                    action_html: render_md(&s.action),
                                    expected_html: render_md(&s.expected),
                                    outcome: s.outcome.clone(),
                                    note: s.note.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    created: when(run.run.created_at),
                    current,
                    next_key,
                    run,
                    people,
                    files,
                    outcomes: [
                        ("passed", "p"),
                        ("failed", "f"),
                        ("blocked", "b"),
                        ("skipped", "s"),
                    ],
                    error,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn execute(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, number)): Path<(String, String)>,
    Query(q): Query<ExecuteQuery>,
) -> Response {
    execute_page(&state, &p, &csrf, &slug, &number, &q.case, None).await
}

/// Records the verdict of the case in focus, then moves to the next untested one.
pub async fn record(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, number, key)): Path<(String, String, String)>,
    CsrfForm(pairs): CsrfForm<Pairs>,
) -> Response {
    let result = async {
        let n: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let run = state
            .core
            .run_by_number(p.allow(Permission::ReadProjects)?, &slug, n)
            .await?;
        if let Some(assignee) = pairs
            .iter()
            .find(|(k, _)| k == "assignee")
            .map(|(_, v)| v.clone())
        {
            state
                .core
                .assign_manual_case(
                    p.allow(Permission::ExecuteRuns)?,
                    &slug,
                    run.id,
                    &key,
                    Some(assignee),
                )
                .await?;
            return Ok(super::cases::key_in_path(&key));
        }
        let outcomes = pairs.iter().filter(|(k, _)| k.starts_with("step_outcome_"));
        let mut steps: Vec<(usize, StepVerdict)> = outcomes
            .filter_map(|(k, v)| {
                let i: usize = k.trim_start_matches("step_outcome_").parse().ok()?;
                let note = pairs
                    .iter()
                    .find(|(n, _)| *n == format!("step_note_{i}"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                Some((
                    i,
                    StepVerdict {
                        outcome: v.clone(),
                        note,
                    },
                ))
            })
            .collect();
        steps.sort_by_key(|(i, _)| *i);
        let verdict = Verdict {
            outcome: first(&pairs, "outcome").unwrap_or_default(),
            note: first(&pairs, "note").unwrap_or_default(),
            steps: steps.into_iter().map(|(_, s)| s).collect(),
            elapsed_ms: first(&pairs, "elapsed_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        state
            .core
            .record_verdict(
                p.allow(Permission::ExecuteRuns)?,
                &slug,
                run.id,
                &key,
                verdict,
            )
            .await?;
        Ok::<_, CoreError>(super::cases::key_in_path(
            &first(&pairs, "next").unwrap_or_default(),
        ))
    }
    .await;
    match result {
        Ok(next) => Redirect::to(&format!(
            "/projects/{slug}/runs/{number}/execute?case={next}"
        ))
        .into_response(),
        Err(e @ (CoreError::Invalid(_) | CoreError::Gone(_) | CoreError::Refused(_))) => {
            execute_page(&state, &p, &csrf, &slug, &number, &key, Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn complete(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, number)): Path<(String, String)>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let n: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let run = state
            .core
            .run_by_number(p.allow(Permission::ReadProjects)?, &slug, n)
            .await?;
        state
            .core
            .complete_manual_run(p.allow(Permission::ExecuteRuns)?, &slug, run.id)
            .await
    }
    .await;
    match result {
        Ok(run) => Redirect::to(&format!("/projects/{slug}/runs/{}", run.number)).into_response(),
        Err(e @ CoreError::Refused(_)) => {
            execute_page(&state, &p, &csrf, &slug, &number, "", Some(form_error(e))).await
        }
        Err(e) => pages::error_page(e.into()),
    }
}

/// Attaches a file (a screenshot of the failure) to the case in focus, from the execution page.
pub async fn upload_verdict_file(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, number, key)): Path<(String, String, String)>,
    req: axum::extract::Request,
) -> Response {
    let upload = match super::cases::read_upload(&state, &p, &slug, req).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let result = async {
        let n: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let run = state
            .core
            .run_by_number(p.allow(Permission::ReadProjects)?, &slug, n)
            .await?;
        state
            .core
            .add_verdict_file(
                p.allow(Permission::ExecuteRuns)?,
                &slug,
                run.id,
                &key,
                &upload.filename,
                &upload.bytes,
            )
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to(&format!(
            "/projects/{slug}/runs/{number}/execute?case={}",
            super::cases::key_in_path(&key)
        ))
        .into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
