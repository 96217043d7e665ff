//! Outgoing HTTPS, as a port: single sign-on fetches a provider's discovery document and keys,
//! redeems codes and reads SAML metadata. Core says what to send; the binary plugs in a client
//! that speaks HTTPS only, follows no redirects, trusts the configured CAs, times out and caps
//! what it reads.

use std::future::Future;
use std::pin::Pin;

/// One request. `form` makes it a `POST` of `application/x-www-form-urlencoded`; without it,
/// a `GET`.
#[derive(Clone)]
pub struct OutboundRequest {
    pub url: String,
    pub form: Option<Vec<(String, String)>>,
    /// HTTP Basic credentials (`client_secret_basic`).
    pub basic_auth: Option<(String, String)>,
}

impl std::fmt::Debug for OutboundRequest {
    // Forms and credentials carry codes and secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl OutboundRequest {
    pub fn get(url: &str) -> Self {
        Self {
            url: url.to_string(),
            form: None,
            basic_auth: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// Connection, TLS, timeout, too large: logged, and named to the admin in general terms.
    #[error("{0}")]
    Failed(String),
    /// The host is not among those this server may reach (`sso_provider_hosts`).
    #[error(
        "{0} is not among the identity-provider hosts this server may reach (sso_provider_hosts)"
    )]
    HostNotAllowed(String),
}

pub type OutboundFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OutboundResponse, OutboundError>> + Send + 'a>>;

pub trait Outbound: Send + Sync {
    fn send(&self, request: OutboundRequest) -> OutboundFuture<'_>;
}
