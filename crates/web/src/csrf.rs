//! Cross-site request forgery defences, in two layers:
//! 1. every state-changing request whose browser says it came from another site
//!    (`Sec-Fetch-Site: cross-site`, or an `Origin` that is not ours) is refused outright;
//! 2. every HTML form carries a token that must equal the `__Host-tv_csrf` cookie
//!    (double submit), checked by the `CsrfForm` extractor.
//!
//! JSON endpoints additionally require `Content-Type: application/json`, which a cross-site page
//! cannot send without a CORS preflight that this server never approves.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && !answered_by_identity_provider(req.uri().path())
        && is_cross_site(&req, state.settings.public_origin.as_deref())
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "cross-site requests that change data are refused",
        )
        .into_response();
    }
    next.run(req).await
}

/// The two places an identity provider's page posts to, from its own site by design (SAML's
/// HTTP-POST binding, OpenID Connect's `form_post`). They change nothing on their own: each
/// needs the attempt's `state`/`RelayState`, spent once, in the browser holding the
/// `__Host-tv_sso` cookie that began it.
fn answered_by_identity_provider(path: &str) -> bool {
    path == "/sso/oidc/callback"
        || path
            .strip_prefix("/sso/saml/")
            .and_then(|rest| rest.strip_suffix("/acs"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn is_cross_site(req: &Request, public_origin: Option<&str>) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    if public_origin.is_some_and(|ours| ours.eq_ignore_ascii_case(origin)) {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let origin_host = origin.strip_prefix("https://").unwrap_or("");
    host.is_none_or(|h| !h.eq_ignore_ascii_case(origin_host))
}

/// Constant-time comparison of the form token and the cookie.
pub fn tokens_match(form: &str, cookie: &str) -> bool {
    !form.is_empty()
        && form.len() == cookie.len()
        && form
            .bytes()
            .zip(cookie.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_providers_answers_may_come_from_their_sites() {
        assert!(answered_by_identity_provider("/sso/oidc/callback"));
        assert!(answered_by_identity_provider(
            "/sso/saml/9b2c0c8e-0000-4000-8000-000000000000/acs"
        ));
        assert!(!answered_by_identity_provider("/sso/saml//acs"));
        assert!(!answered_by_identity_provider("/sso/saml/x/y/acs"));
        assert!(!answered_by_identity_provider("/settings/sso"));
        assert!(!answered_by_identity_provider("/account/sso/x/link"));
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("ab", "abc"));
    }
}
