//! Pages without a session: home redirect, sign in/out, first-run setup, invitations, org switch.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::client::ClientInfo;
use crate::cookies;
use crate::extract::{CsrfForm, MaybeSessionCookie, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::{CoreError, SignIn, SignedIn};
use testvault_domain::{Email, NewPassword, OrgId, OrgName, PersonName};

/// Sets the new session cookie and sends the browser on.
pub(super) fn signed_in_redirect(signed: SignedIn, to: &str) -> Response {
    // A sign-in that waits for the second factor goes on to its code, or to setting one up.
    let to = match &signed.waiting {
        Some(CoreError::SecondFactorRequired) => "/sign-in/code",
        Some(_) => "/account/two-factor",
        None => to,
    };
    let mut resp = Redirect::to(to).into_response();
    match cookies::session(signed.token.expose(), signed.max_age_secs) {
        Some(c) => {
            resp.headers_mut().append(header::SET_COOKIE, c);
            resp
        }
        None => crate::error::internal().into_response(),
    }
}

pub async fn home(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
) -> Response {
    if let Some(c) = cookie
        && state.core.authenticate_session(&c, &client).await.is_ok()
    {
        return Redirect::to("/projects").into_response();
    }
    match state.core.needs_setup().await {
        Ok(true) => pages::message_page(
            StatusCode::OK,
            "Finish setting up Testvault",
            "Open the one-time setup link that the server printed when it started (run `testvault admin setup-link` to print a new one).",
            None,
        ),
        Ok(false) => Redirect::to("/sign-in").into_response(),
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

pub async fn sign_in_page(PageCsrf(csrf): PageCsrf) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            chrome: Chrome::public("Sign in", &csrf),
            email: String::new(),
            error: None,
            notice: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    /// The solved proof-of-work challenge (page script fills it in).
    #[serde(default)]
    altcha: String,
}

/// `GET /altcha/challenge`: a proof-of-work challenge for a public form (ALTCHA's format).
pub async fn altcha_challenge(State(state): State<AppState>) -> Response {
    match state.core.altcha_challenge() {
        Ok(c) => {
            let mut resp = axum::Json(c).into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => pages::error_page(e.into()),
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Response {
    let result = match state.core.verify_altcha(&form.altcha).await {
        Ok(()) => {
            state
                .core
                .sign_in(SignIn {
                    email: &form.email,
                    password: &form.password,
                    client: &client,
                    previous_session: previous.as_deref(),
                    org: None,
                })
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(signed) => signed_in_redirect(signed, "/projects"),
        Err(e) => {
            let status = match &e {
                CoreError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                CoreError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                CoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            render(
                status,
                &SignInPage {
                    chrome: Chrome::public("Sign in", &csrf),
                    email: form.email,
                    error: Some(form_error(e)),
                    notice: None,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnlyForm {}

pub async fn sign_out(
    State(state): State<AppState>,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
    CsrfForm(_): CsrfForm<CsrfOnlyForm>,
) -> Response {
    if let Some(c) = cookie
        && let Err(e) = state.core.sign_out(&c).await
    {
        return pages::error_page(e.into());
    }
    let mut resp = Redirect::to("/sign-in").into_response();
    if let Some(c) = cookies::clear_session() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    token: String,
    org_name: String,
    display_name: String,
    email: String,
    error: Option<String>,
}

/// Setup tokens are hex; anything else cannot be one and is not looked up.
fn plausible_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn setup_link_dead() -> Response {
    pages::message_page(
        StatusCode::GONE,
        "Setup link no longer valid",
        "This setup link has been used or has expired. If Testvault is already set up, sign in; otherwise run `testvault admin setup-link` for a new one.",
        Some(("/sign-in", "Sign in")),
    )
}

pub async fn setup_page(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    Path(token): Path<String>,
) -> Response {
    match plausible_token(&token) {
        true => match state.core.setup_link_is_live(&token).await {
            Ok(true) => render(
                StatusCode::OK,
                &SetupPage {
                    chrome: Chrome::public("Set up", &csrf),
                    token,
                    org_name: String::new(),
                    display_name: String::new(),
                    email: String::new(),
                    error: None,
                },
            ),
            Ok(false) => setup_link_dead(),
            Err(e) => pages::error_page(e.into()),
        },
        false => setup_link_dead(),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    org_name: String,
    display_name: String,
    email: String,
    password: String,
}

pub async fn setup(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> Response {
    if !plausible_token(&token) {
        return setup_link_dead();
    }
    let attempt = async {
        let org = OrgName::parse(&form.org_name)?;
        let name = PersonName::parse(&form.display_name)?;
        let email = Email::parse(&form.email)?;
        let password = NewPassword::parse(&form.password)?;
        let created = state
            .core
            .complete_setup(&token, org, email.clone(), name, password, &client)
            .await?;
        state
            .core
            .sign_in(SignIn {
                email: email.as_str(),
                password: &form.password,
                client: &client,
                previous_session: None,
                org: Some(created.org),
            })
            .await
    };
    match attempt.await {
        Ok(signed) => signed_in_redirect(signed, "/projects"),
        Err(CoreError::Gone(_)) => setup_link_dead(),
        Err(e) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetupPage {
                chrome: Chrome::public("Set up", &csrf),
                token,
                org_name: form.org_name,
                display_name: form.display_name,
                email: form.email,
                error: Some(form_error(e)),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    chrome: Chrome,
    token: String,
    org_name: String,
    email: String,
    role: String,
    account_exists: bool,
    display_name: String,
    error: Option<String>,
}

fn invite_form(
    status: StatusCode,
    csrf: &str,
    token: String,
    info: testvault_core::InvitationInfo,
    display_name: String,
    error: Option<String>,
) -> Response {
    render(
        status,
        &InvitePage {
            chrome: Chrome::public("Accept invitation", csrf),
            token,
            org_name: info.org_name,
            email: info.email,
            role: info.role.to_string(),
            account_exists: info.account_exists,
            display_name,
            error,
        },
    )
}

fn invitation_dead() -> Response {
    pages::message_page(
        StatusCode::GONE,
        "Invitation no longer valid",
        "This invitation has been used, cancelled or has expired. Ask the person who invited you for a new one.",
        Some(("/sign-in", "Sign in")),
    )
}

pub async fn invite_page(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    Path(token): Path<String>,
) -> Response {
    if !plausible_token(&token) {
        return invitation_dead();
    }
    match state.core.invitation_info(&token).await {
        Ok(info) => invite_form(StatusCode::OK, &csrf, token, info, String::new(), None),
        Err(CoreError::Gone(_) | CoreError::NotFound(_)) => invitation_dead(),
        Err(e) => pages::error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    display_name: String,
    password: String,
}

pub async fn accept_invite(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> Response {
    if !plausible_token(&token) {
        return invitation_dead();
    }
    let result = state
        .core
        .accept_invitation(
            &token,
            Some(&form.display_name),
            &form.password,
            &client,
            previous.as_deref(),
        )
        .await;
    match result {
        Ok(signed) => signed_in_redirect(signed, "/projects"),
        Err(CoreError::Gone(_) | CoreError::NotFound(_)) => invitation_dead(),
        Err(e) => match state.core.invitation_info(&token).await {
            Ok(info) => invite_form(
                StatusCode::UNPROCESSABLE_ENTITY,
                &csrf,
                token,
                info,
                form.display_name,
                Some(form_error(e)),
            ),
            Err(_) => invitation_dead(),
        },
    }
}

#[derive(Deserialize)]
pub struct SwitchForm {
    org: OrgId,
}

pub async fn switch_org(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Response {
    let current = cookie.unwrap_or_default();
    match state.core.switch_org(&p, form.org, &client, &current).await {
        Ok(signed) => signed_in_redirect(signed, "/projects"),
        Err(e) => pages::error_page(e.into()),
    }
}
