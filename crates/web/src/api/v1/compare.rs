//! Comparing two runs, and the quality gate CI asks of it.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::compare::{Base, SlowerRule};
use testvault_core::{Allowed, Core};
use testvault_domain::{Permission, RunId};

#[derive(Deserialize)]
pub struct CompareQuery {
    /// A run id or number; default: the latest finished run on `base_branch`.
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    base_branch: Option<String>,
    #[serde(default)]
    slower_pct: Option<i64>,
    #[serde(default)]
    slower_min_ms: Option<i64>,
}

/// The branch a run is compared with when no base run is named.
pub const DEFAULT_BASE_BRANCH: &str = "main";

pub async fn compare_runs(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<CompareQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = || p.allow(Permission::ReadProjects);
    let head = run_ref(&state.core, allowed()?, &slug, &run).await?;
    let base = match q.base {
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) => Base::Number(n),
            Err(_) => Base::Run(parse_id(&raw, "base run")?),
        },
        None => Base::LatestOn(
            q.base_branch
                .unwrap_or_else(|| DEFAULT_BASE_BRANCH.to_string()),
        ),
    };
    let defaults = SlowerRule::default();
    let rule = SlowerRule {
        percent: q.slower_pct.unwrap_or(defaults.percent),
        min_ms: q.slower_min_ms.unwrap_or(defaults.min_ms),
    };
    Ok(data(
        state
            .core
            .compare_runs(allowed()?, &slug, head, base, rule)
            .await?,
    ))
}

/// A run named by its id or its number in the project.
pub async fn run_ref(
    core: &Core,
    allowed: Allowed<'_>,
    slug: &str,
    raw: &str,
) -> Result<RunId, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) => Ok(core.run_by_number(allowed, slug, n).await?.id),
        Err(_) => parse_id(raw, "run"),
    }
}
