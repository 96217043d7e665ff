//! What every page shares: the layout context (`Chrome`), rendering, and error pages.

use crate::error::ApiError;
use crate::statics;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use testvault_core::{CoreError, OrgView, Principal};
use testvault_domain::Permission;

/// The layout's data: title, CSRF token, navigation.
pub struct Chrome {
    pub title: String,
    pub section: &'static str,
    pub csrf: String,
    pub nav: Option<Nav>,
    pub css: &'static str,
    pub js: &'static str,
    pub htmx: &'static str,
    pub version: &'static str,
}

pub struct Nav {
    pub org_name: String,
    pub user_name: String,
    pub user_email: String,
    pub role: String,
    pub can_members: bool,
    pub can_roles: bool,
    pub can_security: bool,
    pub can_audit: bool,
    pub orgs: Vec<OrgView>,
}

impl Chrome {
    /// For pages outside the app (sign-in, setup, invitation).
    pub fn public(title: &str, csrf: &str) -> Self {
        Self {
            title: title.to_string(),
            section: "",
            csrf: csrf.to_string(),
            nav: None,
            css: statics::CSS,
            js: statics::JS,
            htmx: statics::HTMX,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// For signed-in pages: adds the navigation for this principal.
    pub fn app(
        title: &str,
        section: &'static str,
        csrf: &str,
        p: &Principal,
        orgs: Vec<OrgView>,
    ) -> Self {
        Self {
            section,
            nav: Some(Nav {
                org_name: p.org_name.clone(),
                user_name: p.display_name.clone(),
                user_email: p.email.clone(),
                role: p.role.to_string(),
                can_members: p.can(Permission::ManageMembers),
                can_roles: p.can(Permission::ManageRoles),
                can_security: p.can(Permission::ManageSecurity),
                can_audit: p.can(Permission::ReadAudit),
                orgs,
            }),
            ..Self::public(title, csrf)
        }
    }
}

/// 422 when a form comes back with an error, 200 otherwise.
pub fn status_for(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// Renders a template into a response (a generic 500 if rendering fails).
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            crate::error::internal().into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: String,
    message: String,
    action: Option<(String, String)>,
}

/// A standalone message page (no navigation).
pub fn message_page(
    status: StatusCode,
    heading: &str,
    message: &str,
    action: Option<(&str, &str)>,
) -> Response {
    render(
        status,
        &MessagePage {
            chrome: Chrome::public(heading, ""),
            heading: heading.to_string(),
            message: message.to_string(),
            action: action.map(|(h, l)| (h.to_string(), l.to_string())),
        },
    )
}

pub fn not_found_page() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address. It may have moved, or the link may be mistyped.",
        Some(("/", "Go to Testvault")),
    )
}

pub fn csrf_failed_page() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form could not be verified (it may be from another site, or your browser's form token changed). Go back, reload the page and try again.",
        Some(("/", "Go to Testvault")),
    )
}

/// An error page for a failed use case (status from the API mapping; 5xx stays generic).
pub fn error_page(err: ApiError) -> Response {
    let denied = err.code == "forbidden";
    let (heading, message) = match err.status {
        StatusCode::FORBIDDEN => ("Not allowed", err.message),
        StatusCode::NOT_FOUND => ("Not found", err.message),
        StatusCode::GONE => ("Link no longer valid", err.message),
        StatusCode::TOO_MANY_REQUESTS => ("Slow down", err.message),
        s if s.is_server_error() => ("Something went wrong", err.message),
        _ => ("That did not work", err.message),
    };
    let mut resp = message_page(
        err.status,
        heading,
        &message,
        Some(("/", "Go to Testvault")),
    );
    if denied {
        resp.extensions_mut()
            .insert(crate::denials::PermissionDenied);
    }
    resp
}

/// The message a form shows for a failed use case; internal errors are logged, not shown.
pub fn form_error(err: CoreError) -> String {
    let api: ApiError = err.into();
    match api.field {
        Some(field) if api.status == StatusCode::UNPROCESSABLE_ENTITY => {
            format!("{}: {}", humanize(&field), api.message)
        }
        _ => api.message,
    }
}

fn humanize(field: &str) -> String {
    let words = field.replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// `Firefox on Linux`: a readable name for a session's user agent.
pub fn device(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => format!("Browser on {o}"),
        (None, None) if user_agent.is_empty() => "Unknown device".to_string(),
        (None, None) => user_agent.chars().take(40).collect(),
    }
}

/// A query-string value, percent-encoded.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A test's name as pages show it: with its parameters, when it has any.
pub fn test_name(name: String, parameters: &str) -> String {
    if parameters.is_empty() {
        name
    } else {
        format!("{name} {parameters}")
    }
}

pub fn when(t: i64) -> String {
    testvault_domain::time::format_utc(t)
}
