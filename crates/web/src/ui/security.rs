//! The org's security settings page (session lifetimes for now).

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use testvault_core::{CoreError, Principal};
use testvault_domain::{Permission, SessionPolicy};

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    org_name: String,
    idle_minutes: String,
    absolute_hours: String,
    error: Option<String>,
    notice: Option<String>,
}

async fn page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    values: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let loaded = async {
        let policy = state
            .core
            .session_policy(p.allow(Permission::ManageSecurity)?)
            .await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((policy, orgs))
    }
    .await;
    match loaded {
        Ok((policy, orgs)) => {
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
    PageCsrf(csrf): PageCsrf,
) -> Response {
    page(&state, &p, &csrf, None, None, None).await
}

#[derive(Deserialize)]
pub struct SecurityForm {
    idle_timeout_minutes: String,
    absolute_timeout_hours: String,
}

pub async fn update(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
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
    match result {
        Ok(()) => {
            page(
                &state,
                &p,
                &csrf,
                None,
                None,
                Some(
                    "Saved. Existing sessions follow the new limits on their next request.".into(),
                ),
            )
            .await
        }
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => {
            let values = Some((form.idle_timeout_minutes, form.absolute_timeout_hours));
            page(&state, &p, &csrf, values, Some(form_error(e)), None).await
        }
    }
}
