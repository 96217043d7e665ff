//! The org's security settings page (session lifetimes for now).

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
use testvault_domain::{IpAllowlist, Permission, SessionPolicy};

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    org_name: String,
    idle_minutes: String,
    absolute_hours: String,
    allowlist: String,
    client_ip: String,
    error: Option<String>,
    notice: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "one renderer for the page and its two forms"
)]
async fn page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    client_ip: &str,
    allowlist_text: Option<String>,
    values: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let loaded = async {
        let policy = state
            .core
            .session_policy(p.allow(Permission::ManageSecurity)?)
            .await?;
        let allowlist = state
            .core
            .ip_allowlist(p.allow(Permission::ManageSecurity)?)
            .await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((policy, allowlist, orgs))
    }
    .await;
    match loaded {
        Ok((policy, allowlist, orgs)) => {
            let (idle, absolute) = values.unwrap_or_else(|| {
                (
                    policy.idle_minutes().to_string(),
                    policy.absolute_hours().to_string(),
                )
            });
            render(
                if error.is_some() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::OK
                },
                &SecurityPage {
                    chrome: Chrome::app("Security settings", "security", csrf, p, orgs),
                    org_name: p.org_name.clone(),
                    idle_minutes: idle,
                    absolute_hours: absolute,
                    allowlist: allowlist_text.unwrap_or_else(|| allowlist.to_storage()),
                    client_ip: client_ip.to_string(),
                    error,
                    notice,
                },
            )
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    page(&state, &p, &csrf, &client.ip, None, None, None, None).await
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
    match result {
        Ok(()) => {
            page(
                &state,
                &p,
                &csrf,
                &client.ip,
                None,
                None,
                None,
                Some(saved.into()),
            )
            .await
        }
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => {
            let values = Some((form.idle_timeout_minutes, form.absolute_timeout_hours));
            page(
                &state,
                &p,
                &csrf,
                &client.ip,
                None,
                values,
                Some(form_error(e)),
                None,
            )
            .await
        }
    }
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
    match result {
        Ok(()) => {
            page(
                &state,
                &p,
                &csrf,
                &client.ip,
                None,
                None,
                None,
                Some(saved.into()),
            )
            .await
        }
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => {
            let text = Some(form.ip_allowlist);
            page(
                &state,
                &p,
                &csrf,
                &client.ip,
                text,
                None,
                Some(form_error(e)),
                None,
            )
            .await
        }
    }
}
