//! A test and its history across runs and branches.

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
