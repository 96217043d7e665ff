//! Who is on the other end: the client IP (from the socket, or from `X-Forwarded-For` only when
//! the socket is a trusted proxy) and the user agent.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use testvault_core::ClientMeta;

/// Where the request came from (IP, user agent, request id), as core records it.
#[derive(Debug, Clone)]
pub struct ClientInfo(pub ClientMeta);

impl std::ops::Deref for ClientInfo {
    type Target = ClientMeta;
    fn deref(&self) -> &ClientMeta {
        &self.0
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = client_ip(peer, &parts.headers, &state.settings.trusted_proxies);
        let header = |name: &str, max: usize| -> String {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(max)
                .collect()
        };
        Ok(ClientInfo(ClientMeta {
            ip: ip.map_or_else(|| "unknown".to_string(), |i| i.to_string()),
            user_agent: header("user-agent", 300),
            request_id: header("x-request-id", 64),
        }))
    }
}

/// The right-most address in `X-Forwarded-For` that is not a trusted proxy, when the peer itself
/// is trusted; otherwise the peer. A client cannot spoof its IP by sending the header itself.
fn client_ip(
    peer: Option<IpAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let stranger: IpAddr = [198, 51, 100, 7].into();
        assert_eq!(client_ip(Some(stranger), &h, &[proxy]), Some(stranger));
        assert_eq!(
            client_ip(Some(proxy), &h, &[proxy]),
            Some([203, 0, 113, 9].into())
        );
    }
}
