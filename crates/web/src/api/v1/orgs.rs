//! The caller's organisations and the current org's security settings.

use super::data;
use crate::AppState;
use crate::client::ClientInfo;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use testvault_core::{CoreError, Principal};
use testvault_domain::{AuditRetention, IpAllowlist, Permission, SessionPolicy};

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
    ip_allowlist: IpAllowlist,
    audit_retention_days: i64,
    require_second_factor: bool,
    sso_required: bool,
}

/// Any subset of the settings; what is left out stays as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityBody {
    #[serde(default)]
    idle_timeout_minutes: Option<i64>,
    #[serde(default)]
    absolute_timeout_hours: Option<i64>,
    /// CIDR ranges; `[]` lifts the restriction.
    #[serde(default)]
    ip_allowlist: Option<Vec<String>>,
    /// How many days the audit trail keeps events (30–3650).
    #[serde(default)]
    audit_retention_days: Option<i64>,
    /// Required to save a list that shuts out the caller's own address.
    #[serde(default)]
    confirm_self_exclusion: bool,
    /// Members must set up two-factor authentication before anything else works.
    #[serde(default)]
    require_second_factor: Option<bool>,
    /// Members other than owners sign in only through single sign-on (needs an enabled
    /// connection).
    #[serde(default)]
    sso_required: Option<bool>,
}

async fn view(state: &AppState, p: &Principal) -> Result<SecurityView, CoreError> {
    let s = state
        .core
        .security_settings(p.allow(Permission::ManageSecurity)?)
        .await?;
    Ok(SecurityView {
        idle_timeout_minutes: s.policy.idle_minutes(),
        absolute_timeout_hours: s.policy.absolute_hours(),
        ip_allowlist: s.ip_allowlist,
        audit_retention_days: s.audit_retention.days(),
        require_second_factor: s.require_second_factor,
        sso_required: s.sso_required,
    })
}

pub async fn get_security(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(view(&state, &p).await?))
}

pub async fn update_security(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    client: ClientInfo,
    ApiJson(body): ApiJson<SecurityBody>,
) -> Result<impl IntoResponse, ApiError> {
    // Validate everything before saving anything: a bad field leaves all settings as they were.
    let current = state
        .core
        .security_settings(p.allow(Permission::ManageSecurity)?)
        .await?
        .policy;
    let policy = match (body.idle_timeout_minutes, body.absolute_timeout_hours) {
        (None, None) => None,
        (idle, absolute) => Some(
            SessionPolicy::parse(
                idle.unwrap_or(current.idle_minutes()),
                absolute.unwrap_or(current.absolute_hours()),
            )
            .map_err(CoreError::from)?,
        ),
    };
    let list = body
        .ip_allowlist
        .map(|ranges| IpAllowlist::parse(&ranges.join("\n")))
        .transpose()
        .map_err(CoreError::from)?;
    let retention = body
        .audit_retention_days
        .map(AuditRetention::parse)
        .transpose()
        .map_err(CoreError::from)?;
    if let Some(list) = list {
        state
            .core
            .set_ip_allowlist(
                p.allow(Permission::ManageSecurity)?,
                list,
                &client.ip,
                body.confirm_self_exclusion,
            )
            .await?;
    }
    if let Some(retention) = retention {
        state
            .core
            .set_audit_retention(p.allow(Permission::ManageSecurity)?, retention)
            .await?;
    }
    if let Some(policy) = policy {
        state
            .core
            .set_session_policy(p.allow(Permission::ManageSecurity)?, policy)
            .await?;
    }
    if let Some(required) = body.require_second_factor {
        state
            .core
            .set_require_second_factor(p.allow(Permission::ManageSecurity)?, required)
            .await?;
    }
    if let Some(required) = body.sso_required {
        state
            .core
            .set_sso_required(p.allow(Permission::ManageSecurity)?, required)
            .await?;
    }
    Ok(data(view(&state, &p).await?))
}
