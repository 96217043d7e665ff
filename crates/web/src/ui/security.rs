//! The org's security settings page: session lifetimes, allowed networks, audit retention.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::client::ClientInfo;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use testvault_core::{CoreError, Principal};
use testvault_domain::{AuditRetention, IpAllowlist, Permission, SessionPolicy};

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    org_name: String,
    idle_minutes: String,
    absolute_hours: String,
    allowlist: String,
    retention_days: String,
    client_ip: String,
    require_second_factor: bool,
    error: Option<String>,
    notice: Option<String>,
}

/// What the page shows beyond the stored settings: what a failed form had typed, and the message.
#[derive(Default)]
struct Outcome {
    /// Idle minutes and absolute hours as typed.
    lifetimes: Option<(String, String)>,
    /// The allowlist as typed.
    allowlist: Option<String>,
    /// The retention days as typed.
    retention: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

impl Outcome {
    fn saved(notice: &str) -> Self {
        Self {
            notice: Some(notice.to_string()),
            ..Self::default()
        }
    }
}

async fn page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    client_ip: &str,
    shown: Outcome,
) -> Response {
    let loaded = async {
        let settings = state
            .core
            .security_settings(p.allow(Permission::ManageSecurity)?)
            .await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((settings, orgs))
    }
    .await;
    let (settings, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let (idle, absolute) = shown.lifetimes.unwrap_or_else(|| {
        (
            settings.policy.idle_minutes().to_string(),
            settings.policy.absolute_hours().to_string(),
        )
    });
    let status = if shown.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SecurityPage {
            chrome: Chrome::app("Security settings", "security", csrf, p, orgs),
            org_name: p.org_name.clone(),
            idle_minutes: idle,
            absolute_hours: absolute,
            allowlist: shown
                .allowlist
                .unwrap_or_else(|| settings.ip_allowlist.to_storage()),
            retention_days: shown
                .retention
                .unwrap_or_else(|| settings.audit_retention.days().to_string()),
            client_ip: client_ip.to_string(),
            require_second_factor: settings.require_second_factor,
            error: shown.error,
            notice: shown.notice,
        },
    )
}

/// Renders the outcome of one of the two forms; a permission refusal is its own page.
async fn answer(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    client_ip: &str,
    result: Result<(), CoreError>,
    saved: &str,
    typed: impl FnOnce(&mut Outcome),
) -> Response {
    let shown = match result {
        Ok(()) => Outcome::saved(saved),
        Err(e @ CoreError::Forbidden(_)) => return pages::error_page(e.into()),
        Err(e) => {
            let mut shown = Outcome {
                error: Some(form_error(e)),
                ..Outcome::default()
            };
            typed(&mut shown);
            shown
        }
    };
    page(state, p, csrf, client_ip, shown).await
}

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    page(&state, &p, &csrf, &client.ip, Outcome::default()).await
}

#[derive(Deserialize)]
pub struct SecurityForm {
    idle_timeout_minutes: String,
    absolute_timeout_hours: String,
}

pub async fn update(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<SecurityForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        let number = |raw: &str, field: &'static str| {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| testvault_domain::DomainError::new(field, "must be a whole number"))
        };
        let policy = SessionPolicy::parse(
            number(&form.idle_timeout_minutes, "idle_timeout_minutes")?,
            number(&form.absolute_timeout_hours, "absolute_timeout_hours")?,
        )?;
        state.core.set_session_policy(allowed, policy).await
    }
    .await;
    let saved = "Saved. Existing sessions follow the new limits on their next request.";
    answer(&state, &p, &csrf, &client.ip, result, saved, |o| {
        o.lifetimes = Some((form.idle_timeout_minutes, form.absolute_timeout_hours));
    })
    .await
}

#[derive(Deserialize)]
pub struct NetworkForm {
    #[serde(default)]
    ip_allowlist: String,
    #[serde(default)]
    confirm_self_exclusion: Option<String>,
}

pub async fn update_network(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<NetworkForm>,
) -> Response {
    let typed = form.ip_allowlist.clone();
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        let list = IpAllowlist::parse(&form.ip_allowlist)?;
        let confirmed = form.confirm_self_exclusion.is_some();
        state
            .core
            .set_ip_allowlist(allowed, list, &client.ip, confirmed)
            .await
    }
    .await;
    let saved = "Saved. The new network rules apply to every request from now on.";
    answer(&state, &p, &csrf, &client.ip, result, saved, |o| {
        o.allowlist = Some(typed)
    })
    .await
}

#[derive(Deserialize)]
pub struct RetentionForm {
    audit_retention_days: String,
}

#[derive(Deserialize)]
pub struct TwoFactorForm {
    #[serde(default)]
    require_second_factor: Option<String>,
}

pub async fn update_two_factor(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<TwoFactorForm>,
) -> Response {
    let required = form.require_second_factor.is_some();
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        state
            .core
            .set_require_second_factor(allowed, required)
            .await
    }
    .await;
    let saved = if required {
        "Saved. Members without two-factor authentication set it up at their next request."
    } else {
        "Saved. Two-factor authentication is optional."
    };
    answer(&state, &p, &csrf, &client.ip, result, saved, |_| {}).await
}

pub async fn update_retention(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<RetentionForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        let days = form
            .audit_retention_days
            .trim()
            .parse::<i64>()
            .map_err(|_| {
                testvault_domain::DomainError::new("audit_retention_days", "must be a whole number")
            })?;
        let retention = AuditRetention::parse(days)?;
        state.core.set_audit_retention(allowed, retention).await
    }
    .await;
    let saved = "Saved. Older events are purged on the retention job's next run.";
    answer(&state, &p, &csrf, &client.ip, result, saved, |o| {
        o.retention = Some(form.audit_retention_days)
    })
    .await
}
