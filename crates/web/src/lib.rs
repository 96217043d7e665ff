#![forbid(unsafe_code)]
//! The HTTP edge: router, middleware, extractors, error rendering, JSON API and server-rendered UI.
//! Handlers parse input, call one `core` function and render; no rules live here.

mod api;
mod attachment;
mod client;
mod compat;
mod cookies;
mod csrf;
mod denials;
mod error;
mod extract;
mod headers;
mod markdown;
pub mod metrics;
mod ops;
mod qr;
mod statics;
mod ui;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::net::IpAddr;
use std::sync::Arc;
use testvault_core::Core;

pub use metrics::Metrics;

/// Web settings from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Proxies whose `X-Forwarded-For` is believed; everyone else's is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest JSON batch of results, in bytes.
    pub batch_limit_bytes: usize,
    /// Largest report upload (as sent, compressed or not), in bytes; streamed, never buffered.
    pub upload_limit_bytes: u64,
    /// `https://host[:port]` of the public URL: an `Origin` that may differ from the `Host` the
    /// server sees (behind a reverse proxy) and is still ours.
    pub public_origin: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            batch_limit_bytes: 64 * 1024 * 1024,
            upload_limit_bytes: 4 * 1024 * 1024 * 1024,
            public_origin: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub settings: Arc<WebSettings>,
    pub metrics: Metrics,
}

/// The whole application as one router (HTTPS listener).
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    let app = Router::new()
        .merge(ops::routes())
        .merge(statics::routes())
        .nest("/api/v1", api::v1::routes())
        .merge(compat::routes())
        .merge(ui::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            denials::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(ui::ensure_csrf_cookie))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    headers::apply(app)
}

/// The optional plain-HTTP listener: every request is redirected to the HTTPS address.
pub fn redirect_router(https_port: u16) -> Router {
    ops::redirect_router(https_port)
}
