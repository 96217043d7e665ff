//! Two-factor pages: the code that finishes a sign-in, and setting up, replacing the recovery
//! codes of, or turning off one's own TOTP factor. The setup pages also serve sessions whose
//! org requires a factor the member has not set up yet (nothing else works for them).

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::client::ClientInfo;
use crate::extract::{CsrfForm, EnrolSession, MaybeSessionCookie};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::{CoreError, Principal};

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    chrome: Chrome,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn code_page(PageCsrf(csrf): PageCsrf) -> Response {
    render(
        StatusCode::OK,
        &CodePage {
            chrome: Chrome::public("Two-factor sign-in", &csrf),
            error: None,
        },
    )
}

/// `POST /sign-in/code`: the code (or a recovery code) that finishes the sign-in.
pub async fn submit_code(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let Some(cookie) = cookie else {
        return Redirect::to("/sign-in").into_response();
    };
    match state
        .core
        .complete_sign_in(&cookie, &client, &form.code)
        .await
    {
        Ok(signed) => super::auth::signed_in_redirect(signed, "/projects"),
        Err(CoreError::Unauthenticated(_)) => Redirect::to("/sign-in").into_response(),
        Err(e) => {
            let status = match &e {
                CoreError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            render(
                status,
                &CodePage {
                    chrome: Chrome::public("Two-factor sign-in", &csrf),
                    error: Some(form_error(e)),
                },
            )
        }
    }
}

struct EnrolmentView {
    qr: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct FactorPage {
    chrome: Chrome,
    enabled: bool,
    required: bool,
    codes_left: i64,
    enrolment: Option<EnrolmentView>,
    recovery_codes: Option<Vec<String>>,
    error: Option<String>,
}

/// What the page shows besides the factor's status.
#[derive(Default)]
struct Shown {
    enrolment: Option<EnrolmentView>,
    recovery_codes: Option<Vec<String>>,
    error: Option<String>,
}

async fn page(state: &AppState, p: &Principal, csrf: &str, shown: Shown) -> Response {
    let loaded = async {
        let status = state.core.second_factor_status(p).await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((status, orgs))
    }
    .await;
    let (status, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let code = if shown.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        code,
        &FactorPage {
            chrome: Chrome::app("Two-factor authentication", "account", csrf, p, orgs),
            enabled: status.enabled,
            required: status.required,
            codes_left: status.recovery_codes_left,
            enrolment: shown.enrolment,
            recovery_codes: shown.recovery_codes,
            error: shown.error,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: Result<EnrolSession, crate::error::ApiError>,
) -> Response {
    let s = match s {
        Ok(s) => s,
        Err(e) if e.code == "second_factor_required" => {
            return Redirect::to("/sign-in/code").into_response();
        }
        Err(_) => return Redirect::to("/sign-in").into_response(),
    };
    page(&state, &s.principal, &csrf, Shown::default()).await
}

pub async fn start(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: EnrolSession,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let shown = match state.core.start_second_factor(&s.principal).await {
        Ok(e) => match crate::qr::svg(&e.uri) {
            Some(qr) => Shown {
                enrolment: Some(EnrolmentView {
                    qr,
                    secret: e.secret,
                }),
                ..Shown::default()
            },
            None => return pages::error_page(crate::error::internal()),
        },
        Err(e) => Shown {
            error: Some(form_error(e)),
            ..Shown::default()
        },
    };
    page(&state, &s.principal, &csrf, shown).await
}

/// What a form's result shows: recovery codes (once) or the error.
fn shown(result: Result<Option<Vec<String>>, CoreError>) -> Shown {
    match result {
        Ok(codes) => Shown {
            recovery_codes: codes,
            ..Shown::default()
        },
        Err(e) => Shown {
            error: Some(form_error(e)),
            ..Shown::default()
        },
    }
}

pub async fn confirm(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: EnrolSession,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let result = state
        .core
        .confirm_second_factor(&s.principal, &s.cookie, &form.code)
        .await
        .map(Some);
    page(&state, &s.principal, &csrf, shown(result)).await
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: EnrolSession,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let result = state
        .core
        .new_recovery_codes(&s.principal, &s.cookie, &form.code)
        .await
        .map(Some);
    page(&state, &s.principal, &csrf, shown(result)).await
}

pub async fn disable(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    s: EnrolSession,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let result = state
        .core
        .disable_second_factor(&s.principal, &s.cookie, &form.password)
        .await
        .map(|()| None);
    page(&state, &s.principal, &csrf, shown(result)).await
}
