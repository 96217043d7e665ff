//! The test page: a test's history as a status strip per branch, a duration sparkline, its
//! statistics and its latest results.

use super::PageCsrf;
use super::pages::{self, Chrome, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::CoreError;
use testvault_core::dashboard::{HeatBy, HeatMap};
use testvault_core::flaky::Window;
use testvault_core::history::{HistoryPoint, TestStats, TestView};
use testvault_domain::Permission;

/// Results the page reads.
const PAGE_HISTORY: i64 = 200;
/// Width of one cell of the strip, in SVG units.
const CELL: usize = 10;
const SPARK_WIDTH: f64 = 600.0;
const SPARK_HEIGHT: f64 = 48.0;

pub(super) struct Cell {
    pub(super) x: usize,
    pub(super) class: &'static str,
    pub(super) label: String,
    pub(super) run: i64,
}

pub(super) struct Strip {
    pub(super) branch: String,
    pub(super) width: usize,
    pub(super) cells: Vec<Cell>,
}

struct QuarantineItem {
    since: String,
    by: String,
    reason: String,
}

struct Row {
    run: i64,
    branch: String,
    when: String,
    outcome: &'static str,
    flaky: bool,
    tries: i32,
    duration: String,
}

#[derive(Template)]
#[template(path = "test.html")]
struct TestPage {
    chrome: Chrome,
    test_id: i64,
    quarantine: Option<QuarantineItem>,
    can_quarantine: bool,
    /// The manual case this test covers, if any.
    linked_case: Option<testvault_core::cases::LinkedCase>,
    can_link: bool,
    slug: String,
    project_name: String,
    name: String,
    suite: String,
    key: String,
    file: String,
    stats: TestStats,
    strips: Vec<Strip>,
    spark: String,
    spark_label: String,
    rows: Vec<Row>,
}

fn duration(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{ms} ms")).unwrap_or_default()
}

/// One strip per branch (the most recently run first), oldest result on the left.
pub(super) fn strips(history: &[HistoryPoint]) -> Vec<Strip> {
    let mut order: Vec<String> = Vec::new();
    for p in history {
        let b = p.branch.clone().unwrap_or_default();
        if !order.contains(&b) {
            order.push(b);
        }
    }
    order
        .into_iter()
        .map(|branch| {
            let points: Vec<&HistoryPoint> = history
                .iter()
                .rev()
                .filter(|p| p.branch.as_deref().unwrap_or_default() == branch)
                .collect();
            let cells: Vec<Cell> = points
                .iter()
                .enumerate()
                .map(|(i, p)| Cell {
                    x: i * CELL,
                    class: if p.flaky && p.outcome == "passed" {
                        "flaky"
                    } else {
                        p.outcome
                    },
                    label: format!(
                        "#{}: {}{}{}",
                        p.run_number,
                        p.outcome,
                        if p.flaky { " on retry" } else { "" },
                        p.duration_ms
                            .map(|d| format!(", {d} ms"))
                            .unwrap_or_default()
                    ),
                    run: p.run_number,
                })
                .collect();
            Strip {
                branch: if branch.is_empty() {
                    "(no branch)".into()
                } else {
                    branch
                },
                width: cells.len().max(1) * CELL,
                cells,
            }
        })
        .collect()
}

/// The `points` of a polyline of durations, oldest on the left, scaled to the box.
fn sparkline(history: &[HistoryPoint]) -> String {
    let values: Vec<i64> = history.iter().rev().filter_map(|p| p.duration_ms).collect();
    let Some(max) = values.iter().copied().max().filter(|m| *m > 0) else {
        return String::new();
    };
    let step = if values.len() > 1 {
        SPARK_WIDTH / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = SPARK_HEIGHT - (*v as f64 / max as f64) * (SPARK_HEIGHT - 4.0) - 2.0;
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, test)): Path<(String, String)>,
) -> Response {
    let loaded = async {
        let test: i64 = test.parse().map_err(|_| CoreError::NotFound("test"))?;
        let allowed = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(allowed()?, &slug).await?;
        let view = state
            .core
            .test_history(allowed()?, &slug, test, PAGE_HISTORY)
            .await?;
        let linked_case = state.core.case_for_test(allowed()?, &slug, test).await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, view, linked_case, orgs))
    }
    .await;
    match loaded {
        Ok((project, view, linked_case, orgs)) => {
            let can_quarantine = p.can_in(Permission::ManagePlans, project.id);
            let can_link = p.can_in(Permission::WriteCases, project.id);
            let TestView {
                id,
                quarantine,
                key,
                suite,
                name,
                parameters,
                file,
                stats,
                history,
            } = view;
            let name = pages::test_name(name, &parameters);
            let title = format!("{name} · {}", project.name);
            let durations = history.iter().filter(|p| p.duration_ms.is_some()).count();
            render(
                StatusCode::OK,
                &TestPage {
                    chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
                    test_id: id,
                    quarantine: quarantine.map(|q| QuarantineItem {
                        since: when(q.since),
                        by: q.by,
                        reason: q.reason,
                    }),
                    can_quarantine,
                    linked_case,
                    can_link,
                    slug: project.slug.clone(),
                    project_name: project.name.clone(),
                    strips: strips(&history),
                    spark: sparkline(&history),
                    spark_label: format!(
                        "Duration of the last {durations} results, oldest on the left; median {}",
                        duration(stats.median_ms)
                    ),
                    rows: history
                        .iter()
                        .map(|h| Row {
                            run: h.run_number,
                            branch: h.branch.clone().unwrap_or_default(),
                            when: when(h.created_at),
                            outcome: h.outcome,
                            flaky: h.flaky,
                            tries: h.tries,
                            duration: duration(h.duration_ms),
                        })
                        .collect(),
                    name,
                    suite,
                    key,
                    file: file.unwrap_or_default(),
                    stats,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

struct FlakyRow {
    test_id: i64,
    name: String,
    suite: String,
    flakiness: u32,
    flips: usize,
    passed_on_retry: usize,
    results: usize,
    pass_rate: String,
    last_outcome: &'static str,
    quarantined: bool,
    trend: &'static str,
}

#[derive(Template)]
#[template(path = "flaky.html")]
struct FlakyPage {
    window_days: Option<i64>,
    windows: Vec<(String, String, bool)>,
    chrome: Chrome,
    slug: String,
    project_name: String,
    window_runs: i64,
    total: usize,
    rows: Vec<FlakyRow>,
}

/// Links to the usual windows, the current one marked.
fn window_choices(runs: i64, days: Option<i64>) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = [50, 200, 1000]
        .into_iter()
        .map(|n| {
            (
                format!("?runs={n}"),
                format!("{n} runs"),
                days.is_none() && runs == n,
            )
        })
        .collect();
    out.extend(
        [7, 30, 90]
            .into_iter()
            .map(|d| (format!("?days={d}"), format!("{d} days"), days == Some(d))),
    );
    out
}

/// Flaky tests listed on the page.
const FLAKY_SHOWN: usize = 200;

pub async fn flaky_page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(window): Query<Window>,
) -> Response {
    let loaded = async {
        let allowed = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(allowed()?, &slug).await?;
        let report = state
            .core
            .flaky_tests(allowed()?, &slug, window, FLAKY_SHOWN)
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, report, orgs))
    }
    .await;
    match loaded {
        Ok((project, report, orgs)) => {
            let title = format!("Flaky tests · {}", project.name);
            render(
                StatusCode::OK,
                &FlakyPage {
                    chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
                    slug: project.slug.clone(),
                    project_name: project.name.clone(),
                    window_runs: report.window_runs,
                    window_days: window.days,
                    windows: window_choices(report.window_runs, window.days),
                    total: report.total,
                    rows: report
                        .tests
                        .into_iter()
                        .map(|t| FlakyRow {
                            test_id: t.test_id,
                            name: pages::test_name(t.name, &t.parameters),
                            suite: t.suite,
                            flakiness: t.flakiness,
                            flips: t.flips,
                            passed_on_retry: t.passed_on_retry,
                            results: t.results,
                            pass_rate: t.pass_rate.map(|r| format!("{r} %")).unwrap_or_default(),
                            last_outcome: t.last_outcome,
                            quarantined: t.quarantined,
                            trend: t.trend,
                        })
                        .collect(),
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

struct ClusterRow {
    label: String,
    label_text: String,
    note: String,
    headline: String,
    signature: String,
    failures: i64,
    tests: i64,
    first_run: i64,
    last_run: i64,
    example_test: i64,
    example_name: String,
    example_run: i64,
    trace: String,
}

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    window_days: Option<i64>,
    windows: Vec<(String, String, bool)>,
    chrome: Chrome,
    slug: String,
    project_name: String,
    window_runs: i64,
    rows: Vec<ClusterRow>,
    can_label: bool,
    /// `(value, text)` of each label.
    labels: Vec<(&'static str, String)>,
}

/// Clusters listed on the page.
const CLUSTERS_SHOWN: i64 = 100;

pub async fn clusters_page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(window): Query<Window>,
) -> Response {
    let loaded = async {
        let allowed = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(allowed()?, &slug).await?;
        let report = state
            .core
            .failure_clusters(allowed()?, &slug, window, CLUSTERS_SHOWN)
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, report, orgs))
    }
    .await;
    match loaded {
        Ok((project, report, orgs)) => {
            let title = format!("Failure clusters · {}", project.name);
            render(
                StatusCode::OK,
                &ClustersPage {
                    chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
                    slug: project.slug.clone(),
                    project_name: project.name.clone(),
                    window_runs: report.window_runs,
                    window_days: window.days,
                    windows: window_choices(report.window_runs, window.days),
                    can_label: p.can_in(Permission::Comment, project.id),
                    labels: testvault_core::clusters::LABELS
                        .iter()
                        .map(|l| (*l, l.replace('_', " ")))
                        .collect(),
                    rows: report
                        .clusters
                        .into_iter()
                        .map(|c| ClusterRow {
                            label_text: c.label.as_deref().unwrap_or_default().replace('_', " "),
                            label: c.label.unwrap_or_default(),
                            note: c.note.unwrap_or_default(),
                            headline: c.headline,
                            signature: c.signature,
                            failures: c.failures,
                            tests: c.tests,
                            first_run: c.first_run,
                            last_run: c.last_run,
                            example_test: c.example.test_id,
                            example_name: pages::test_name(c.example.name, &c.example.parameters),
                            example_run: c.example_run,
                            trace: c.example.details.trace.unwrap_or_default(),
                        })
                        .collect(),
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct QuarantineForm {
    reason: String,
}

/// Quarantines a test from its page.
pub async fn quarantine(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, test)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<QuarantineForm>,
) -> Response {
    change_quarantine(&state, &p, &slug, &test, Some(form.reason)).await
}

#[derive(Deserialize)]
pub struct ReleaseForm {}

/// Releases a test from quarantine, from its page.
pub async fn release(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, test)): Path<(String, String)>,
    CsrfForm(_form): CsrfForm<ReleaseForm>,
) -> Response {
    change_quarantine(&state, &p, &slug, &test, None).await
}

async fn change_quarantine(
    state: &AppState,
    p: &testvault_core::Principal,
    slug: &str,
    test: &str,
    reason: Option<String>,
) -> Response {
    let result = async {
        let id: i64 = test.parse().map_err(|_| CoreError::NotFound("test"))?;
        state
            .core
            .set_quarantine(p.allow(Permission::ManagePlans)?, slug, id, reason)
            .await?;
        Ok::<_, CoreError>(id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/projects/{slug}/tests/{id}")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

/// One bar of the pass-rate chart (SVG units: 24 wide per run, 100 high).
struct Bar {
    x: usize,
    y: u32,
    height: u32,
    class: &'static str,
    run: i64,
    label: String,
}

struct HeatCell {
    x: usize,
    class: &'static str,
    href: String,
    label: String,
}

struct HeatRow {
    label: String,
    /// The test's suite (tests × runs only).
    suite: String,
    href: String,
    cells: Vec<HeatCell>,
}

/// The heat map's rows as the pages draw them: a suite's cell opens that run filtered to the
/// suite; a test's cell opens the test's history.
fn heat_rows(slug: &str, heat: &HeatMap) -> Vec<HeatRow> {
    heat.rows
        .iter()
        .map(|row| {
            let label = if row.label.is_empty() {
                "(no suite)".to_string()
            } else {
                row.label.clone()
            };
            let href_at = |run: i64| match row.test_id {
                Some(id) => format!("/projects/{slug}/tests/{id}"),
                None => format!(
                    "/projects/{slug}/runs/{run}?suite={}",
                    pages::url_encode(&row.suite)
                ),
            };
            HeatRow {
                // A test opens its history; a suite, its results in the latest run shown.
                href: match (row.test_id, heat.runs.last()) {
                    (Some(id), _) => format!("/projects/{slug}/tests/{id}"),
                    (None, Some(run)) => href_at(*run),
                    (None, None) => format!("/projects/{slug}"),
                },
                suite: if row.test_id.is_some() {
                    row.suite.clone()
                } else {
                    String::new()
                },
                cells: row
                    .cells
                    .iter()
                    .zip(&heat.runs)
                    .enumerate()
                    .map(|(i, (rate, run))| HeatCell {
                        x: i * RUN_WIDTH,
                        class: heat_class(*rate),
                        href: href_at(*run),
                        label: match rate {
                            Some(r) => format!("{label} in #{run}: {r} % failing"),
                            None => format!("{label} did not run in #{run}"),
                        },
                    })
                    .collect(),
                label,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "heatmap.html")]
struct HeatMapPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    by_test: bool,
    window_runs: i64,
    heat_width: usize,
    heat: Vec<HeatRow>,
}

#[derive(Deserialize, Default)]
pub struct HeatMapParams {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    runs: Option<i64>,
}

pub async fn heat_map_page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
    Query(params): Query<HeatMapParams>,
) -> Response {
    let window = params
        .runs
        .unwrap_or(crate::api::v1::history::DEFAULT_DASHBOARD_RUNS);
    let loaded = async {
        let allowed = || p.allow(Permission::ReadProjects);
        let by = HeatBy::parse(params.by.as_deref())?;
        let project = state.core.get_project(allowed()?, &slug).await?;
        let heat = state.core.heat_map(allowed()?, &slug, by, window).await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, heat, orgs))
    }
    .await;
    let (project, heat, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let title = format!("Heat map · {}", project.name);
    render(
        StatusCode::OK,
        &HeatMapPage {
            chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
            by_test: heat.by == HeatBy::Test,
            window_runs: window.clamp(1, testvault_core::dashboard::MAX_WINDOW_RUNS),
            heat_width: heat.runs.len().max(1) * RUN_WIDTH,
            heat: heat_rows(&project.slug, &heat),
            slug: project.slug,
            project_name: project.name,
        },
    )
}

struct SlowRow {
    test_id: i64,
    name: String,
    suite: String,
    mean: String,
    results: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    window_runs: i64,
    chart_width: usize,
    bars: Vec<Bar>,
    durations: String,
    duration_label: String,
    heat_width: usize,
    heat: Vec<HeatRow>,
    slowest: Vec<SlowRow>,
}

/// Width of one run in the charts, in SVG units.
const RUN_WIDTH: usize = 24;

fn heat_class(rate: Option<u32>) -> &'static str {
    match rate {
        None => "none",
        Some(0) => "0",
        Some(r) if r < 10 => "1",
        Some(r) if r < 50 => "2",
        Some(_) => "3",
    }
}

pub async fn dashboard_page(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    let loaded = async {
        let allowed = || p.allow(Permission::ReadProjects);
        let project = state.core.get_project(allowed()?, &slug).await?;
        let d = state
            .core
            .dashboard(
                allowed()?,
                &slug,
                crate::api::v1::history::DEFAULT_DASHBOARD_RUNS,
            )
            .await?;
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((project, d, orgs))
    }
    .await;
    let (project, d, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let bars = d
        .trend
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let rate = t.pass_rate.unwrap_or(0);
            Bar {
                x: i * RUN_WIDTH,
                y: 100 - rate,
                height: rate.max(1),
                class: if t.failing > 0 { "failed" } else { "passed" },
                run: t.run_number,
                label: format!(
                    "#{}: {} passed, {} failing of {}",
                    t.run_number,
                    t.pass_rate
                        .map(|r| format!("{r} %"))
                        .unwrap_or_else(|| "nothing".into()),
                    t.failing,
                    t.total
                ),
            }
        })
        .collect();
    let max_ms = d
        .trend
        .iter()
        .map(|t| t.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let durations = d
        .trend
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{},{}",
                i * RUN_WIDTH + RUN_WIDTH / 2,
                100 - t.duration_ms * 96 / max_ms - 2
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let heat = heat_rows(&project.slug, &d.heat);
    let title = format!("Dashboard · {}", project.name);
    render(
        StatusCode::OK,
        &DashboardPage {
            chrome: Chrome::app(&title, "projects", &csrf, &p, orgs),
            slug: project.slug.clone(),
            project_name: project.name.clone(),
            window_runs: d.window_runs,
            chart_width: d.trend.len().max(1) * RUN_WIDTH,
            bars,
            durations,
            duration_label: format!("Run duration, the longest {}", duration(Some(max_ms))),
            heat_width: d.heat.runs.len().max(1) * RUN_WIDTH,
            heat,
            slowest: d
                .slowest
                .into_iter()
                .map(|s| SlowRow {
                    test_id: s.test_id,
                    name: pages::test_name(s.name, &s.parameters),
                    suite: s.suite,
                    mean: duration(Some(s.mean_ms)),
                    results: s.results,
                })
                .collect(),
        },
    )
}

#[derive(Deserialize)]
pub struct LabelForm {
    /// Empty clears the label.
    label: String,
    #[serde(default)]
    note: String,
}

/// Labels (or, with an empty label, unlabels) a failure cluster from the clusters page.
pub async fn label_cluster(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    Path((slug, signature)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<LabelForm>,
) -> Response {
    let label = (!form.label.is_empty()).then_some((form.label, form.note));
    let result = async {
        state
            .core
            .label_cluster(p.allow(Permission::Comment)?, &slug, &signature, label)
            .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/projects/{slug}/clusters")).into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}
