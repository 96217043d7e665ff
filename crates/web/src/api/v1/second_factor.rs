//! Two-factor authentication over the API: finish a sign-in with a code, and set up, inspect,
//! replace the recovery codes of, or turn off one's own TOTP factor. Browser sessions only.

use super::data;
use crate::AppState;
use crate::client::ClientInfo;
use crate::error::ApiError;
use crate::extract::{ApiJson, EnrolSession, MaybeSessionCookie};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::CoreError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// Six digits from the authenticator app, or a recovery code.
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: String,
}

/// `POST /auth/second-factor`: the code that finishes a sign-in.
pub async fn complete_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let cookie = cookie.ok_or(CoreError::Unauthenticated("sign in first"))?;
    let signed = state
        .core
        .complete_sign_in(&cookie, &client, &body.code)
        .await?;
    // A new session id: the one that waited for the code stops working.
    let set = crate::cookies::session(signed.token.expose(), signed.max_age_secs)
        .ok_or_else(crate::error::internal)?;
    let mut resp = data(super::auth::me(signed.principal)).into_response();
    resp.headers_mut()
        .append(axum::http::header::SET_COOKIE, set);
    Ok(resp)
}

pub async fn get_status(
    State(state): State<AppState>,
    s: EnrolSession,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.second_factor_status(&s.principal).await?))
}

/// Starts setting the factor up: the secret (shown once) and its `otpauth://` address.
pub async fn start(
    State(state): State<AppState>,
    s: EnrolSession,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.start_second_factor(&s.principal).await?))
}

/// Confirms it with a code; answers the recovery codes (shown once).
pub async fn confirm(
    State(state): State<AppState>,
    s: EnrolSession,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let codes = state
        .core
        .confirm_second_factor(&s.principal, &s.cookie, &body.code)
        .await?;
    Ok(data(serde_json::json!({ "recovery_codes": codes })))
}

pub async fn disable(
    State(state): State<AppState>,
    s: EnrolSession,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .disable_second_factor(&s.principal, &s.cookie, &body.password)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    s: EnrolSession,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<impl IntoResponse, ApiError> {
    let codes = state
        .core
        .new_recovery_codes(&s.principal, &s.cookie, &body.code)
        .await?;
    Ok(data(serde_json::json!({ "recovery_codes": codes })))
}
