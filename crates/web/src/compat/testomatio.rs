//! Testomat.io's reporter API, for `@testomatio/reporter`, `pytestomatio` and `check-tests`
//! (docs/REPORTERS.md). Answers carry what those clients read; errors are `{"message": …}`.

use super::{CompatError, call};
use crate::AppState;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testvault_core::RunQuery;
use testvault_core::reporters::check_tests::Load;
use testvault_core::reporters::testomatio::{Grep, Report, StartRun, UpdateRun};
use testvault_domain::{DomainError, Permission};

type Answer = Result<axum::response::Response, CompatError>;

fn parsed<T: DeserializeOwned>(body: Value) -> Result<T, CompatError> {
    let body = if body.is_null() { json!({}) } else { body };
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        CompatError::testomatio(testvault_core::CoreError::from(DomainError::new(
            "body",
            format!("`{path}`: {}", e.into_inner()),
        )))
    })
}

async fn read(state: &AppState, req: Request) -> Result<super::Call, CompatError> {
    call(state, req, state.settings.batch_limit_bytes)
        .await
        .map_err(CompatError::testomatio)
}

/// `POST /api/reporter`: start a run (or join a shared one).
pub async fn start_run(State(state): State<AppState>, req: Request) -> Answer {
    let c = read(&state, req).await?;
    let body: StartRun = parsed(c.body)?;
    let allowed = c
        .principal
        .allow(Permission::ReportResults)
        .map_err(CompatError::testomatio)?;
    let run = state
        .core
        .testomatio_start(allowed, body)
        .await
        .map_err(CompatError::testomatio)?;
    Ok((StatusCode::OK, Json(run)).into_response())
}

/// `PUT /api/reporter/{uid}`: update or finish a run.
pub async fn update_run(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let body: UpdateRun = parsed(c.body)?;
    let allowed = c
        .principal
        .allow(Permission::ReportResults)
        .map_err(CompatError::testomatio)?;
    let run = state
        .core
        .testomatio_update(allowed, &uid, body)
        .await
        .map_err(CompatError::testomatio)?;
    Ok(Json(run).into_response())
}

/// `POST /api/reporter/{uid}/testrun`: one test, or `{tests: […], batch_index}`.
pub async fn report_tests(
    State(state): State<AppState>,
    Path(uid): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let report: Report = parsed(c.body)?;
    let allowed = c
        .principal
        .allow(Permission::ReportResults)
        .map_err(CompatError::testomatio)?;
    let stored = state
        .core
        .testomatio_report(allowed, &uid, report)
        .await
        .map_err(CompatError::testomatio)?;
    Ok(Json(json!({ "status": "ok", "stored": stored })).into_response())
}

/// `GET /api/test_grep?type=…&id=…`: the ids of the tests a filter selects.
pub async fn grep_tests(State(state): State<AppState>, req: Request) -> Answer {
    let c = read(&state, req).await?;
    let grep = Grep {
        kind: c.param("type").map(String::from),
        id: c.param("id").map(String::from),
    };
    let allowed = c
        .principal
        .allow(Permission::ReadProjects)
        .map_err(CompatError::testomatio)?;
    let tests = state
        .core
        .testomatio_grep(allowed, grep)
        .await
        .map_err(CompatError::testomatio)?;
    Ok(Json(json!({ "tests": tests })).into_response())
}

/// `POST /api/load?api_key=…`: `check-tests` sends the tests it found in the source.
pub async fn load_tests(State(state): State<AppState>, req: Request) -> Answer {
    let c = read(&state, req).await?;
    let load: Load = parsed(c.body)?;
    let allowed = c
        .principal
        .allow(Permission::WriteCases)
        .map_err(CompatError::testomatio)?;
    let loaded = state
        .core
        .testomatio_load(allowed, load)
        .await
        .map_err(CompatError::testomatio)?;
    Ok(Json(loaded).into_response())
}

/// `GET /api/test_data?api_key=…`: the ids `check-tests --update-ids` writes into the source.
pub async fn test_data(State(state): State<AppState>, req: Request) -> Answer {
    let c = read(&state, req).await?;
    let allowed = c
        .principal
        .allow(Permission::ReadProjects)
        .map_err(CompatError::testomatio)?;
    let data = state
        .core
        .testomatio_test_data(allowed)
        .await
        .map_err(CompatError::testomatio)?;
    Ok(Json(data).into_response())
}

/// `GET /api/v2/{project}/runs?search=…&per_page=…` (Bearer): the reporter's `fetch` command.
pub async fn list_runs(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let per_page = c
        .param("per_page")
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(10);
    let query = RunQuery {
        q: c.param("search").map(String::from),
        ..RunQuery::default()
    };
    let allowed = c
        .principal
        .allow(Permission::ReadProjects)
        .map_err(CompatError::testomatio)?;
    let runs = state
        .core
        .list_runs(allowed, &project, &query, None, per_page.clamp(1, 100))
        .await
        .map_err(CompatError::testomatio)?;
    let base = state
        .core
        .settings()
        .public_url
        .trim_end_matches('/')
        .to_string();
    let data: Vec<Value> = runs
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id.to_string(),
                "title": r.title,
                "status": r.status,
                "url": format!("{base}/projects/{project}/runs/{}", r.number),
                "launched_at": testvault_domain::time::format_utc(r.created_at),
                "finished_at": r.finished_at.map(testvault_domain::time::format_utc),
                "passed_count": r.counts.passed,
                "failed_count": r.counts.failed + r.counts.errored,
                "skipped_count": r.counts.skipped,
                "tests_count": r.counts.total,
                "env": r.environment.get("env"),
                "ci_build_url": r.build_url,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })).into_response())
}
