//! Middleware on every response: security headers, request ids, request logging, and a generic
//! 500 for a panic (never the panic message).

use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// `script-src 'self'` and `style-src 'self'`: no inline script or style anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn header_layers() -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    vec![
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ),
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
        SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        SetResponseHeaderLayer::overriding(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
        // Pages show private data: never cached unless a handler (static files) says otherwise.
        SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ),
    ]
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    crate::error::internal().into_response()
}

/// A request path as logs may show it: the secret of a sign-in, invitation or setup link is cut.
fn loggable_path(path: &str) -> &str {
    for prefix in ["/sign-in/link/", "/invite/", "/setup/"] {
        if path.starts_with(prefix) && path.len() > prefix.len() {
            return prefix;
        }
    }
    path
}

/// Applies every layer above to a router.
pub fn apply(router: axum::Router) -> axum::Router {
    let mut router = router.layer(CatchPanicLayer::custom(panic_response));
    for layer in header_layers() {
        router = router.layer(layer);
    }
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings may carry secrets and are never logged; nor
                    // are the single-use secrets some paths carry.
                    let path = loggable_path(req.uri().path());
                    tracing::info_span!("request", request.id = %id, http.method = %req.method(), http.path = %path)
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
}

#[cfg(test)]
mod log_tests {
    use super::loggable_path;

    #[test]
    fn link_secrets_never_reach_the_log() {
        assert_eq!(loggable_path("/sign-in/link/abc123"), "/sign-in/link/");
        assert_eq!(loggable_path("/invite/abc123/x"), "/invite/");
        assert_eq!(loggable_path("/setup/abc"), "/setup/");
        assert_eq!(loggable_path("/projects/web"), "/projects/web");
        assert_eq!(loggable_path("/sign-in/link"), "/sign-in/link");
    }
}
