//! Signing in by an emailed link: ask for one (a cookie binds it to this browser), then open it
//! and confirm with a button — a mail scanner that fetches the link spends nothing.

use super::PageCsrf;
use super::pages::{Chrome, form_error, render};
use crate::AppState;
use crate::client::ClientInfo;
use crate::cookies;
use crate::extract::{CsrfForm, MaybeSessionCookie};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use testvault_core::CoreError;

#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct RequestPage {
    chrome: Chrome,
    sent: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sign_in_link_open.html")]
struct OpenPage {
    chrome: Chrome,
    token: String,
    error: Option<String>,
}

/// One `email`: a repeated field is refused by the parser (serde rejects duplicate fields).
#[derive(Deserialize)]
pub struct RequestForm {
    email: String,
    /// The solved proof-of-work challenge (page script fills it in).
    #[serde(default)]
    altcha: String,
}

#[derive(Deserialize)]
pub struct EmptyForm {}

fn status_of(e: &CoreError) -> StatusCode {
    match e {
        CoreError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        CoreError::Gone(_) => StatusCode::GONE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub async fn request_page(PageCsrf(csrf): PageCsrf) -> Response {
    render(
        StatusCode::OK,
        &RequestPage {
            chrome: Chrome::public("Sign in by email", &csrf),
            sent: false,
            error: None,
        },
    )
}

/// `POST /sign-in/link`: one `email` (a repeated field is refused by the form parser).
pub async fn request(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    CsrfForm(form): CsrfForm<RequestForm>,
) -> Response {
    let page = |sent: bool, error: Option<String>| RequestPage {
        chrome: Chrome::public("Sign in by email", &csrf),
        sent,
        error,
    };
    let nonce = match testvault_core::sign_in_links::browser_nonce() {
        Ok(n) => n,
        Err(e) => return crate::ui::pages::error_page(e.into()),
    };
    let asked = match state.core.verify_altcha(&form.altcha).await {
        Ok(()) => {
            state
                .core
                .request_sign_in_link(&form.email, &nonce, &client)
                .await
        }
        Err(e) => Err(e),
    };
    match asked {
        Ok(()) => {
            let mut resp = render(StatusCode::OK, &page(true, None));
            if let Some(c) = cookies::link(&nonce) {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => render(status_of(&e), &page(false, Some(form_error(e)))),
    }
}

/// A link's token as it may appear in a path (64 hex digits).
fn well_formed(token: &str) -> bool {
    (32..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub async fn open_page(PageCsrf(csrf): PageCsrf, Path(token): Path<String>) -> Response {
    let (status, token, error) = if well_formed(&token) {
        (StatusCode::OK, token, None)
    } else {
        (
            StatusCode::GONE,
            String::new(),
            Some("this is not a sign-in link".to_string()),
        )
    };
    render(
        status,
        &OpenPage {
            chrome: Chrome::public("Sign in", &csrf),
            token,
            error,
        },
    )
}

/// `POST /sign-in/link/{token}`: spends the link (in the browser that asked) and signs in.
pub async fn open(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    Path(token): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let browser = cookies::read(&headers, cookies::LINK).unwrap_or_default();
    let result = if well_formed(&token) {
        state
            .core
            .sign_in_with_link(&token, &browser, &client, previous.as_deref())
            .await
    } else {
        Err(CoreError::Gone("this is not a sign-in link"))
    };
    match result {
        Ok(signed) => {
            let mut resp = super::auth::signed_in_redirect(signed, "/projects");
            if let Some(c) = cookies::clear_link() {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => render(
            status_of(&e),
            &OpenPage {
                chrome: Chrome::public("Sign in", &csrf),
                token: if well_formed(&token) {
                    token
                } else {
                    String::new()
                },
                error: Some(form_error(e)),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shaped_paths_are_links() {
        assert!(well_formed(&"ab".repeat(32)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}\"><script>", "a".repeat(40))));
    }
}
