//! OpenID Connect (authorization code flow with PKCE S256, `state` and `nonce`), verified by
//! hand on aws-lc-rs: discovery, the provider's keys, the code redeemed at the token endpoint,
//! and the ID token's signature, issuer, audience, expiry and nonce.
//!
//! Presets add what each big provider does its own way: Microsoft's multi-tenant issuer
//! (`…/{tenantid}/v2.0`, checked against the token's `tid`), Apple's client secret (a JWT we
//! sign with the team's key) and `form_post` answers, and Google's hosted domain (`hd`).

use super::Federated;
use crate::outbound::{OutboundError, OutboundRequest, OutboundResponse};
use crate::{Core, CoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use testvault_crypto::jwt::{self, JwkSet, JwtError};
use testvault_crypto::{TokenHash, constant_time_eq};
use testvault_domain::time;
use testvault_store::SsoConnectionRow;

/// Discovery documents and key sets are fetched again after this long.
const CACHE_SECS: i64 = 3600;
/// A key set is fetched again for an unknown `kid` at most this often (key rotation).
const REFETCH_KEYS_SECS: i64 = 30;
/// Clock difference tolerated between us and the provider.
const SKEW_SECS: i64 = 120;
/// Apple's audience for client-secret JWTs, whatever the issuer is configured as.
const APPLE_AUDIENCE: &str = "https://appleid.apple.com";
pub(crate) const CALLBACK_PATH: &str = "/sso/oidc/callback";

/// An OpenID Connect connection's settings, in clear.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// Microsoft: the tenant ids allowed through a multi-tenant issuer; empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    /// Apple: the team id and the id of the key that signs the client secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub team_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
}

/// An OpenID Connect connection's secrets (sealed at rest with the org's key).
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct OidcSecret {
    /// The client secret (every preset but Apple).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
    /// Apple: the `.p8` private key (PKCS#8 PEM) that signs the client secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_key_pem: String,
}

impl Drop for OidcSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.client_secret);
        zeroize::Zeroize::zeroize(&mut self.private_key_pem);
    }
}

/// What a provider sends back to the callback (query or `form_post`).
#[derive(Debug, Default, Deserialize)]
pub struct OidcCallback {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub error: String,
    /// Apple, first sign-in only: the name the person gave (unsigned; used as a display name).
    #[serde(default)]
    pub user: String,
}

/// The parts of a discovery document we use.
#[derive(Debug, Deserialize)]
pub(crate) struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl ProviderMetadata {
    /// Microsoft's multi-tenant endpoints publish a template instead of one issuer.
    fn issuer_template(&self) -> bool {
        self.issuer.contains("{tenantid}")
    }
}

/// A multi-tenant template is believed only on the discovery document's own host, with
/// `{tenantid}` a whole path segment: `https://<that host>/…/{tenantid}/…`. (Anywhere else it
/// could spell another issuer: `https://accounts.google.co{tenantid}` with `tid` = `m`.)
fn template_fits(template: &str, issuer: &str) -> bool {
    let host = |u: &str| {
        u.strip_prefix("https://")
            .and_then(|r| r.split('/').next())
            .map(str::to_ascii_lowercase)
    };
    let Some(at) = template.find("{tenantid}") else {
        return false;
    };
    template.matches("{tenantid}").count() == 1
        && host(template).is_some_and(|h| !h.contains('{') && Some(h) == host(issuer))
        && template[..at].ends_with('/')
        && (template[at + "{tenantid}".len()..].starts_with('/')
            || at + "{tenantid}".len() == template.len())
}

/// Discovery documents and key sets by URL, shared by every sign-in of this instance.
#[derive(Default)]
pub(crate) struct Cache {
    metadata: Mutex<HashMap<String, (i64, Arc<ProviderMetadata>)>>,
    keys: Mutex<HashMap<String, (i64, Arc<JwkSet>)>>,
}

fn federation(why: impl Into<String>) -> CoreError {
    CoreError::Federation(why.into())
}

pub(crate) fn unreachable_provider(what: &str, e: OutboundError) -> CoreError {
    tracing::warn!(error = %e, "{what}");
    match e {
        OutboundError::HostNotAllowed(_) => federation(e.to_string()),
        OutboundError::Failed(_) => federation(format!(
            "the identity provider could not be reached ({what}); try again, or ask an owner to check the connection"
        )),
    }
}

/// `url`, which must be HTTPS: providers' endpoints are never fetched in clear.
fn https(url: &str, what: &str) -> Result<(), CoreError> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        Ok(())
    } else {
        Err(federation(format!(
            "the provider's {what} is not an https:// address"
        )))
    }
}

pub(crate) fn parse_settings(conn: &SsoConnectionRow) -> Result<OidcSettings, CoreError> {
    serde_json::from_str(&conn.settings)
        .map_err(|e| CoreError::internal(format!("stored OpenID Connect settings: {e}")))
}

impl Core {
    pub(crate) fn oidc_redirect_uri(&self) -> String {
        self.link(CALLBACK_PATH)
    }

    /// The provider's discovery document (cached an hour).
    pub(crate) async fn oidc_metadata(
        &self,
        preset: &str,
        issuer: &str,
    ) -> Result<Arc<ProviderMetadata>, CoreError> {
        let now = time::now();
        let cache = &self.sso_cache().metadata;
        // By preset too: a document accepted for its template (Microsoft) is no other preset's.
        let key = format!("{preset} {issuer}");
        if let Some((at, m)) = cache.lock().ok().and_then(|c| c.get(&key).cloned())
            && now - at < CACHE_SECS
        {
            return Ok(m);
        }
        https(issuer, "issuer")?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let resp = self.fetch(OutboundRequest::get(&url), "discovery").await?;
        let meta: ProviderMetadata = json_200(&resp, "discovery document")?;
        // The document must be the issuer's own (OpenID Connect Discovery §4.3); Microsoft's
        // multi-tenant document names a template instead, checked per token.
        let same = meta.issuer.trim_end_matches('/') == issuer.trim_end_matches('/');
        let template =
            preset == "microsoft" && meta.issuer_template() && template_fits(&meta.issuer, issuer);
        if !(same || template) {
            return Err(federation(format!(
                "the discovery document names issuer {} instead of {issuer}",
                meta.issuer
            )));
        }
        https(&meta.authorization_endpoint, "authorization endpoint")?;
        https(&meta.token_endpoint, "token endpoint")?;
        https(&meta.jwks_uri, "key set address")?;
        let meta = Arc::new(meta);
        if let Ok(mut c) = cache.lock() {
            c.insert(key, (now, meta.clone()));
        }
        Ok(meta)
    }

    /// The provider's key set; fetched again when `stale_before` is later than the cached copy
    /// (an unknown key id: the provider rotated its keys).
    async fn oidc_keys(&self, jwks_uri: &str, refresh: bool) -> Result<Arc<JwkSet>, CoreError> {
        let now = time::now();
        let cache = &self.sso_cache().keys;
        if let Some((at, k)) = cache.lock().ok().and_then(|c| c.get(jwks_uri).cloned()) {
            let fresh = now - at < CACHE_SECS;
            let may_refetch = now - at >= REFETCH_KEYS_SECS;
            if fresh && !(refresh && may_refetch) {
                return Ok(k);
            }
        }
        let resp = self
            .fetch(OutboundRequest::get(jwks_uri), "key set")
            .await?;
        let keys: Arc<JwkSet> = Arc::new(json_200(&resp, "key set")?);
        if let Ok(mut c) = cache.lock() {
            c.insert(jwks_uri.to_string(), (now, keys.clone()));
        }
        Ok(keys)
    }

    async fn fetch(&self, req: OutboundRequest, what: &str) -> Result<OutboundResponse, CoreError> {
        self.outbound()
            .send(req)
            .await
            .map_err(|e| unreachable_provider(what, e))
    }

    /// Where to send the browser to sign in at the provider.
    pub(crate) async fn oidc_authorization_url(
        &self,
        conn: &SsoConnectionRow,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, CoreError> {
        let settings = parse_settings(conn)?;
        let meta = self.oidc_metadata(&conn.preset, &settings.issuer).await?;
        let challenge = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            TokenHash::of(verifier).0,
        );
        let apple = conn.preset == "apple";
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", settings.client_id.as_str()),
            ("redirect_uri", ""),
            (
                "scope",
                if apple {
                    "openid email name"
                } else {
                    "openid email profile"
                },
            ),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", ""),
            ("code_challenge_method", "S256"),
        ];
        if apple {
            // Apple answers with a POST when name or email is asked for.
            params.push(("response_mode", "form_post"));
        }
        let redirect_uri = self.oidc_redirect_uri();
        let params: Vec<(&str, &str)> = params
            .into_iter()
            .map(|(k, v)| match k {
                "redirect_uri" => (k, redirect_uri.as_str()),
                "code_challenge" => (k, challenge.as_str()),
                _ => (k, v),
            })
            .collect();
        let query = serde_urlencoded::to_string(&params)
            .map_err(|e| CoreError::internal(format!("authorization query: {e}")))?;
        let sep = if meta.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{sep}{query}", meta.authorization_endpoint))
    }

    /// The provider sent the browser back: redeem the code, verify the ID token, sign in.
    pub async fn finish_oidc(
        &self,
        callback: &OidcCallback,
        browser: &str,
        client: &crate::ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<super::SsoOutcome, CoreError> {
        let (flow, conn) = self.spend_flow(&callback.state, browser).await?;
        if conn.protocol != "oidc" {
            return Err(CoreError::NotFound("single sign-on connection"));
        }
        if !callback.error.is_empty() {
            let code: String = callback
                .error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(federation(format!(
                "the identity provider did not sign you in ({code})"
            )));
        }
        if callback.code.is_empty() || callback.code.len() > 4096 {
            return Err(federation("the identity provider sent no sign-in code"));
        }
        let settings = parse_settings(&conn)?;
        let secret = self.oidc_secret(&conn).await?;
        let meta = self.oidc_metadata(&conn.preset, &settings.issuer).await?;
        let id_token = self
            .redeem_code(
                &conn,
                &settings,
                &secret,
                &meta,
                &callback.code,
                &flow.verifier,
            )
            .await?;
        let mut who = self
            .verify_id_token(&conn, &settings, &meta, &id_token, &flow.nonce)
            .await?;
        if conn.preset == "apple" && who.name.is_none() {
            who.name = apple_user_name(&callback.user);
        }
        self.finish_federated(&conn, who, flow.link_user, client, previous_session)
            .await
    }

    pub(crate) async fn oidc_secret(
        &self,
        conn: &SsoConnectionRow,
    ) -> Result<OidcSecret, CoreError> {
        let Some(sealed) = &conn.secret_sealed else {
            return Ok(OidcSecret::default());
        };
        let json = self
            .keyring()
            .open(
                self.store(),
                conn.org,
                "sso_connections",
                "secret_sealed",
                &conn.id.to_string(),
                sealed,
            )
            .await?;
        serde_json::from_str(&json).map_err(|e| CoreError::internal(format!("sealed secret: {e}")))
    }

    /// Redeems the code at the token endpoint (with the PKCE verifier) for an ID token.
    async fn redeem_code(
        &self,
        conn: &SsoConnectionRow,
        settings: &OidcSettings,
        secret: &OidcSecret,
        meta: &ProviderMetadata,
        code: &str,
        verifier: &str,
    ) -> Result<String, CoreError> {
        let mut form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), code.to_string()),
            ("redirect_uri".to_string(), self.oidc_redirect_uri()),
            ("code_verifier".to_string(), verifier.to_string()),
        ];
        let mut basic_auth = None;
        let methods = &meta.token_endpoint_auth_methods_supported;
        if conn.preset == "apple" {
            form.push(("client_id".into(), settings.client_id.clone()));
            form.push((
                "client_secret".into(),
                apple_client_secret(settings, secret)?,
            ));
        } else if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic encoding.
            let enc = |s: &str| {
                serde_urlencoded::to_string([("", s)])
                    .map(|e| e.trim_start_matches('=').to_string())
                    .unwrap_or_default()
            };
            basic_auth = Some((enc(&settings.client_id), enc(&secret.client_secret)));
        } else if methods.iter().any(|m| m == "client_secret_post") {
            form.push(("client_id".into(), settings.client_id.clone()));
            form.push(("client_secret".into(), secret.client_secret.clone()));
        } else {
            return Err(federation(
                "the provider's token endpoint accepts neither client_secret_basic nor client_secret_post",
            ));
        }
        let resp = self
            .fetch(
                OutboundRequest {
                    url: meta.token_endpoint.clone(),
                    form: Some(form),
                    basic_auth,
                },
                "token endpoint",
            )
            .await?;
        #[derive(Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            id_token: String,
            #[serde(default)]
            error: String,
        }
        let parsed: Option<TokenResponse> = serde_json::from_slice(&resp.body).ok();
        match parsed {
            Some(t) if resp.status == 200 && !t.id_token.is_empty() => Ok(t.id_token),
            Some(t) if !t.error.is_empty() => {
                let code: String = t
                    .error
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect();
                Err(federation(format!(
                    "the identity provider refused to redeem the sign-in code ({code})"
                )))
            }
            _ => Err(federation(format!(
                "the identity provider's token endpoint answered {} without an ID token",
                resp.status
            ))),
        }
    }

    /// Checks the ID token: signature by the provider's published key, issuer, audience,
    /// expiry, issue time and nonce. Returns who it names.
    pub(crate) async fn verify_id_token(
        &self,
        conn: &SsoConnectionRow,
        settings: &OidcSettings,
        meta: &ProviderMetadata,
        token: &str,
        expected_nonce: &str,
    ) -> Result<Federated, CoreError> {
        let header = jwt::header(token).map_err(jwt_refusal)?;
        let mut keys = self.oidc_keys(&meta.jwks_uri, false).await?;
        let known = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.keys.iter().any(|k| k.kid.as_deref() == Some(kid)),
            None => true,
        };
        if !known(&keys) {
            keys = self.oidc_keys(&meta.jwks_uri, true).await?;
        }
        let payload = jwt::verify(token, &keys).map_err(jwt_refusal)?;
        let claims: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|_| federation("the ID token's claims are not JSON"))?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let number = |name: &str| claims.get(name).and_then(serde_json::Value::as_f64);

        let iss = text("iss").unwrap_or_default();
        let issuer_ok = if meta.issuer_template() {
            let tid = text("tid").unwrap_or_default();
            let tenant_ok = !tid.is_empty()
                && tid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && (settings.tenants.is_empty() || settings.tenants.contains(&tid));
            tenant_ok && iss == meta.issuer.replace("{tenantid}", &tid)
        } else {
            iss == meta.issuer
        };
        if !issuer_ok {
            return Err(federation(
                "the ID token's issuer is not this connection's provider (or its tenant is not allowed)",
            ));
        }
        let audiences: Vec<String> = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => vec![a.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let azp = text("azp");
        let for_us = audiences.contains(&settings.client_id)
            && (audiences.len() == 1 || azp.is_some())
            && azp.as_deref().is_none_or(|a| a == settings.client_id);
        if !for_us {
            return Err(federation("the ID token is not meant for this client"));
        }
        let now = time::now() as f64;
        match number("exp") {
            Some(exp) if exp + SKEW_SECS as f64 > now => {}
            _ => return Err(federation("the ID token has expired")),
        }
        if number("iat").is_some_and(|iat| iat > now + SKEW_SECS as f64) {
            return Err(federation("the ID token was issued in the future"));
        }
        let nonce = text("nonce").unwrap_or_default();
        if !constant_time_eq(nonce.as_bytes(), expected_nonce.as_bytes()) {
            return Err(federation(
                "the ID token's nonce does not match this sign-in (a replayed token?)",
            ));
        }
        let subject = text("sub").unwrap_or_default();
        if subject.is_empty() || subject.len() > 255 {
            return Err(federation("the ID token names no subject"));
        }
        // Apple sends booleans as strings.
        let mut email_verified = match claims.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        let mut email = text("email");
        if conn.preset == "microsoft" {
            // Entra ID sends no `email_verified`, and its `email` is whatever the tenant's admin
            // typed: trusted only from the tenants this connection lists (their admins answer
            // for their directory). Work accounts name their address in `preferred_username`.
            email = email.or_else(|| text("preferred_username").filter(|u| u.contains('@')));
            email_verified = email_verified || !settings.tenants.is_empty();
        }
        let name = text("name").or_else(|| {
            let parts: Vec<String> = ["given_name", "family_name"]
                .iter()
                .filter_map(|n| text(n))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        tracing::debug!(sso.connection = %conn.id, "ID token verified");
        Ok(Federated {
            issuer: iss,
            subject,
            email,
            email_verified,
            name,
            hosted_domain: text("hd"),
        })
    }
}

fn jwt_refusal(e: JwtError) -> CoreError {
    federation(format!("the ID token was refused: {e}"))
}

fn json_200<T: serde::de::DeserializeOwned>(
    resp: &OutboundResponse,
    what: &str,
) -> Result<T, CoreError> {
    if resp.status != 200 {
        return Err(federation(format!(
            "the identity provider's {what} answered {}",
            resp.status
        )));
    }
    serde_json::from_slice(&resp.body).map_err(|_| {
        federation(format!(
            "the identity provider's {what} is not the JSON expected"
        ))
    })
}

/// Apple's client secret: a short-lived ES256 JWT signed with the team's key.
fn apple_client_secret(settings: &OidcSettings, secret: &OidcSecret) -> Result<String, CoreError> {
    let key = jwt::pem_body(&secret.private_key_pem)
        .ok_or_else(|| federation("the connection's Apple private key is not a PEM key"))?;
    let now = time::now();
    let claims = serde_json::json!({
        "iss": settings.team_id,
        "iat": now,
        "exp": now + 300,
        "aud": APPLE_AUDIENCE,
        "sub": settings.client_id,
    });
    let key = zeroize::Zeroizing::new(key);
    jwt::sign_es256(&key, &settings.key_id, &claims)
        .map_err(|e| federation(format!("the connection's Apple key cannot sign: {e}")))
}

/// The name in Apple's first-time `user` field (`{"name":{"firstName":…,"lastName":…}}`).
fn apple_user_name(user: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(user).ok()?;
    let name = v.get("name")?;
    let parts: Vec<&str> = ["firstName", "lastName"]
        .iter()
        .filter_map(|k| name.get(*k).and_then(|p| p.as_str()))
        .filter(|p| !p.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_names_come_from_the_first_time_user_field() {
        assert_eq!(
            apple_user_name(
                r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"a@b.c"}"#
            ),
            Some("Ada Lovelace".into())
        );
        assert_eq!(apple_user_name(""), None);
        assert_eq!(apple_user_name(r#"{"email":"a@b.c"}"#), None);
    }

    #[test]
    fn a_tenant_template_must_stay_on_its_own_host() {
        let ms = "https://login.microsoftonline.com/common/v2.0";
        assert!(template_fits(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            ms
        ));
        assert!(!template_fits("https://accounts.google.co{tenantid}", ms));
        assert!(!template_fits(
            "https://accounts.google.com/{tenantid}/v2.0",
            ms
        ));
        assert!(!template_fits(
            "https://login.microsoftonline.com/x{tenantid}/v2.0",
            ms
        ));
        assert!(!template_fits(
            "https://login.microsoftonline.com/{tenantid}/{tenantid}",
            ms
        ));
    }

    #[test]
    fn only_https_endpoints_are_used() {
        assert!(https("https://idp.example", "issuer").is_ok());
        assert!(https("http://idp.example", "issuer").is_err());
        assert!(https("https://", "issuer").is_err());
    }
}
