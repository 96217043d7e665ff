//! HTTPS to identity providers for core's `Outbound` port (reqwest on rustls): HTTPS only, no
//! redirects (a provider's endpoints are named in its discovery document, never found by
//! following), short timeouts, at most 1 MiB read, the CAs in `trusted_ca_file` trusted besides
//! the system's (an internal provider with its own CA, air-gapped), and, when
//! `sso_provider_hosts` is set, only those hosts reached (owners cannot point it at internal
//! services).

use std::time::Duration;
use testvault_core::outbound::{
    Outbound, OutboundError, OutboundFuture, OutboundRequest, OutboundResponse,
};

const MAX_BODY: usize = 1024 * 1024;

pub struct HttpsClient {
    client: reqwest::Client,
    /// Hosts it may reach (`idp.example.com`, or `*.example.com` for any below it); empty: any.
    allowed_hosts: Vec<String>,
}

/// Whether `host` is one of `allowed` (exact, or below a `*.` entry); an empty list allows any.
pub fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.is_empty()
        || allowed.iter().any(|a| match a.strip_prefix("*.") {
            Some(parent) => host.ends_with(&format!(".{parent}")),
            None => *a == host,
        })
}

impl HttpsClient {
    /// `extra_roots`: PEM certificates to trust besides the system's. `allowed_hosts`: where it
    /// may go; empty allows any.
    pub fn new(extra_roots: Option<&[u8]>, allowed_hosts: Vec<String>) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("Testvault/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_roots {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("trusted_ca_file is not PEM certificates ({e})"))?;
            if certs.is_empty() {
                return Err("trusted_ca_file holds no certificate".into());
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| format!("HTTPS client: {e}"))?;
        let allowed_hosts = allowed_hosts
            .into_iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Ok(Self {
            client,
            allowed_hosts,
        })
    }
}

fn failed(e: reqwest::Error) -> OutboundError {
    // reqwest's errors would name the URL; the form and credentials never appear in them.
    OutboundError::Failed(e.without_url().to_string())
}

impl Outbound for HttpsClient {
    fn send(&self, request: OutboundRequest) -> OutboundFuture<'_> {
        Box::pin(async move {
            let host = reqwest::Url::parse(&request.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .ok_or_else(|| OutboundError::Failed(format!("{} is not a URL", request.url)))?;
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if !host_allowed(&self.allowed_hosts, bare) {
                return Err(OutboundError::HostNotAllowed(bare.to_string()));
            }
            let mut req = match &request.form {
                Some(form) => self.client.post(&request.url).form(form),
                None => self.client.get(&request.url),
            };
            req = req.header(
                reqwest::header::ACCEPT,
                "application/json, application/xml;q=0.9",
            );
            if let Some((user, password)) = &request.basic_auth {
                req = req.basic_auth(user, Some(password));
            }
            let mut resp = req.send().await.map_err(failed)?;
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(failed)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(OutboundError::Failed(format!(
                        "{} answered more than {MAX_BODY} bytes",
                        request.url
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(OutboundResponse { status, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_exactly_or_below_a_wildcard() {
        let allowed = vec![
            "login.microsoftonline.com".to_string(),
            "*.okta.com".to_string(),
        ];
        assert!(host_allowed(&allowed, "login.microsoftonline.com"));
        assert!(host_allowed(&allowed, "acme.okta.com"));
        assert!(host_allowed(&allowed, "ACME.okta.com."));
        assert!(!host_allowed(&allowed, "okta.com.evil.example"));
        assert!(!host_allowed(&allowed, "evilokta.com"));
        assert!(!host_allowed(&allowed, "10.0.0.1"));
        assert!(host_allowed(&[], "10.0.0.1"), "no list: any host");
    }
}
