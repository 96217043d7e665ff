//! Extractors that parse and authenticate before a handler runs, with our error format on
//! failure: JSON bodies (415/413/400 naming the field), CSRF-checked forms, and the principal.

use crate::AppState;
use crate::cookies;
use crate::csrf;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use testvault_core::{CoreError, Principal};

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Past the limit we keep reading (and discarding) up to this much, so the client gets its 413
/// instead of a connection reset while it is still sending.
const DRAIN_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Reads the body within the configured limit; 413 past it.
async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    body_bytes_within(req, state.settings.body_limit_bytes).await
}

/// Reads the body within `limit` bytes; 413 past it.
pub(crate) async fn body_bytes_within(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let drain_max = DRAIN_MAX_BYTES.max(limit);
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let unreadable = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body could not be read",
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > drain_max) {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| unreadable())?.into_data() else {
            continue;
        };
        total += data.len();
        if total > drain_max {
            return Err(too_large());
        }
        if total <= limit {
            buf.extend_from_slice(&data);
        }
    }
    if total > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

/// A JSON body, parsed with a message that names the field at fault.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        Self::parse(&bytes)
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// For the few bodies that may be large (result batches): `batch_limit_bytes`, not the
    /// general body limit.
    pub async fn from_large(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = body_bytes_within(req, state.settings.batch_limit_bytes).await?;
        Self::parse(&bytes)
    }

    fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de)
            .map(ApiJson)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let message = if inner.is_syntax() || inner.is_eof() {
                    format!(
                        "malformed JSON at line {}, column {}: {inner}",
                        inner.line(),
                        inner.column()
                    )
                } else if path == "." {
                    format!("invalid JSON body: {inner}")
                } else {
                    format!("invalid value for `{path}`: {inner}")
                };
                let mut err =
                    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message.clone());
                if inner.is_data() {
                    err.field = if path != "." {
                        Some(path)
                    } else {
                        // serde reports a missing field at the parent: "missing field `name`".
                        message.split('`').nth(1).map(str::to_string)
                    };
                }
                err
            })
    }
}

/// An HTML form body whose `csrf` field matches the CSRF cookie; 403 otherwise.
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "forms must be sent as application/x-www-form-urlencoded",
            )
            .into_response());
        }
        let cookie = cookies::read(req.headers(), cookies::CSRF).unwrap_or_default();
        let bytes = body_bytes(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token: CsrfOnly = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfOnly {
            csrf: String::new(),
        });
        if !csrf::tokens_match(&token.csrf, &cookie) {
            return Err(crate::ui::pages::csrf_failed_page());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid form: {e}"),
                )
                .into_response()
            })
    }
}

/// The principal for an API call: an `Authorization: Bearer tvt_…` token, or else the session
/// cookie; 401 JSON without either.
pub struct ApiAuth(pub Principal);

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(client) = crate::client::ClientInfo::from_request_parts(parts, state).await;
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION).cloned() {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .ok_or(CoreError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`",
                ))?;
            let p = state.core.authenticate_token(token.trim(), &client).await?;
            fill_slot(parts, &p);
            return Ok(ApiAuth(p));
        }
        let cookie =
            cookies::read(&parts.headers, cookies::SESSION).ok_or(CoreError::Unauthenticated(
                "sign in first, or send an API token as `Authorization: Bearer <token>`",
            ))?;
        let p = state.core.authenticate_session(&cookie, &client).await?;
        fill_slot(parts, &p);
        Ok(ApiAuth(p))
    }
}

/// The signed-in principal for a page; redirects to the sign-in page without a live session.
pub struct PageAuth(pub Principal);

impl FromRequestParts<AppState> for PageAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let Some(cookie) = cookies::read(&parts.headers, cookies::SESSION) else {
            return Err(to_sign_in());
        };
        let Ok(client) = crate::client::ClientInfo::from_request_parts(parts, state).await;
        match state.core.authenticate_session(&cookie, &client).await {
            Ok(p) => {
                fill_slot(parts, &p);
                Ok(PageAuth(p))
            }
            Err(CoreError::SecondFactorRequired) => {
                Err(Redirect::to("/sign-in/code").into_response())
            }
            Err(CoreError::EnrolmentRequired) => {
                Err(Redirect::to("/account/two-factor").into_response())
            }
            Err(CoreError::Unauthenticated(_)) => {
                let mut resp = to_sign_in();
                if let Some(c) = cookies::clear_session() {
                    resp.headers_mut().append(header::SET_COOKIE, c);
                }
                Err(resp)
            }
            Err(e) => Err(crate::ui::pages::error_page(e.into())),
        }
    }
}

/// The session cookie, when present (sign-out, and rotation at sign-in).
pub struct MaybeSessionCookie(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeSessionCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeSessionCookie(cookies::read(
            &parts.headers,
            cookies::SESSION,
        )))
    }
}

/// Leaves the principal where the denial recorder can find it.
pub(crate) fn fill_slot(parts: &Parts, p: &Principal) {
    if let Some(slot) = parts.extensions.get::<crate::denials::PrincipalSlot>() {
        slot.fill(p);
    }
}

/// A browser session that may still have to set up its second factor (its org requires one):
/// what the enrolment endpoints and pages take. A session still waiting for its code is refused.
pub struct EnrolSession {
    pub principal: Principal,
    pub cookie: String,
}

impl FromRequestParts<AppState> for EnrolSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(client) = crate::client::ClientInfo::from_request_parts(parts, state).await;
        let cookie = cookies::read(&parts.headers, cookies::SESSION)
            .ok_or(CoreError::Unauthenticated("sign in first"))?;
        let (principal, stage) = state.core.session_principal(&cookie, &client).await?;
        if stage == testvault_core::second_factor::STAGE_SECOND_FACTOR {
            return Err(CoreError::SecondFactorRequired.into());
        }
        fill_slot(parts, &principal);
        Ok(EnrolSession { principal, cookie })
    }
}
