//! A run by suite and by error signature, and one result in full with its history strip.

use super::csv::json_or_csv;
use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_domain::{Permission, RunId};

#[derive(Deserialize)]
pub struct FormatQuery {
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

pub async fn suites(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    let groups = state.core.run_suites(allowed, &slug, run).await?;
    Ok(json_or_csv(
        q.format.as_deref(),
        groups,
        "testvault-run-suites.csv",
        "suite,total,failing,skipped,flaky,duration_ms",
        |groups| {
            groups
                .iter()
                .map(|g| {
                    vec![
                        g.suite.clone(),
                        g.total.to_string(),
                        g.failing.to_string(),
                        g.skipped.to_string(),
                        g.flaky.to_string(),
                        g.duration_ms.to_string(),
                    ]
                })
                .collect()
        },
    ))
}

pub async fn errors(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    let groups = state.core.run_errors(allowed, &slug, run).await?;
    Ok(json_or_csv(
        q.format.as_deref(),
        groups,
        "testvault-run-errors.csv",
        "signature,failures,label,example_message,example_suite,example_name",
        |groups| {
            groups
                .iter()
                .map(|g| {
                    vec![
                        g.signature.clone(),
                        g.failures.to_string(),
                        g.label.clone().unwrap_or_default(),
                        g.example.details.message.clone().unwrap_or_default(),
                        g.example.suite.clone(),
                        g.example.name.clone(),
                    ]
                })
                .collect()
        },
    ))
}

pub async fn result(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run, result)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let result: i64 = parse_id(&result, "result")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(
        state.core.run_result(allowed, &slug, run, result).await?,
    ))
}
