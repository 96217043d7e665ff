//! Signing in and out over the API (the session cookie is the credential), and "who am I".

use super::data;
use crate::AppState;
use crate::client::ClientInfo;
use crate::cookies;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson, MaybeSessionCookie};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use testvault_core::{Credential, Principal, SignIn};
use testvault_domain::{OrgId, Permission};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    email: String,
    password: String,
    #[serde(default)]
    org: Option<OrgId>,
}

#[derive(Serialize)]
pub struct Me {
    user: testvault_domain::UserId,
    email: String,
    display_name: String,
    org: OrgId,
    org_name: String,
    /// The org role's name (a built-in level or a custom role).
    role: String,
    /// Set when the org role is a custom role.
    custom_role_id: Option<testvault_domain::RoleId>,
    /// What the principal may do somewhere in the org (project-scoped ones may hold only in
    /// the projects listed in `project_grants`, unless `all_projects` is among them).
    permissions: Vec<Permission>,
    project_grants: Vec<GrantOut>,
    /// The browser session, when the request came with one.
    session: Option<uuid::Uuid>,
    /// The API token's prefix, when the request came with one.
    token: Option<String>,
}

#[derive(Serialize)]
pub struct GrantOut {
    project: testvault_domain::ProjectId,
    role: testvault_domain::Role,
}

pub fn me(p: Principal) -> Me {
    let session = p.session();
    let token = match &p.credential {
        Credential::Session(_) => None,
        Credential::PersonalToken { prefix, .. } | Credential::ProjectToken { prefix, .. } => {
            Some(prefix.clone())
        }
    };
    Me {
        permissions: Permission::ALL.into_iter().filter(|x| p.can(*x)).collect(),
        user: p.user,
        email: p.email,
        display_name: p.display_name,
        org: p.org,
        org_name: p.org_name,
        role: p.role.name().to_string(),
        custom_role_id: p.role.custom_id(),
        project_grants: p
            .access
            .grants
            .iter()
            .map(|(project, role)| GrantOut {
                project: *project,
                role: *role,
            })
            .collect(),
        session,
        token,
    }
}

pub async fn create_session(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Response, ApiError> {
    let signed_in = state
        .core
        .sign_in(SignIn {
            email: &body.email,
            password: &body.password,
            client: &client,
            previous_session: previous.as_deref(),
            org: body.org,
        })
        .await?;
    let cookie = cookies::session(signed_in.token.expose(), signed_in.max_age_secs)
        .ok_or_else(crate::error::internal)?;
    // A sign-in that still waits for the second factor (or for one to be set up) says so;
    // the session works only for that until then.
    let waiting = signed_in.waiting.as_ref().map(|e| match e {
        testvault_core::CoreError::SecondFactorRequired => "second_factor_required",
        _ => "second_factor_enrolment_required",
    });
    // Until the code is given, nothing about the account's access is told.
    let body = match waiting {
        Some(w) => serde_json::json!({
            "data": { "user": signed_in.principal.user, "org": signed_in.principal.org },
            "waiting": w,
        }),
        None => serde_json::json!({ "data": me(signed_in.principal), "waiting": null }),
    };
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

pub async fn delete_session(
    State(state): State<AppState>,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
) -> Result<Response, ApiError> {
    if let Some(c) = cookie {
        state.core.sign_out(&c).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookies::clear_session() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

pub async fn get_me(ApiAuth(p): ApiAuth) -> impl IntoResponse {
    data(me(p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// One address: an array (or a second `email`) is refused, never mailed to twice.
    email: String,
    /// A solved proof-of-work challenge from `GET /altcha/challenge` (ALTCHA's payload).
    altcha: String,
}

/// `POST /auth/sign-in-link`: emails a sign-in link when the address has an account; 202 either
/// way. The cookie set here binds the link to this browser.
pub async fn request_sign_in_link(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Response, ApiError> {
    let nonce = testvault_core::sign_in_links::browser_nonce()?;
    state.core.verify_altcha(&body.altcha).await?;
    state
        .core
        .request_sign_in_link(&body.email, &nonce, &client)
        .await?;
    let mut resp = (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "message": "if an account exists for that address, a sign-in link is on its way; it works once, for 10 minutes, in this browser" })),
    )
        .into_response();
    if let Some(c) = cookies::link(&nonce) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}
