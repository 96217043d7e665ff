//! Milestones, plans and manual runs.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::plans::manual::{ManualRunSpec, Verdict};
use testvault_core::plans::{MilestoneSpec, PlanSpec};
use testvault_domain::{Permission, RunId};
use uuid::Uuid;

pub async fn list_milestones(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .list_milestones(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

/// `{"name", "description"?, "due_on"?: "YYYY-MM-DD"}`
pub async fn create_milestone(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<MilestoneSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let id = state
        .core
        .create_milestone(p.allow(Permission::ManagePlans)?, &slug, body)
        .await?;
    Ok((StatusCode::CREATED, data(serde_json::json!({ "id": id }))))
}

#[derive(Deserialize)]
pub struct MilestoneStatus {
    status: String,
}

/// `{"status": "open" | "closed"}`
pub async fn update_milestone(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MilestoneStatus>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = parse_id(&id, "milestone")?;
    let open =
        match body.status.as_str() {
            "open" => true,
            "closed" => false,
            _ => {
                return Err(testvault_core::CoreError::Invalid(
                    testvault_domain::DomainError::new("status", "must be open or closed"),
                )
                .into());
            }
        };
    state
        .core
        .set_milestone_open(p.allow(Permission::ManagePlans)?, &slug, id, open)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_plans(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .list_plans(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

/// `{"name", "description"?, "milestone"?, "selection": {"suites"?, "tags"?, "filter"?, "keys"?}}`
pub async fn create_plan(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<PlanSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let plan = state
        .core
        .create_plan(p.allow(Permission::ManagePlans)?, &slug, body)
        .await?;
    Ok((StatusCode::CREATED, data(plan)))
}

/// `{"title"?, "plan"?, "milestone"?, "keys"?, "assignee"?, "branch"?}` → the new run.
pub async fn create_manual_run(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<ManualRunSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let run = state
        .core
        .create_manual_run(p.allow(Permission::ExecuteRuns)?, &slug, body)
        .await?;
    Ok((StatusCode::CREATED, data(run)))
}

pub async fn get_manual_run(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    Ok(data(
        state
            .core
            .manual_run(p.allow(Permission::ReadProjects)?, &slug, run)
            .await?,
    ))
}

/// `{"outcome": "passed"|"failed"|"blocked"|"skipped"|"untested", "note"?, "steps"?: [{outcome, note}], "elapsed_ms"?}`
pub async fn record_verdict(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run, key)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<Verdict>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    Ok(data(
        state
            .core
            .record_verdict(p.allow(Permission::ExecuteRuns)?, &slug, run, &key, body)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct Assignee {
    #[serde(default)]
    assignee: Option<String>,
}

pub async fn assign(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run, key)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<Assignee>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    state
        .core
        .assign_manual_case(
            p.allow(Permission::ExecuteRuns)?,
            &slug,
            run,
            &key,
            body.assignee,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Completes a manual run: verdicts become results; the run is frozen.
pub async fn complete(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    Ok(data(
        state
            .core
            .complete_manual_run(p.allow(Permission::ExecuteRuns)?, &slug, run)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct FileQuery {
    #[serde(default)]
    name: Option<String>,
}

/// Attaches the body (a file) to a case's verdict in a running manual run.
pub async fn add_verdict_file(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run, key)): Path<(String, String, String)>,
    axum::extract::Query(q): axum::extract::Query<FileQuery>,
    req: axum::extract::Request,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ExecuteRuns)?;
    let bytes =
        crate::extract::body_bytes_within(req, testvault_core::cases::attachments::MAX_BYTES + 1)
            .await?;
    let view = state
        .core
        .add_verdict_file(
            allowed,
            &slug,
            run,
            &key,
            q.name.as_deref().unwrap_or("attachment"),
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, data(view)))
}
