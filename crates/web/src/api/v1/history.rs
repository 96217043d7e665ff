//! A test and its history across runs and branches; the project's flaky tests and failure
//! clusters.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_domain::Permission;

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    limit: Option<i64>,
}

/// Results the history holds by default.
pub const DEFAULT_HISTORY: i64 = 200;

pub async fn get_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(
        state
            .core
            .test_history(allowed, &slug, test, q.limit.unwrap_or(DEFAULT_HISTORY))
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct FlakyQuery {
    /// How many of the latest runs to read (default 200).
    #[serde(default)]
    runs: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The flaky-test report's window when none is asked for.
pub const DEFAULT_FLAKY_WINDOW: i64 = 200;

pub async fn flaky_tests(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<FlakyQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(
        state
            .core
            .flaky_tests(
                allowed,
                &slug,
                q.runs.unwrap_or(DEFAULT_FLAKY_WINDOW),
                q.limit.unwrap_or(100).clamp(1, 1000),
            )
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct ClustersQuery {
    /// How many of the latest runs to read (default 200).
    #[serde(default)]
    runs: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn failure_clusters(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<ClustersQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(
        state
            .core
            .failure_clusters(
                allowed,
                &slug,
                q.runs.unwrap_or(DEFAULT_FLAKY_WINDOW),
                q.limit.unwrap_or(100),
            )
            .await?,
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
