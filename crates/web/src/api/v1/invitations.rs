//! Invitations to the caller's org.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::CoreError;
use testvault_domain::{Email, Permission, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationBody {
    email: String,
    #[serde(default)]
    role: Option<String>,
}

pub async fn list_invitations(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .pending_invitations(p.allow(Permission::ManageMembers)?)
            .await?,
    ))
}

pub async fn create_invitation(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<CreateInvitationBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageMembers)?;
    let email = Email::parse(&body.email).map_err(CoreError::from)?;
    let role = match body.role.as_deref() {
        Some(r) => Role::parse(r).map_err(CoreError::from)?,
        None => Role::Viewer,
    };
    let invitation = state.core.invite_member(allowed, email, role).await?;
    Ok((StatusCode::CREATED, data(invitation)))
}

pub async fn delete_invitation(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id, "pending invitation")?;
    state
        .core
        .revoke_invitation(p.allow(Permission::ManageMembers)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
