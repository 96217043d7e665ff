//! Passkeys over the API (what the pages' script calls): register and remove one's own, sign in
//! with one (no password), or give one as the second factor of a password sign-in. Each
//! ceremony is two calls: the options for the browser, then the authenticator's answer.

use super::data;
use crate::AppState;
use crate::client::ClientInfo;
use crate::cookies;
use crate::error::ApiError;
use crate::extract::{ApiJson, EnrolSession, MaybeSessionCookie};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::{CoreError, SignedIn};
use uuid::Uuid;

/// The authenticator's answer to a ceremony.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    ceremony: String,
    /// `PublicKeyCredential.toJSON()`.
    credential: serde_json::Value,
    /// For a registration: what to call the passkey.
    #[serde(default)]
    name: String,
}

pub async fn list_passkeys(
    State(state): State<AppState>,
    s: EnrolSession,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.passkeys(&s.principal).await?))
}

/// `POST /me/passkeys/register`: options for `navigator.credentials.create()`.
pub async fn start_registration(
    State(state): State<AppState>,
    s: EnrolSession,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state.core.start_passkey_registration(&s.principal).await?,
    ))
}

/// `POST /me/passkeys`: the new credential; the caller's other sessions end.
pub async fn finish_registration(
    State(state): State<AppState>,
    s: EnrolSession,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state
        .core
        .finish_passkey_registration(
            &s.principal,
            &s.cookie,
            &body.ceremony,
            &body.name,
            body.credential,
        )
        .await?;
    Ok((StatusCode::CREATED, data(view)))
}

pub async fn delete_passkey(
    State(state): State<AppState>,
    s: EnrolSession,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = super::parse_id(&id, "passkey")?;
    state
        .core
        .delete_passkey(&s.principal, &s.cookie, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/passkey/start`: options for a sign-in with any passkey of this site.
pub async fn start_sign_in(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.start_passkey_sign_in().await?))
}

fn signed_in(signed: SignedIn) -> Result<Response, ApiError> {
    let cookie = cookies::session(signed.token.expose(), signed.max_age_secs)
        .ok_or_else(crate::error::internal)?;
    let mut resp = data(super::auth::me(signed.principal)).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// `POST /auth/passkey`: the answer; a session begins (no second factor: the passkey was one).
pub async fn finish_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Response, ApiError> {
    signed_in(
        state
            .core
            .finish_passkey_sign_in(
                &body.ceremony,
                body.credential,
                &client,
                previous.as_deref(),
            )
            .await?,
    )
}

/// `POST /auth/second-factor/passkey/start`: options for the user's passkeys, for a session
/// that waits for its second factor.
pub async fn start_second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
) -> Result<impl IntoResponse, ApiError> {
    let cookie = cookie.ok_or(CoreError::Unauthenticated("sign in first"))?;
    Ok(data(
        state
            .core
            .start_passkey_second_factor(&cookie, &client)
            .await?,
    ))
}

/// `POST /auth/second-factor/passkey`: the answer; the session is promoted under a new id.
pub async fn finish_second_factor(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSessionCookie(cookie): MaybeSessionCookie,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Response, ApiError> {
    let cookie = cookie.ok_or(CoreError::Unauthenticated("sign in first"))?;
    signed_in(
        state
            .core
            .finish_passkey_second_factor(&cookie, &client, &body.ceremony, body.credential)
            .await?,
    )
}
