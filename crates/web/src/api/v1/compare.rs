//! Comparing two runs, and the quality gate CI asks of it.

use super::csv::csv_response;
use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::compare::{Base, Outline, SlowerRule};
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
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

/// The branch a run is compared with when no base run is named.
pub const DEFAULT_BASE_BRANCH: &str = "main";

pub async fn compare_runs(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<CompareQuery>,
) -> Result<Response, ApiError> {
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
    let view = state
        .core
        .compare_runs(allowed()?, &slug, head, base, rule)
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(view).into_response());
    }
    let side = |o: &Option<Outline>| match o {
        Some(o) => (
            o.outcome.to_string(),
            o.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    let mut rows = Vec::new();
    for (category, tests) in [
        ("new_failure", &view.new_failures),
        ("fixed", &view.fixed),
        ("still_failing", &view.still_failing),
        ("slower", &view.slower),
        ("added", &view.added),
        ("removed", &view.removed),
    ] {
        for t in tests {
            let (base_outcome, base_ms) = side(&t.base);
            let (head_outcome, head_ms) = side(&t.head);
            rows.push(vec![
                category.to_string(),
                t.test_id.to_string(),
                t.suite.clone(),
                t.name.clone(),
                t.parameters.clone(),
                base_outcome,
                base_ms,
                head_outcome,
                head_ms,
                t.quarantined.to_string(),
            ]);
        }
    }
    Ok(csv_response(
        "testvault-compare.csv",
        "category,test_id,suite,name,parameters,base_outcome,base_ms,head_outcome,head_ms,quarantined",
        &rows,
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
