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
    if !safe && is_cross_site(&req, state.settings.public_origin.as_deref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "cross-site requests that change data are refused",
        )
        .into_response();
    }
    next.run(req).await
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
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("ab", "abc"));
    }
}
