//! Managing an org's single sign-on connections (owners, through `ManageSecurity`), the
//! "single sign-on required" policy, finding a connection for an email address at sign-in, and
//! each person's own linked identities.

use super::oidc::{OidcSecret, OidcSettings};
use crate::audit::{self, Change};
use crate::{Allowed, Core, CoreError, Principal};
use serde::{Deserialize, Serialize};
use testvault_domain::{DomainError, Email, Permission, time};
use testvault_store::{SsoConnectionRow, SsoConnectionWrite};
use uuid::Uuid;
use zeroize::Zeroizing;

/// The presets a connection can be made from.
const PRESETS: &[&str] = &["generic", "google", "microsoft", "apple", "saml"];
const MAX_DOMAINS: usize = 50;

/// What an owner submits to create or change a connection. Secrets left blank on a change keep
/// the stored ones.
#[derive(Default, Deserialize)]
pub struct ConnectionInput {
    pub preset: String,
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Email domains, separated by spaces or commas; empty allows any address.
    #[serde(default)]
    pub allowed_domains: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    /// Microsoft: allowed tenant ids, separated by spaces or commas.
    #[serde(default)]
    pub tenants: String,
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub key_id: String,
    /// Apple: the `.p8` private key, PEM.
    #[serde(default)]
    pub private_key: String,
    /// SAML: the IdP's metadata, pasted, or the https:// address it is published at.
    #[serde(default)]
    pub idp_metadata_xml: String,
    #[serde(default)]
    pub idp_metadata_url: String,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub email_attribute: String,
    #[serde(default)]
    pub name_attribute: String,
}

fn enabled_by_default() -> bool {
    true
}

impl std::fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInput")
            .field("preset", &self.preset)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for ConnectionInput {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.client_secret);
        zeroize::Zeroize::zeroize(&mut self.private_key);
    }
}

/// A SAML connection's settings, in clear: what the IdP's metadata said, and our choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    /// Where the AuthnRequest goes (HTTP-Redirect binding).
    pub idp_sso_url: String,
    /// The certificates (base64 DER, as metadata carries them) the IdP signs with; a response
    /// signed by any other key is refused.
    pub idp_certificates: Vec<String>,
    /// Where the metadata came from, when it was fetched rather than pasted.
    #[serde(default)]
    pub metadata_url: String,
    /// Unsolicited responses (sign-ins started at the IdP) are refused unless this is on.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// The attribute holding the email address; empty uses the NameID when it is one.
    #[serde(default)]
    pub email_attribute: String,
    #[serde(default)]
    pub name_attribute: String,
}

/// A connection as its settings page and `GET /api/v1/org/sso/connections` show it: never its
/// secrets, only whether they are set.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    pub id: Uuid,
    pub protocol: String,
    pub preset: String,
    pub name: String,
    pub enabled: bool,
    pub allowed_domains: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSettings>,
    pub has_secret: bool,
    /// Where people start signing in through this connection (a link owners can share).
    pub start_url: String,
    /// What to register at the provider: the redirect URI (OpenID Connect), or the service
    /// provider's entity id, assertion consumer service and metadata (SAML).
    pub redirect_uri: Option<String>,
    pub sp_entity_id: Option<String>,
    pub acs_url: Option<String>,
    pub sp_metadata_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A connection offered on the sign-in page.
#[derive(Debug, Clone, Serialize)]
pub struct SsoChoice {
    pub id: Uuid,
    pub name: String,
    /// The organisation the connection signs in to (a domain names no owner: say whose it is).
    pub org_name: String,
    pub start_url: String,
}

/// One of the caller's linked identities.
#[derive(Debug, Clone, Serialize)]
pub struct SsoIdentityView {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

fn invalid(field: &'static str, why: impl Into<String>) -> CoreError {
    DomainError::new(field, why).into()
}

/// Lower-case host names, each with a dot, separated by spaces or commas.
pub(crate) fn parse_domains(text: &str) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::new();
    for d in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|d| !d.is_empty())
    {
        let d = d.trim_start_matches('@').to_ascii_lowercase();
        let ok = d.len() <= 253
            && d.contains('.')
            && d.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(invalid(
                "allowed_domains",
                format!("`{d}` is not a domain name"),
            ));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.len() > MAX_DOMAINS {
        return Err(invalid(
            "allowed_domains",
            format!("at most {MAX_DOMAINS} domains"),
        ));
    }
    Ok(out)
}

/// A plain identifier (client id, team id, key id, tenant id): printable, no spaces.
fn identifier(field: &'static str, text: &str, required: bool) -> Result<String, CoreError> {
    let t = text.trim();
    if t.is_empty() {
        return if required {
            Err(invalid(field, "required"))
        } else {
            Ok(String::new())
        };
    }
    if t.len() > 255 || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            field,
            "printable characters without spaces, at most 255",
        ));
    }
    Ok(t.to_string())
}

/// An https:// address without query or fragment.
pub(crate) fn https_address(field: &'static str, text: &str) -> Result<String, CoreError> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .ok_or_else(|| invalid(field, "must be an https:// address"))?;
    if rest.is_empty()
        || t.len() > 2000
        || t.contains(['?', '#', ' ', '"', '<', '>', '\\'])
        || !t.is_ascii()
    {
        return Err(invalid(
            field,
            "must be an https:// address without query or fragment",
        ));
    }
    Ok(t.to_string())
}

fn default_issuer(preset: &str) -> &'static str {
    match preset {
        "google" => "https://accounts.google.com",
        // Work and school accounts of any tenant; narrow it with `tenants`.
        "microsoft" => "https://login.microsoftonline.com/organizations/v2.0",
        "apple" => "https://appleid.apple.com",
        _ => "",
    }
}

impl Core {
    pub(crate) fn sso_view(&self, c: &SsoConnectionRow) -> ConnectionView {
        let oidc = (c.protocol == "oidc")
            .then(|| super::oidc::parse_settings(c).ok())
            .flatten();
        let saml = (c.protocol == "saml")
            .then(|| serde_json::from_str::<SamlSettings>(&c.settings).ok())
            .flatten();
        let is_saml = c.protocol == "saml";
        ConnectionView {
            id: c.id,
            protocol: c.protocol.clone(),
            preset: c.preset.clone(),
            name: c.name.clone(),
            enabled: c.enabled,
            allowed_domains: c
                .allowed_domains
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            oidc,
            saml,
            has_secret: c.secret_sealed.is_some(),
            start_url: self.link(&format!("/sso/{}/start", c.id)),
            redirect_uri: (!is_saml).then(|| self.oidc_redirect_uri()),
            sp_entity_id: is_saml.then(|| self.saml_sp_entity_id(c.id)),
            acs_url: is_saml.then(|| self.link(&format!("/sso/saml/{}/acs", c.id))),
            sp_metadata_url: is_saml.then(|| self.saml_sp_entity_id(c.id)),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }

    /// The service provider's entity id for a SAML connection: its metadata address.
    pub(crate) fn saml_sp_entity_id(&self, connection: Uuid) -> String {
        self.link(&format!("/sso/saml/{connection}/metadata"))
    }

    pub async fn sso_connections(
        &self,
        allowed: Allowed<'_>,
    ) -> Result<Vec<ConnectionView>, CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        Ok(self
            .store()
            .list_sso_connections(p.org)
            .await?
            .iter()
            .map(|c| self.sso_view(c))
            .collect())
    }

    pub async fn create_sso_connection(
        &self,
        allowed: Allowed<'_>,
        input: ConnectionInput,
    ) -> Result<ConnectionView, CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let id = Uuid::new_v4();
        let prepared = self.prepare_connection(p, id, &input, None).await?;
        let event = audit::by(
            p,
            Change::new("sso.connection_created", "sso_connection", id)
                .after(prepared.audit_view()),
        );
        self.store()
            .create_sso_connection(&prepared.write(p, id), &event)
            .await?;
        self.sso_connection_view(p, id).await
    }

    pub async fn update_sso_connection(
        &self,
        allowed: Allowed<'_>,
        id: Uuid,
        input: ConnectionInput,
    ) -> Result<ConnectionView, CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let existing = self.org_connection(p, id).await?;
        let prepared = self
            .prepare_connection(p, id, &input, Some(&existing))
            .await?;
        let event = audit::by(
            p,
            Change::new("sso.connection_changed", "sso_connection", id)
                .before(Prepared::from_row(&existing).audit_view())
                .after(prepared.audit_view()),
        );
        if !self
            .store()
            .update_sso_connection(&prepared.write(p, id), &event)
            .await?
        {
            return Err(CoreError::NotFound("single sign-on connection"));
        }
        self.sso_connection_view(p, id).await
    }

    pub async fn delete_sso_connection(
        &self,
        allowed: Allowed<'_>,
        id: Uuid,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let existing = self.org_connection(p, id).await?;
        let event = audit::by(
            p,
            Change::new("sso.connection_deleted", "sso_connection", id)
                .before(Prepared::from_row(&existing).audit_view()),
        );
        if self
            .store()
            .delete_sso_connection(p.org, id, &event)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound("single sign-on connection"))
        }
    }

    async fn org_connection(&self, p: &Principal, id: Uuid) -> Result<SsoConnectionRow, CoreError> {
        self.store()
            .list_sso_connections(p.org)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(CoreError::NotFound("single sign-on connection"))
    }

    async fn sso_connection_view(
        &self,
        p: &Principal,
        id: Uuid,
    ) -> Result<ConnectionView, CoreError> {
        Ok(self.sso_view(&self.org_connection(p, id).await?))
    }

    /// Turns the requirement on or off. On: members other than owners must sign in through a
    /// connection; their other sessions end at their next request. Needs an enabled connection.
    pub async fn set_sso_required(
        &self,
        allowed: Allowed<'_>,
        required: bool,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        if required
            && !self
                .store()
                .list_sso_connections(p.org)
                .await?
                .iter()
                .any(|c| c.enabled)
        {
            return Err(CoreError::Refused(
                "add and enable a single sign-on connection before requiring it",
            ));
        }
        let event = audit::by(
            p,
            Change::new("security.sso_required_changed", "org", p.org)
                .after(serde_json::json!({ "sso_required": required })),
        );
        self.store()
            .set_sso_required(p.org, required, &event)
            .await?;
        Ok(())
    }

    /// The connections that accept addresses at `email`'s domain (the sign-in page's "Sign in
    /// with single sign-on" asks for the address first). Says nothing about accounts.
    pub async fn sso_choices_for_email(&self, email: &str) -> Result<Vec<SsoChoice>, CoreError> {
        let email = Email::parse(email)?;
        let domain = email.as_str().rsplit('@').next().unwrap_or_default();
        let mut choices = Vec::new();
        for c in self.store().sso_connections_for_domain(domain).await? {
            choices.push(self.sso_choice(&c).await?);
        }
        Ok(choices)
    }

    /// One enabled connection, as a sign-in choice.
    pub async fn sso_connection_choice(&self, id: Uuid) -> Result<SsoChoice, CoreError> {
        self.sso_choice(&self.live_connection(id).await?).await
    }

    async fn sso_choice(&self, c: &SsoConnectionRow) -> Result<SsoChoice, CoreError> {
        let org = self
            .store()
            .get_org(c.org)
            .await?
            .ok_or(CoreError::NotFound("single sign-on connection"))?;
        Ok(SsoChoice {
            id: c.id,
            name: c.name.clone(),
            org_name: org.name,
            start_url: self.link(&format!("/sso/{}/start", c.id)),
        })
    }

    /// The caller's linked identities, and the connections of their org they could link.
    pub async fn my_sso_identities(
        &self,
        p: &Principal,
    ) -> Result<(Vec<SsoIdentityView>, Vec<SsoChoice>), CoreError> {
        p.require_session()?;
        let identities = self
            .store()
            .sso_identities_of(p.org, p.user)
            .await?
            .into_iter()
            .map(|i| SsoIdentityView {
                issuer: i.issuer,
                subject: i.subject,
                email: i.email,
                created_at: i.created_at,
                last_used_at: i.last_used_at,
            })
            .collect();
        let mut choices = Vec::new();
        for c in self.store().list_sso_connections(p.org).await? {
            if c.enabled {
                choices.push(self.sso_choice(&c).await?);
            }
        }
        Ok((identities, choices))
    }

    /// Forgets one of the caller's linked identities; refused when it is their only way in.
    pub async fn unlink_my_sso_identity(
        &self,
        p: &Principal,
        issuer: &str,
        subject: &str,
    ) -> Result<(), CoreError> {
        p.require_session()?;
        if self.ways_in(p.user).await? <= 1 {
            return Err(CoreError::Refused(
                "this identity is your only way to sign in; add a passkey first",
            ));
        }
        let event = audit::by(
            p,
            Change::new("sso.identity_unlinked", "user", p.user)
                .before(serde_json::json!({ "issuer": issuer })),
        );
        if self
            .store()
            .unlink_sso_identity(p.user, issuer, subject, &event)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound("linked identity"))
        }
    }

    /// Validates an owner's input into the row to store; checks an OpenID Connect provider's
    /// discovery document now, so a typo shows at once rather than at someone's sign-in.
    async fn prepare_connection(
        &self,
        p: &Principal,
        id: Uuid,
        input: &ConnectionInput,
        existing: Option<&SsoConnectionRow>,
    ) -> Result<Prepared, CoreError> {
        let preset = input.preset.trim().to_ascii_lowercase();
        if !PRESETS.contains(&preset.as_str()) {
            return Err(invalid(
                "preset",
                "one of generic, google, microsoft, apple, saml",
            ));
        }
        if let Some(e) = existing
            && (e.protocol == "saml") != (preset == "saml")
        {
            return Err(invalid(
                "preset",
                "a connection cannot change protocol; make a new one",
            ));
        }
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(invalid("name", "1 to 100 characters"));
        }
        let domains = parse_domains(&input.allowed_domains)?.join(" ");
        let base = Prepared {
            protocol: if preset == "saml" { "saml" } else { "oidc" }.to_string(),
            preset: preset.clone(),
            name: name.to_string(),
            enabled: input.enabled,
            allowed_domains: domains,
            settings: String::new(),
            secret_sealed: None,
        };
        if preset == "saml" {
            return self.prepare_saml(base, input, existing).await;
        }
        let issuer = if input.issuer.trim().is_empty() {
            default_issuer(&preset).to_string()
        } else {
            input.issuer.clone()
        };
        if issuer.is_empty() {
            return Err(invalid("issuer", "required"));
        }
        let issuer = https_address("issuer", &issuer)?;
        let mut settings = OidcSettings {
            issuer,
            client_id: identifier("client_id", &input.client_id, true)?,
            ..OidcSettings::default()
        };
        if preset == "microsoft" {
            for t in input
                .tenants
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|t| !t.is_empty())
            {
                settings.tenants.push(identifier("tenants", t, true)?);
            }
        }
        let stored = match existing {
            Some(e) => self.oidc_secret(e).await?,
            None => OidcSecret::default(),
        };
        let mut secret = OidcSecret::default();
        if preset == "apple" {
            settings.team_id = identifier("team_id", &input.team_id, true)?;
            settings.key_id = identifier("key_id", &input.key_id, true)?;
            secret.private_key_pem = if input.private_key.trim().is_empty() {
                stored.private_key_pem.clone()
            } else {
                input.private_key.trim().to_string()
            };
            let key = testvault_crypto::jwt::pem_body(&secret.private_key_pem).map(Zeroizing::new);
            if !key.is_some_and(|k| testvault_crypto::jwt::is_es256_key(&k)) {
                return Err(invalid(
                    "private_key",
                    "Apple's .p8 key (a PKCS#8 P-256 private key in PEM) is required",
                ));
            }
        } else {
            secret.client_secret = if input.client_secret.is_empty() {
                stored.client_secret.clone()
            } else {
                input.client_secret.clone()
            };
            if secret.client_secret.is_empty() {
                return Err(invalid("client_secret", "required"));
            }
        }
        // Reachable and well-formed now, not at someone's first sign-in.
        self.oidc_metadata(&preset, &settings.issuer)
            .await
            .map_err(|e| invalid("issuer", e.to_string()))?;
        let json = Zeroizing::new(
            serde_json::to_string(&secret)
                .map_err(|e| CoreError::internal(format!("secret JSON: {e}")))?,
        );
        let sealed = self
            .keyring()
            .seal(
                self.store(),
                p.org,
                "sso_connections",
                "secret_sealed",
                &id.to_string(),
                &json,
            )
            .await?;
        Ok(Prepared {
            settings: serde_json::to_string(&settings)
                .map_err(|e| CoreError::internal(format!("settings JSON: {e}")))?,
            secret_sealed: Some(sealed),
            ..base
        })
    }

    #[cfg(not(feature = "saml"))]
    async fn prepare_saml(
        &self,
        _base: Prepared,
        _input: &ConnectionInput,
        _existing: Option<&SsoConnectionRow>,
    ) -> Result<Prepared, CoreError> {
        Err(invalid(
            "preset",
            "this build of Testvault has no SAML support",
        ))
    }
}

/// A connection ready to store.
pub(crate) struct Prepared {
    pub protocol: String,
    pub preset: String,
    pub name: String,
    pub enabled: bool,
    pub allowed_domains: String,
    pub settings: String,
    pub secret_sealed: Option<Vec<u8>>,
}

impl Prepared {
    pub(crate) fn from_row(c: &SsoConnectionRow) -> Self {
        Self {
            protocol: c.protocol.clone(),
            preset: c.preset.clone(),
            name: c.name.clone(),
            enabled: c.enabled,
            allowed_domains: c.allowed_domains.clone(),
            settings: c.settings.clone(),
            secret_sealed: None,
        }
    }

    fn write<'a>(&'a self, p: &Principal, id: Uuid) -> SsoConnectionWrite<'a> {
        SsoConnectionWrite {
            id,
            org: p.org,
            protocol: &self.protocol,
            preset: &self.preset,
            name: &self.name,
            enabled: self.enabled,
            allowed_domains: &self.allowed_domains,
            settings: &self.settings,
            secret_sealed: self.secret_sealed.as_deref(),
            now: time::now(),
        }
    }

    /// What the audit trail keeps: the settings in clear, never the secrets.
    fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "protocol": self.protocol,
            "preset": self.preset,
            "name": self.name,
            "enabled": self.enabled,
            "allowed_domains": self.allowed_domains,
            "settings": serde_json::from_str::<serde_json::Value>(&self.settings).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_host_names() {
        assert_eq!(
            parse_domains("Acme.com, @eng.acme.com acme.com").ok(),
            Some(vec!["acme.com".to_string(), "eng.acme.com".to_string()])
        );
        assert!(parse_domains("localhost").is_err());
        assert!(parse_domains("acme.com%").is_err());
        assert!(parse_domains("-acme.com").is_err());
        assert_eq!(parse_domains("").ok(), Some(vec![]));
    }

    #[test]
    fn issuers_are_https_without_query() {
        assert_eq!(
            https_address("issuer", "https://idp.example/realms/x/").ok(),
            Some("https://idp.example/realms/x".into())
        );
        assert!(https_address("issuer", "http://idp.example").is_err());
        assert!(https_address("issuer", "https://idp.example/?a=b").is_err());
        assert!(https_address("issuer", "https://").is_err());
    }
}
