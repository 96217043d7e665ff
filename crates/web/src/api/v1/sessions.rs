//! Sessions: the caller's own, and (for owners) everyone's in the org.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use testvault_domain::Permission;

pub async fn list_my_sessions(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.my_sessions(&p).await?))
}

pub async fn delete_my_session(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .revoke_my_session(&p, parse_id(&id, "session")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_org_sessions(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .org_sessions(p.allow(Permission::ManageSessions)?)
            .await?,
    ))
}

pub async fn delete_org_session(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .revoke_org_session(
            p.allow(Permission::ManageSessions)?,
            parse_id(&id, "session")?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
