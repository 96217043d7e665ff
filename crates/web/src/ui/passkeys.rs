//! The account's Passkeys page: the list, removal, and the button that adds one (the page
//! script runs the WebAuthn ceremony against `/api/v1/me/passkeys`).

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, EnrolSession};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::CoreError;

struct Row {
    id: String,
    name: String,
    added: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct Page {
    chrome: Chrome,
    passkeys: Vec<Row>,
    unavailable: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    added: Option<String>,
}

async fn page(
    state: &AppState,
    s: &EnrolSession,
    csrf: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let keys = state.core.passkeys(&s.principal).await?;
        let orgs = state.core.my_orgs(&s.principal).await?;
        Ok::<_, CoreError>((keys, orgs))
    }
    .await;
    let (keys, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    render(
        pages::status_for(&error),
        &Page {
            chrome: Chrome::app("Passkeys", "account", csrf, &s.principal, orgs),
            passkeys: keys
                .into_iter()
                .map(|k| Row {
                    id: k.id.to_string(),
                    name: k.name,
                    added: when(k.created_at),
                    last_used: k.last_used_at.map_or_else(|| "never".into(), when),
                })
                .collect(),
            unavailable: state.core.passkeys_unavailable().map(str::to_string),
            notice,
            error,
        },
    )
}

/// `GET /account/passkeys` (also while an org's requirement waits for a factor to be set up).
pub async fn show(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: Result<EnrolSession, crate::error::ApiError>,
    Query(q): Query<PageQuery>,
) -> Response {
    let s = match s {
        Ok(s) => s,
        Err(e) if e.code == "second_factor_required" => {
            return Redirect::to("/sign-in/code").into_response();
        }
        Err(_) => return Redirect::to("/sign-in").into_response(),
    };
    let notice = q
        .added
        .map(|_| "Passkey added. Your other sessions were signed out.".to_string());
    page(&state, &s, &csrf, notice, None).await
}

/// `POST /account/passkeys/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: EnrolSession,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<super::auth::CsrfOnlyForm>,
) -> Response {
    let result = match id.parse() {
        Ok(id) => state.core.delete_passkey(&s.principal, &s.cookie, id).await,
        Err(_) => Err(CoreError::NotFound("passkey")),
    };
    match result {
        Ok(()) => page(&state, &s, &csrf, Some("Passkey removed.".into()), None).await,
        Err(e @ CoreError::NotFound(_)) => pages::error_page(e.into()),
        Err(e) => page(&state, &s, &csrf, None, Some(form_error(e))).await,
    }
}
