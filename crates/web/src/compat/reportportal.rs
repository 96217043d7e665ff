//! ReportPortal's API (v1 and v2 paths), for `@reportportal/client-javascript` and its agents
//! (docs/REPORTERS.md). The project in the path is a Testvault project slug; the key is a
//! Bearer token. Errors are `{"errorCode": …, "message": …}`.

use super::{Call, CompatError, call};
use crate::AppState;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testvault_core::reporters::reportportal::{
    Attachment, FinishItem, LogEntry, StartItem, StartLaunch,
};
use testvault_domain::{DomainError, Permission};

type Answer = Result<Response, CompatError>;

fn rp(e: impl Into<crate::error::ApiError>) -> CompatError {
    CompatError::reportportal(e)
}

fn parsed<T: DeserializeOwned>(body: Value) -> Result<T, CompatError> {
    let body = if body.is_null() { json!({}) } else { body };
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        rp(testvault_core::CoreError::from(DomainError::new(
            "body",
            format!("`{path}`: {}", e.into_inner()),
        )))
    })
}

async fn read(state: &AppState, req: Request) -> Result<Call, CompatError> {
    call(state, req, state.settings.batch_limit_bytes)
        .await
        .map_err(rp)
}

/// `GET /api/info`: what the clients check the server by.
pub async fn info() -> Response {
    Json(json!({
        "build": { "name": "Testvault (ReportPortal-compatible API)", "version": "5.11.0" },
        "extensions": {},
    }))
    .into_response()
}

/// `POST /api/v1/{project}/launch`.
pub async fn start_launch(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let body: StartLaunch = parsed(c.body)?;
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    let launch = state
        .core
        .rp_start_launch(allowed, &project, body)
        .await
        .map_err(rp)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": launch.id, "number": launch.number })),
    )
        .into_response())
}

/// `PUT /api/v1/{project}/launch/{uuid}/finish` (also `/stop`).
pub async fn finish_launch(
    State(state): State<AppState>,
    Path((project, launch)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    let done = state
        .core
        .rp_finish_launch(allowed, &project, &launch)
        .await
        .map_err(rp)?;
    Ok(Json(done).into_response())
}

/// `PUT /api/v1/{project}/launch/{uuid}/update`: accepted; a run's description and attributes
/// are set when it starts.
pub async fn update_launch(
    State(state): State<AppState>,
    Path((project, launch)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    let view = state
        .core
        .rp_launch(allowed, &project, &launch)
        .await
        .map_err(rp)?;
    Ok(Json(
        json!({ "message": format!("Launch with ID = '{}' successfully updated.", view.uuid) }),
    )
    .into_response())
}

/// `GET /api/v1/{project}/launch?page.size=…`: the newest launches (the connection check).
pub async fn list_launches(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let size = c
        .param("page.size")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(20);
    let allowed = c.principal.allow(Permission::ReadProjects).map_err(rp)?;
    let content = state
        .core
        .rp_launches(allowed, &project, size)
        .await
        .map_err(rp)?;
    let n = content.len();
    Ok(Json(json!({
        "content": content,
        "page": { "number": 1, "size": size, "totalElements": n, "totalPages": 1 },
    }))
    .into_response())
}

/// `GET /api/v1/{project}/launch/{uuid}` (also `launch/uuid/{uuid}`).
pub async fn get_launch(
    State(state): State<AppState>,
    Path((project, launch)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let allowed = c.principal.allow(Permission::ReadProjects).map_err(rp)?;
    let view = state
        .core
        .rp_launch(allowed, &project, &launch)
        .await
        .map_err(rp)?;
    Ok(Json(view).into_response())
}

async fn start_item_under(
    state: AppState,
    project: String,
    parent: Option<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let body: StartItem = parsed(c.body)?;
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    let id = state
        .core
        .rp_start_item(allowed, &project, parent.as_deref(), body)
        .await
        .map_err(rp)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `POST /api/v1/{project}/item/`: a root item.
pub async fn start_root_item(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Answer {
    start_item_under(state, project, None, req).await
}

/// `POST /api/v1/{project}/item/{parent}`: a child item.
pub async fn start_child_item(
    State(state): State<AppState>,
    Path((project, parent)): Path<(String, String)>,
    req: Request,
) -> Answer {
    start_item_under(state, project, Some(parent), req).await
}

/// `PUT /api/v1/{project}/item/{id}`: finish an item.
pub async fn finish_item(
    State(state): State<AppState>,
    Path((project, item)): Path<(String, String)>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let body: FinishItem = parsed(c.body)?;
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    state
        .core
        .rp_finish_item(allowed, &project, &item, body)
        .await
        .map_err(rp)?;
    Ok(
        Json(json!({ "message": format!("TestItem with ID = '{item}' successfully finished.") }))
            .into_response(),
    )
}

/// `POST /api/v1/{project}/log`: one entry as JSON, or a `multipart/form-data` form whose
/// `json_request_part` is a JSON array of entries and whose `file` parts are their files.
pub async fn create_log(
    State(state): State<AppState>,
    Path(project): Path<String>,
    req: Request,
) -> Answer {
    let c = read(&state, req).await?;
    let multipart = !c.form.is_empty();
    let (entries, files): (Vec<LogEntry>, Vec<Attachment>) = if multipart {
        let mut entries = Vec::new();
        let mut files = Vec::new();
        for part in c.form {
            match (part.name.as_deref(), part.filename) {
                (Some("json_request_part"), None) => {
                    let value: Value = serde_json::from_slice(&part.bytes).map_err(|e| {
                        rp(testvault_core::CoreError::from(DomainError::new(
                            "json_request_part",
                            format!("is not JSON: {e}"),
                        )))
                    })?;
                    entries = match value {
                        Value::Array(list) => {
                            list.into_iter()
                                .map(parsed)
                                .collect::<Result<Vec<LogEntry>, _>>()?
                        }
                        other => vec![parsed(other)?],
                    };
                }
                (_, Some(filename)) => files.push(Attachment {
                    name: filename,
                    bytes: part.bytes,
                }),
                _ => {}
            }
        }
        (entries, files)
    } else {
        match c.body {
            Value::Array(list) => (
                list.into_iter()
                    .map(parsed)
                    .collect::<Result<Vec<LogEntry>, _>>()?,
                Vec::new(),
            ),
            other => (vec![parsed(other)?], Vec::new()),
        }
    };
    let allowed = c.principal.allow(Permission::ReportResults).map_err(rp)?;
    let ids = state
        .core
        .rp_log(allowed, &project, entries, files)
        .await
        .map_err(rp)?;
    let answer = if multipart {
        json!({ "responses": ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>() })
    } else {
        json!({ "id": ids.first() })
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}
