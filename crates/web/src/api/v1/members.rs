//! Members of the caller's org.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiAuth;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Serialize;
use testvault_domain::{Permission, UserId};

pub async fn list_members(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .members(p.allow(Permission::ManageMembers)?)
            .await?,
    ))
}

#[derive(Serialize)]
struct Revoked {
    revoked_sessions: u64,
}

pub async fn delete_member_sessions(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(user): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let user: UserId = parse_id(&user, "member")?;
    let n = state
        .core
        .revoke_member_sessions(p.allow(Permission::ManageSessions)?, user)
        .await?;
    Ok(data(Revoked {
        revoked_sessions: n,
    }))
}

/// `DELETE /members/{user}/second-factor`: an owner resets a member's lost second factor; every
/// session of theirs ends.
pub async fn delete_member_second_factor(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(user): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let user: UserId = parse_id(&user, "member")?;
    state
        .core
        .reset_member_second_factor(p.allow(Permission::ManageSecurity)?, user)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
