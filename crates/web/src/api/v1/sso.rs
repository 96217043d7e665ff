//! The org's single sign-on connections (`ManageSecurity`), and the caller's linked identities.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::sso::ConnectionInput;
use testvault_domain::Permission;
use uuid::Uuid;

pub async fn list_connections(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageSecurity)?;
    Ok(data(state.core.sso_connections(allowed).await?))
}

pub async fn create_connection(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<ConnectionInput>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageSecurity)?;
    let view = state.core.create_sso_connection(allowed, body).await?;
    Ok((StatusCode::CREATED, data(view)))
}

pub async fn update_connection(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConnectionInput>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = parse_id(&id, "single sign-on connection")?;
    let allowed = p.allow(Permission::ManageSecurity)?;
    Ok(data(
        state.core.update_sso_connection(allowed, id, body).await?,
    ))
}

pub async fn delete_connection(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = parse_id(&id, "single sign-on connection")?;
    let allowed = p.allow(Permission::ManageSecurity)?;
    state.core.delete_sso_connection(allowed, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize)]
struct MySso {
    identities: Vec<testvault_core::sso::SsoIdentityView>,
    connections: Vec<testvault_core::sso::SsoChoice>,
}

/// The caller's linked identities and the connections of their org they may link.
pub async fn get_my_identities(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    let (identities, connections) = state.core.my_sso_identities(&p).await?;
    Ok(data(MySso {
        identities,
        connections,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlinkBody {
    issuer: String,
    subject: String,
}

pub async fn unlink_my_identity(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<UnlinkBody>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .unlink_my_sso_identity(&p, &body.issuer, &body.subject)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
