//! Projects list (with the create form) and the project page shell.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::run_groups::ResultDrawer;
use testvault_core::{
    CoreError, Principal, ProjectView, ResultQuery, ResultView, RunQuery, RunView,
};
use testvault_domain::{Permission, ProjectDescription, ProjectName, ProjectSlug, Role, UserId};

pub struct ProjectItem {
    slug: String,
    name: String,
    description: String,
    created: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    chrome: Chrome,
    org_name: String,
    projects: Vec<ProjectItem>,
    can_create: bool,
    error: Option<String>,
    form_name: String,
    form_slug: String,
    form_description: String,
}

#[derive(Default, Deserialize)]
pub struct CreateForm {
    name: String,
    slug: String,
    #[serde(default)]
    description: String,
}

async fn projects_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    form: CreateForm,
    error: Option<String>,
) -> Response {
    let projects = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.list_projects(allowed).await,
        Err(e) => Err(e),
    };
    let orgs = state.core.my_orgs(p).await;
    match (projects, orgs) {
        (Ok(projects), Ok(orgs)) => render(
            pages::status_for(&error),
            &ProjectsPage {
                chrome: Chrome::app("Projects", "projects", csrf, p, orgs),
                org_name: p.org_name.clone(),
                projects: projects
                    .into_iter()
                    .map(|v: ProjectView| ProjectItem {
                        created: when(v.created_at),
                        slug: v.slug,
                        name: v.name,
                        description: v.description,
                    })
                    .collect(),
                can_create: p.can(Permission::ManageProjects),
                error,
                form_name: form.name,
                form_slug: form.slug,
                form_description: form.description,
            },
        ),
        (Err(e), _) | (_, Err(e)) => pages::error_page(e.into()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    projects_page(&state, &p, &csrf, CreateForm::default(), None).await
}

pub async fn create(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageProjects)?;
        let slug = ProjectSlug::parse(&form.slug)?;
        let name = ProjectName::parse(&form.name)?;
        let description = ProjectDescription::parse(&form.description)?;
        state
            .core
            .create_project(allowed, slug, name, description)
            .await
    }
    .await;
    match result {
        Ok(project) => Redirect::to(&format!("/projects/{}", project.slug)).into_response(),
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => projects_page(&state, &p, &csrf, form, Some(form_error(e))).await,
    }
}

pub struct GrantItem {
    user: UserId,
    display_name: String,
    email: String,
    role: String,
}

pub struct Candidate {
    user: UserId,
    label: String,
}

/// The project's access panel, for those who may manage it there.
pub struct AccessPanel {
    grants: Vec<GrantItem>,
    candidates: Vec<Candidate>,
    roles: Vec<(&'static str, String)>,
}

/// A run as lists show it.
pub struct RunItem {
    pub(crate) number: i64,
    pub(crate) title: String,
    pub(crate) branch: String,
    bar: Vec<Segment>,
    finished: bool,
    total: i64,
    passed: i64,
    failed: i64,
    skipped: i64,
    flaky: i64,
    created: String,
    /// The commit, shortened.
    commit: String,
    duration: String,
    /// Who or what reported the run (a token's name, a person).
    by: String,
    /// `key=value, …`
    environment: String,
    tags: String,
}

/// One coloured segment of a run's status bar (x and width out of 100).
pub struct Segment {
    x: i64,
    width: i64,
    class: &'static str,
    label: String,
}

/// Passed, failed and skipped as a bar 100 units wide (a non-empty share is at least 1 unit).
fn status_bar(passed: i64, failed: i64, skipped: i64) -> Vec<Segment> {
    let total = passed + failed + skipped;
    if total == 0 {
        return Vec::new();
    }
    let mut x = 0;
    [(passed, "passed"), (failed, "failed"), (skipped, "skipped")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, class)| {
            let width = (n * 100 / total).max(1);
            let seg = Segment {
                x,
                width,
                class,
                label: format!("{n} {class}"),
            };
            x += width;
            seg
        })
        .collect()
}

impl From<RunView> for RunItem {
    fn from(r: RunView) -> Self {
        RunItem {
            bar: status_bar(
                r.counts.passed,
                r.counts.failed + r.counts.errored,
                r.counts.skipped,
            ),
            number: r.number,
            title: r.title,
            branch: r.branch.unwrap_or_default(),
            finished: r.status == "finished",
            total: r.counts.total,
            passed: r.counts.passed,
            failed: r.counts.failed + r.counts.errored,
            skipped: r.counts.skipped,
            flaky: r.counts.flaky,
            created: when(r.created_at),
            commit: r
                .commit
                .as_deref()
                .map(|c| c.chars().take(10).collect())
                .unwrap_or_default(),
            duration: seconds(Some(r.counts.duration_ms)),
            by: r.created_by,
            environment: r
                .environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            tags: r.tags.join(" "),
        }
    }
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    chrome: Chrome,
    project: ProjectView,
    created: String,
    runs: Vec<RunItem>,
    access: Option<AccessPanel>,
    /// The next page's query string, when there may be one.
    older: Option<String>,
    /// Filters or a page are applied (the empty state says so).
    filtered: bool,
    f: RunsParams,
    /// This server's public address, for the reporter set-up lines.
    server: String,
}

async fn access_panel(
    state: &AppState,
    p: &Principal,
    project: &ProjectView,
) -> Result<Option<AccessPanel>, CoreError> {
    if !p.can_in(Permission::ManageProjectMembers, project.id) {
        return Ok(None);
    }
    let grants = state
        .core
        .project_access(p.allow(Permission::ManageProjectMembers)?, &project.slug)
        .await?;
    let candidates = state
        .core
        .grant_candidates(p.allow(Permission::ManageProjectMembers)?, &project.slug)
        .await?;
    let held = p.access.in_project(project.id);
    Ok(Some(AccessPanel {
        grants: grants
            .into_iter()
            .map(|g| GrantItem {
                user: g.user,
                display_name: g.display_name,
                email: g.email,
                role: g.role.to_string(),
            })
            .collect(),
        candidates: candidates
            .into_iter()
            .map(|(user, name, email)| Candidate {
                user,
                label: format!("{name} ({email})"),
            })
            .collect(),
        roles: Role::ALL
            .into_iter()
            .filter(|r| r.permissions().project_scoped().is_subset_of(held))
            .map(|r| (r.name(), super::members::capitalise(r.name())))
            .collect(),
    }))
}

/// The runs list's filters and page, from the query string.
#[derive(Deserialize, Default)]
pub struct RunsParams {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    environment: String,
}

impl RunsParams {
    fn query(&self) -> RunQuery {
        let some = |s: &String| Some(s.clone());
        RunQuery {
            branch: some(&self.branch),
            status: some(&self.status),
            tag: some(&self.tag),
            since: some(&self.since),
            until: some(&self.until),
            q: some(&self.q),
            environment: some(&self.environment),
        }
    }

    /// The filters as a query string (`&branch=…`), for the next page's link.
    fn carried(&self) -> String {
        [
            ("branch", &self.branch),
            ("status", &self.status),
            ("tag", &self.tag),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
            ("environment", &self.environment),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("&{k}={}", pages::url_encode(v.trim())))
        .collect()
    }
}

/// Runs on one page of the project's list.
const RUNS_PER_PAGE: i64 = 25;

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(params): Query<RunsParams>,
) -> Response {
    let loaded = async {
        let project = state
            .core
            .get_project(p.allow(Permission::ReadProjects)?, &slug)
            .await?;
        let access = access_panel(&state, &p, &project).await?;
        let runs = state
            .core
            .list_runs(
                p.allow(Permission::ReadProjects)?,
                &slug,
                &params.query(),
                params.before,
                RUNS_PER_PAGE,
            )
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, access, runs, orgs))
    }
    .await;
    match loaded {
        Ok((project, access, runs, orgs)) => {
            let older = (runs.len() as i64 == RUNS_PER_PAGE)
                .then(|| {
                    runs.last()
                        .map(|r| format!("?before={}{}", r.number, params.carried()))
                })
                .flatten();
            let filtered = !params.carried().is_empty() || params.before.is_some();
            render(
                StatusCode::OK,
                &ProjectPage {
                    chrome: Chrome::app(&project.name, "projects", &csrf, &p, orgs),
                    created: when(project.created_at),
                    project,
                    runs: runs.into_iter().map(RunItem::from).collect(),
                    access,
                    older,
                    filtered,
                    f: params,
                    server: state
                        .core
                        .settings()
                        .public_url
                        .trim_end_matches('/')
                        .to_string(),
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct GrantForm {
    user: String,
    role: String,
}

/// Grants a member a role on this project (or changes it).
pub async fn grant(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageProjectMembers)?;
        let user: UserId = form
            .user
            .parse()
            .map_err(|_| CoreError::NotFound("member"))?;
        let role = Role::parse(&form.role)?;
        state.core.grant_project(allowed, &slug, user, role).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}#access")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn revoke_grant(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path((slug, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<super::members::EmptyForm>,
) -> Response {
    let result = async {
        let user: UserId = user.parse().map_err(|_| CoreError::NotFound("member"))?;
        state
            .core
            .revoke_project(p.allow(Permission::ManageProjectMembers)?, &slug, user)
            .await
    }
    .await;
    super::members::finish(result, &headers, &format!("/projects/{slug}#access"))
}

pub struct ResultItem {
    id: i64,
    test_id: i64,
    name: String,
    suite: String,
    outcome: &'static str,
    flaky: bool,
    duration: String,
    message: String,
    trace: String,
}

fn seconds(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{:.2} s", ms as f64 / 1000.0))
        .unwrap_or_default()
}

impl From<ResultView> for ResultItem {
    fn from(r: ResultView) -> Self {
        ResultItem {
            id: r.id,
            test_id: r.test_id,
            name: pages::test_name(r.name, &r.parameters),
            suite: r.suite,
            outcome: r.outcome,
            flaky: r.flaky,
            duration: seconds(r.duration_ms),
            message: r.details.message.unwrap_or_default(),
            trace: r.details.trace.unwrap_or_default(),
        }
    }
}

/// One result in full, opened over the run page.
struct Drawer {
    result: ResultItem,
    file: String,
    stdout: String,
    stderr: String,
    attempts: Vec<AttemptItem>,
    labels: Vec<(String, String)>,
    signature: String,
    strips: Vec<super::history::Strip>,
}

struct AttemptItem {
    number: usize,
    outcome: &'static str,
    duration: String,
    message: String,
    trace: String,
}

impl From<ResultDrawer> for Drawer {
    fn from(d: ResultDrawer) -> Self {
        let r = d.result;
        let file = match (&r.file, r.details.line) {
            (Some(f), Some(line)) => format!("{f}:{line}"),
            (Some(f), None) => f.clone(),
            _ => String::new(),
        };
        Drawer {
            file,
            stdout: r.details.stdout.clone().unwrap_or_default(),
            stderr: r.details.stderr.clone().unwrap_or_default(),
            attempts: r
                .details
                .attempts
                .iter()
                .enumerate()
                .map(|(i, a)| AttemptItem {
                    number: i + 1,
                    outcome: a.outcome.name(),
                    duration: seconds(a.duration_ms.and_then(|d| i64::try_from(d).ok())),
                    message: a.message.clone().unwrap_or_default(),
                    trace: a.trace.clone().unwrap_or_default(),
                })
                .collect(),
            labels: r.details.labels.clone(),
            signature: r.signature.clone().unwrap_or_default(),
            strips: super::history::strips(&d.history),
            result: ResultItem::from(r),
        }
    }
}

/// A suite row of the run page's "by suite" view.
struct SuiteItem {
    suite: String,
    link: String,
    total: i64,
    failing: i64,
    skipped: i64,
    flaky: i64,
    duration: String,
}

/// An error row of the run page's "by error" view.
struct ErrorItem {
    signature: String,
    link: String,
    failures: i64,
    label: String,
    message: String,
    example: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    chrome: Chrome,
    project: ProjectView,
    run: RunItem,
    commit: String,
    build_url: String,
    results: Vec<ResultItem>,
    f: RunPageParams,
    /// Query strings of the previous and next pages, when there are such pages.
    newer: Option<String>,
    older: Option<String>,
    first_shown: i64,
    /// This page's query string without the open result (closing the drawer).
    here: String,
    /// The API address of this view's results as CSV (every page of them, up to 10,000).
    csv: String,
    drawer: Option<Drawer>,
    /// The open result's files, and the run's id their addresses need.
    files: Vec<testvault_core::cases::attachments::AttachmentView>,
    run_id: String,
    suites: Vec<SuiteItem>,
    errors: Vec<ErrorItem>,
}

/// The last page number a link may ask for (arithmetic on it must not overflow).
const MAX_PAGE: i64 = 1_000_000;

/// Results on one page of a run (a 100k-result run is paged, never listed whole).
const RUN_PAGE_RESULTS: i64 = 200;

/// The run page's view, filters, page and open result.
#[derive(Deserialize, Default)]
pub struct RunPageParams {
    /// `suite` or `error` for the grouped views; the result list otherwise.
    #[serde(default)]
    group: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    /// Present and empty: the tests without a suite.
    #[serde(default)]
    suite: Option<String>,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    result: Option<i64>,
}

impl RunPageParams {
    fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, MAX_PAGE)
    }

    /// This page's filters with another page number, as a query string.
    fn link(&self, page: i64) -> String {
        let mut out = format!("?page={page}");
        for (k, v) in [
            ("outcome", &self.outcome),
            ("q", &self.q),
            ("sort", &self.sort),
            ("signature", &self.signature),
        ] {
            if !v.trim().is_empty() {
                out.push_str(&format!("&{k}={}", pages::url_encode(v.trim())));
            }
        }
        if let Some(suite) = &self.suite {
            out.push_str(&format!("&suite={}", pages::url_encode(suite.trim())));
        }
        out
    }

    /// The suite filter as the page names it.
    fn suite_label(&self) -> &str {
        match self.suite.as_deref().map(str::trim) {
            Some("") => "(no suite)",
            Some(s) => s,
            None => "",
        }
    }

    fn grouped(&self) -> Option<&str> {
        match self.group.as_str() {
            g @ ("suite" | "error") => Some(g),
            _ => None,
        }
    }
}

pub async fn run(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, number)): Path<(String, String)>,
    Query(params): Query<RunPageParams>,
) -> Response {
    let read = || p.allow(Permission::ReadProjects);
    let loaded = async {
        let number: i64 = number.parse().map_err(|_| CoreError::NotFound("run"))?;
        let project = state.core.get_project(read()?, &slug).await?;
        let run = state.core.run_by_number(read()?, &slug, number).await?;
        let drawer = match params.result {
            Some(id) => Some(state.core.run_result(read()?, &slug, run.id, id).await?),
            None => None,
        };
        // The open result's files (reporters attach them to a test of the run).
        let run_id = run.id.to_string();
        let files = match &drawer {
            Some(d) => state
                .core
                .run_files(read()?, &slug, run.id, Some(&d.result))
                .await?
                .into_iter()
                .map(|f| f.file)
                .collect(),
            None => Vec::new(),
        };
        let (mut suites, mut errors, mut results) = (Vec::new(), Vec::new(), Vec::new());
        match params.grouped() {
            Some("suite") => suites = state.core.run_suites(read()?, &slug, run.id).await?,
            Some(_) => errors = state.core.run_errors(read()?, &slug, run.id).await?,
            None => {
                let query = ResultQuery {
                    outcome: Some(params.outcome.clone()),
                    q: Some(params.q.clone()),
                    sort: Some(params.sort.clone()),
                    suite: params.suite.clone(),
                    signature: Some(params.signature.clone()),
                    offset: Some((params.page() - 1) * RUN_PAGE_RESULTS),
                    // One more than shown: whether there is a next page.
                    limit: Some(RUN_PAGE_RESULTS + 1),
                };
                results = state
                    .core
                    .run_results(read()?, &slug, run.id, &query)
                    .await?;
            }
        }
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((
            project,
            run,
            (drawer, files, run_id),
            suites,
            errors,
            results,
            orgs,
        ))
    }
    .await;
    let (project, run, (drawer, files, run_id), suites, errors, mut results, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let page = params.page();
    let more = results.len() as i64 > RUN_PAGE_RESULTS;
    results.truncate(RUN_PAGE_RESULTS as usize);
    let title = format!("{} · {}", run.title, project.name);
    let suites = suites
        .into_iter()
        .map(|g| SuiteItem {
            link: format!("?suite={}", pages::url_encode(&g.suite)),
            suite: if g.suite.is_empty() {
                "(no suite)".into()
            } else {
                g.suite
            },
            total: g.total,
            failing: g.failing,
            skipped: g.skipped,
            flaky: g.flaky,
            duration: seconds(Some(g.duration_ms)),
        })
        .collect();
    let errors = errors
        .into_iter()
        .map(|g| ErrorItem {
            link: format!("?signature={}", g.signature),
            failures: g.failures,
            label: g.label.unwrap_or_default().replace('_', " "),
            message: g.example.details.message.clone().unwrap_or_default(),
            example: pages::test_name(g.example.name, &g.example.parameters),
            signature: g.signature,
        })
        .collect();
    let here = match params.grouped() {
        Some(g) => format!("?group={g}"),
        None => params.link(page),
    };
    let csv = format!(
        "/api/v1/projects/{}/runs/{}/results{}&format=csv&limit=10000",
        project.slug,
        run.id,
        params.link(1).replacen("?page=1", "?", 1)
    );
    render(
        StatusCode::OK,
        &RunPage {
            csv,
            chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
            commit: run.commit.clone().unwrap_or_default(),
            build_url: run.build_url.clone().unwrap_or_default(),
            run: RunItem::from(run),
            project,
            results: results.into_iter().map(ResultItem::from).collect(),
            newer: (page > 1).then(|| params.link(page - 1)),
            older: more.then(|| params.link(page + 1)),
            first_shown: (page - 1) * RUN_PAGE_RESULTS + 1,
            here,
            drawer: drawer.map(Drawer::from),
            files,
            run_id,
            suites,
            errors,
            f: params,
        },
    )
}
