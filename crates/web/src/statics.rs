//! Static assets compiled into the binary: the stylesheet, the vendored htmx, our small script,
//! the icon. Served with long caching under versioned names; nothing is fetched from a CDN.

use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Asset paths carry the crate version so a new release never meets a stale cache.
pub const CSS: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".css");
pub const JS: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".js");
pub const HTMX: &str = "/static/htmx-2.0.11.min.js";
pub const ICON: &str = "/static/icon.svg";

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            CSS,
            get(|| async {
                asset(
                    include_bytes!("../static/app.css"),
                    "text/css; charset=utf-8",
                )
            }),
        )
        .route(
            JS,
            get(|| async {
                asset(
                    include_bytes!("../static/app.js"),
                    "text/javascript; charset=utf-8",
                )
            }),
        )
        .route(
            HTMX,
            get(|| async {
                asset(
                    include_bytes!("../static/htmx-2.0.11.min.js"),
                    "text/javascript; charset=utf-8",
                )
            }),
        )
        .route(
            ICON,
            get(|| async { asset(include_bytes!("../static/icon.svg"), "image/svg+xml") }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset(include_bytes!("../static/icon.svg"), "image/svg+xml") }),
        )
}
