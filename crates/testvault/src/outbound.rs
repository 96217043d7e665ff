//! HTTPS to identity providers for core's `Outbound` port (reqwest on rustls): HTTPS only, no
//! redirects (a provider's endpoints are named in its discovery document, never found by
//! following), short timeouts, at most 1 MiB read, and the CAs in `trusted_ca_file` trusted
//! besides the system's (an internal provider with its own CA, air-gapped).

use std::time::Duration;
use testvault_core::outbound::{
    Outbound, OutboundError, OutboundFuture, OutboundRequest, OutboundResponse,
};

const MAX_BODY: usize = 1024 * 1024;

pub struct HttpsClient {
    client: reqwest::Client,
}

impl HttpsClient {
    /// `extra_roots`: PEM certificates to trust besides the system's.
    pub fn new(extra_roots: Option<&[u8]>) -> Result<Self, String> {
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
        Ok(Self { client })
    }
}

impl Outbound for HttpsClient {
    fn send(&self, request: OutboundRequest) -> OutboundFuture<'_> {
        Box::pin(async move {
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
            // reqwest's errors name the URL, never the form or credentials.
            let mut resp = req
                .send()
                .await
                .map_err(|e| OutboundError(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| OutboundError(e.without_url().to_string()))?
            {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(OutboundError(format!(
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
