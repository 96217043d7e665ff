//! A test and its history across runs and branches; the project's flaky tests and failure
//! clusters.

use super::csv::{csv_response, json_or_csv};
use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::flaky::Window;
use testvault_domain::Permission;

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    limit: Option<i64>,
    /// `csv` for the history as a spreadsheet; JSON (with the statistics) otherwise.
    #[serde(default)]
    format: Option<String>,
}

/// Results the history holds by default.
pub const DEFAULT_HISTORY: i64 = 200;

pub async fn get_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    let view = state
        .core
        .test_history(allowed, &slug, test, q.limit.unwrap_or(DEFAULT_HISTORY))
        .await?;
    Ok(json_or_csv(
        q.format.as_deref(),
        view,
        "testvault-test-history.csv",
        "run_number,branch,started,outcome,flaky,tries,duration_ms",
        |view| {
            view.history
                .iter()
                .map(|h| {
                    vec![
                        h.run_number.to_string(),
                        h.branch.clone().unwrap_or_default(),
                        testvault_domain::time::format_utc(h.created_at),
                        h.outcome.to_string(),
                        h.flaky.to_string(),
                        h.tries.to_string(),
                        h.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
                    ]
                })
                .collect()
        },
    ))
}

#[derive(Deserialize)]
pub struct FlakyQuery {
    /// How many of the latest runs to read (default 200).
    #[serde(default)]
    runs: Option<i64>,
    /// Instead: the runs started in the last `days` days.
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

pub async fn flaky_tests(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<FlakyQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let window = Window {
        runs: q.runs,
        days: q.days,
    };
    let report = state
        .core
        .flaky_tests(
            allowed,
            &slug,
            window,
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(report).into_response());
    }
    let rows: Vec<Vec<String>> = report
        .tests
        .iter()
        .map(|t| {
            vec![
                t.test_id.to_string(),
                t.suite.clone(),
                t.name.clone(),
                t.parameters.clone(),
                t.flakiness.to_string(),
                t.flips.to_string(),
                t.passed_on_retry.to_string(),
                t.results.to_string(),
                t.pass_rate.map(|r| r.to_string()).unwrap_or_default(),
                t.last_outcome.to_string(),
                t.quarantined.to_string(),
                t.trend.to_string(),
            ]
        })
        .collect();
    Ok(csv_response(
        "testvault-flaky.csv",
        "test_id,suite,name,parameters,flakiness,flips,passed_on_retry,results,pass_rate,last_outcome,quarantined,trend",
        &rows,
    ))
}

#[derive(Deserialize)]
pub struct ClustersQuery {
    /// How many of the latest runs to read (default 200).
    #[serde(default)]
    runs: Option<i64>,
    /// Instead: the runs started in the last `days` days.
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

pub async fn failure_clusters(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<ClustersQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let window = Window {
        runs: q.runs,
        days: q.days,
    };
    let report = state
        .core
        .failure_clusters(allowed, &slug, window, q.limit.unwrap_or(100))
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(report).into_response());
    }
    let rows: Vec<Vec<String>> = report
        .clusters
        .iter()
        .map(|c| {
            vec![
                c.signature.clone(),
                c.failures.to_string(),
                c.tests.to_string(),
                c.first_run.to_string(),
                c.last_run.to_string(),
                c.headline.clone(),
                c.example_run.to_string(),
                c.example.name.clone(),
            ]
        })
        .collect();
    Ok(csv_response(
        "testvault-clusters.csv",
        "signature,failures,tests,first_run,last_run,headline,example_run,example_test",
        &rows,
    ))
}

#[derive(Deserialize)]
pub struct QuarantineBody {
    reason: String,
}

/// Quarantines a test: `{"reason": "…"}`.
pub async fn quarantine_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
    crate::extract::ApiJson(body): crate::extract::ApiJson<QuarantineBody>,
) -> Result<impl IntoResponse, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    let allowed = p.allow(Permission::ManagePlans)?;
    state
        .core
        .set_quarantine(allowed, &slug, test, Some(body.reason))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Releases a test from quarantine.
pub async fn release_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    let allowed = p.allow(Permission::ManagePlans)?;
    state
        .core
        .set_quarantine(allowed, &slug, test, None)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    /// How many of the latest runs (default 30, ≤ 200).
    #[serde(default)]
    runs: Option<i64>,
    /// `csv` for one of its tables as a spreadsheet (`table=trend`, the default, or `slowest`);
    /// JSON otherwise.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    table: Option<String>,
}

/// Runs the dashboard covers when none is asked for.
pub const DEFAULT_DASHBOARD_RUNS: i64 = 30;

pub async fn dashboard(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let d = state
        .core
        .dashboard(allowed, &slug, q.runs.unwrap_or(DEFAULT_DASHBOARD_RUNS))
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(d).into_response());
    }
    let opt = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
    match q.table.as_deref().unwrap_or("trend") {
        "trend" => Ok(csv_response(
            "testvault-trend.csv",
            "run_number,branch,total,failing,pass_rate,duration_ms",
            &d.trend
                .iter()
                .map(|t| {
                    vec![
                        t.run_number.to_string(),
                        t.branch.clone().unwrap_or_default(),
                        t.total.to_string(),
                        t.failing.to_string(),
                        opt(t.pass_rate),
                        t.duration_ms.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        )),
        "slowest" => Ok(csv_response(
            "testvault-slowest.csv",
            "test_id,suite,name,parameters,mean_ms,results",
            &d.slowest
                .iter()
                .map(|t| {
                    vec![
                        t.test_id.to_string(),
                        t.suite.clone(),
                        t.name.clone(),
                        t.parameters.clone(),
                        t.mean_ms.to_string(),
                        t.results.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        )),
        _ => Err(
            testvault_core::CoreError::from(testvault_domain::DomainError::new(
                "table",
                "must be trend or slowest",
            ))
            .into(),
        ),
    }
}

#[derive(Deserialize)]
pub struct HeatMapQuery {
    /// `suite` (default) or `test`.
    #[serde(default)]
    by: Option<String>,
    /// How many of the latest runs (default 30, ≤ 200).
    #[serde(default)]
    runs: Option<i64>,
    /// `csv` for a spreadsheet (one line per cell); JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

pub async fn heat_map(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<HeatMapQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let by = testvault_core::dashboard::HeatBy::parse(q.by.as_deref())?;
    let heat = state
        .core
        .heat_map(allowed, &slug, by, q.runs.unwrap_or(DEFAULT_DASHBOARD_RUNS))
        .await?;
    Ok(json_or_csv(
        q.format.as_deref(),
        heat,
        "testvault-heatmap.csv",
        "row,suite,test_id,run_number,failure_rate",
        |heat| {
            heat.rows
                .iter()
                .flat_map(|row| {
                    row.cells.iter().zip(&heat.runs).map(|(rate, run)| {
                        vec![
                            row.label.clone(),
                            row.suite.clone(),
                            row.test_id.map(|id| id.to_string()).unwrap_or_default(),
                            run.to_string(),
                            rate.map(|r| r.to_string()).unwrap_or_default(),
                        ]
                    })
                })
                .collect()
        },
    ))
}

#[derive(Deserialize)]
pub struct LabelBody {
    label: String,
    #[serde(default)]
    note: String,
}

/// Labels a failure cluster: `{"label": "product_bug", "note"?}`.
pub async fn label_cluster(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, signature)): Path<(String, String)>,
    crate::extract::ApiJson(body): crate::extract::ApiJson<LabelBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::Comment)?;
    state
        .core
        .label_cluster(allowed, &slug, &signature, Some((body.label, body.note)))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Clears a failure cluster's label.
pub async fn unlabel_cluster(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, signature)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::Comment)?;
    state
        .core
        .label_cluster(allowed, &slug, &signature, None)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
