//! The two cookies: the session (`__Host-tv_session`) and the CSRF double-submit token
//! (`__Host-tv_csrf`). The `__Host-` prefix makes browsers insist on `Secure`, `Path=/` and no
//! `Domain`, so no sibling subdomain can plant or overwrite them.

use axum::http::{HeaderMap, HeaderValue, header};

pub const SESSION: &str = "__Host-tv_session";
pub const CSRF: &str = "__Host-tv_csrf";

/// The value of cookie `name` in the request, if present.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn build(name: &str, value: &str, max_age: i64, same_site: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}; Max-Age={max_age}"
    ))
    .ok()
}

pub fn session(value: &str, max_age: i64) -> Option<HeaderValue> {
    build(SESSION, value, max_age, "Lax")
}

pub fn clear_session() -> Option<HeaderValue> {
    build(SESSION, "", 0, "Lax")
}

/// Binds an emailed sign-in link to the browser that asked for it (as long as the link lives).
pub const LINK: &str = "__Host-tv_link";

pub fn link(value: &str) -> Option<HeaderValue> {
    build(LINK, value, 10 * 60, "Lax")
}

pub fn clear_link() -> Option<HeaderValue> {
    build(LINK, "", 0, "Lax")
}

/// Binds a single sign-on attempt to the browser that began it. `SameSite=None`: providers
/// answering with a POST (SAML, Apple's `form_post`) come back cross-site, and the cookie must
/// come along; it is only a binding, useless without the attempt's `state`.
pub const SSO: &str = "__Host-tv_sso";

pub fn sso(value: &str) -> Option<HeaderValue> {
    build(SSO, value, 10 * 60, "None")
}

pub fn clear_sso() -> Option<HeaderValue> {
    build(SSO, "", 0, "None")
}

pub fn csrf(value: &str) -> Option<HeaderValue> {
    build(CSRF, value, 12 * 3600, "Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_well_formed_values() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-tv_session=abc123; x=\"y\""),
        );
        assert_eq!(read(&h, SESSION).as_deref(), Some("abc123"));
        assert_eq!(read(&h, "x"), None);
        assert_eq!(read(&h, CSRF), None);
    }

    #[test]
    fn cookies_carry_every_protective_attribute() {
        let c = session("abc", 60).and_then(|v| v.to_str().ok().map(str::to_string));
        assert_eq!(
            c.as_deref(),
            Some("__Host-tv_session=abc; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60")
        );
    }
}
