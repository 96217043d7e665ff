//! The caller's organisations and the current org's security settings.

use super::data;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use testvault_domain::{Permission, SessionPolicy};

pub async fn list_orgs(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.my_orgs(&p).await?))
}

#[derive(Serialize)]
pub struct SecurityView {
    idle_timeout_minutes: i64,
    absolute_timeout_hours: i64,
}

impl From<SessionPolicy> for SecurityView {
    fn from(p: SessionPolicy) -> Self {
        Self {
            idle_timeout_minutes: p.idle_minutes(),
            absolute_timeout_hours: p.absolute_hours(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityBody {
    idle_timeout_minutes: i64,
    absolute_timeout_hours: i64,
}

pub async fn get_security(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    let policy = state
        .core
        .session_policy(p.allow(Permission::ManageSecurity)?)
        .await?;
    Ok(data(SecurityView::from(policy)))
}

pub async fn update_security(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<SecurityBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageSecurity)?;
    let policy = SessionPolicy::parse(body.idle_timeout_minutes, body.absolute_timeout_hours)
        .map_err(testvault_core::CoreError::from)?;
    state.core.set_session_policy(allowed, policy).await?;
    Ok(data(SecurityView::from(policy)))
}
