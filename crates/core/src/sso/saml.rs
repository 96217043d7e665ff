//! SAML 2.0 connections: the IdP's metadata (pasted or fetched over HTTPS), the AuthnRequest
//! (HTTP-Redirect), and the signed response at the assertion consumer service (HTTP-POST),
//! verified by `testvault-saml`. Each assertion is accepted once; sign-ins started at the IdP
//! are refused unless the connection allows them.

use super::connections::{ConnectionInput, Prepared, SamlSettings, https_address};
use super::{Federated, SsoOutcome};
use crate::outbound::OutboundRequest;
use crate::{ClientMeta, Core, CoreError};
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{DomainError, time};
use testvault_saml::{IdpMetadata, SpConfig};
use testvault_store::SsoConnectionRow;
use uuid::Uuid;

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

fn settings_of(conn: &SsoConnectionRow) -> Result<SamlSettings, CoreError> {
    serde_json::from_str(&conn.settings)
        .map_err(|e| CoreError::internal(format!("stored SAML settings: {e}")))
}

fn idp_of(s: &SamlSettings) -> IdpMetadata {
    IdpMetadata {
        entity_id: s.idp_entity_id.clone(),
        sso_url: s.idp_sso_url.clone(),
        certificates: s.idp_certificates.clone(),
    }
}

fn federation(why: impl Into<String>) -> CoreError {
    CoreError::Federation(why.into())
}

impl Core {
    fn saml_sp(&self, connection: Uuid) -> SpConfig {
        SpConfig {
            entity_id: self.saml_sp_entity_id(connection),
            acs_url: self.link(&format!("/sso/saml/{connection}/acs")),
        }
    }

    /// The AuthnRequest for `conn` as a redirect, and its ID (kept to match the answer).
    pub(crate) fn saml_authn_request(
        &self,
        conn: &SsoConnectionRow,
        relay_state: &str,
    ) -> Result<(String, String), CoreError> {
        let settings = settings_of(conn)?;
        // XML IDs must not start with a digit.
        let request_id = format!("_{}", SecretToken::generate()?.expose());
        let url = testvault_saml::authn_request_url(
            &self.saml_sp(conn.id),
            &idp_of(&settings),
            &request_id,
            relay_state,
        )
        .map_err(|e| CoreError::internal(e.to_string()))?;
        Ok((url, request_id))
    }

    /// Our metadata for the IdP's admin.
    pub async fn saml_sp_metadata(&self, connection: Uuid) -> Result<String, CoreError> {
        let conn = self
            .store()
            .find_sso_connection(connection)
            .await?
            .filter(|c| c.protocol == "saml")
            .ok_or(CoreError::NotFound("single sign-on connection"))?;
        let settings = settings_of(&conn)?;
        testvault_saml::sp_metadata(&self.saml_sp(conn.id), &idp_of(&settings))
            .map_err(|e| CoreError::internal(e.to_string()))
    }

    /// The IdP answered at the assertion consumer service.
    pub async fn finish_saml(
        &self,
        connection: Uuid,
        saml_response: &str,
        relay_state: &str,
        browser: &str,
        client: &ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<SsoOutcome, CoreError> {
        // An answer to our request comes with our RelayState, in the browser that asked.
        let (flow, conn) = if relay_state.is_empty() {
            (None, self.live_connection(connection).await?)
        } else {
            let (flow, conn) = self.spend_flow(relay_state, browser).await?;
            (Some(flow), conn)
        };
        if conn.id != connection || conn.protocol != "saml" {
            return Err(CoreError::NotFound("single sign-on connection"));
        }
        let settings = settings_of(&conn)?;
        let sp = self.saml_sp(conn.id);
        let idp = idp_of(&settings);
        let expected = flow.as_ref().map(|f| f.nonce.clone());
        let response = saml_response.to_string();
        let allow = settings.allow_idp_initiated;
        let now = time::now();
        let verified = crate::blocking(move || {
            testvault_saml::verify_response(&sp, &idp, &response, expected.as_deref(), allow, now)
        })
        .await?
        .map_err(|e| {
            tracing::warn!(sso.connection = %conn.id, error = %e, "SAML response refused");
            federation(e.to_string())
        })?;
        if verified.name_id_format.as_deref() == Some(TRANSIENT) {
            return Err(federation(
                "the IdP sent a transient NameID, which changes at every sign-in; configure it to send a persistent or email NameID",
            ));
        }
        let spent = TokenHash::of(&format!(
            "{}\n{}",
            settings.idp_entity_id, verified.assertion_id
        ));
        // Kept past the assertion's own end by more than the checks' clock skew and issue
        // delay, so it cannot come back once its record is cleaned up.
        let keep_until = verified.not_on_or_after.max(now) + 600;
        if !self
            .store()
            .spend_saml_assertion(&spent.0, keep_until)
            .await?
        {
            return Err(federation("this SAML assertion was already used"));
        }
        let email = verified
            .email(&settings.email_attribute)
            .map(str::to_string);
        let name = (!settings.name_attribute.is_empty())
            .then(|| verified.attribute(&settings.name_attribute))
            .flatten()
            .map(str::to_string);
        let who = Federated {
            issuer: settings.idp_entity_id.clone(),
            subject: verified.name_id.clone(),
            // The IdP vouches for the address it asserts; the connection's domains still apply.
            email_verified: email.is_some(),
            email,
            name,
            hosted_domain: None,
        };
        self.finish_federated(
            &conn,
            who,
            flow.and_then(|f| f.link_user),
            client,
            previous_session,
        )
        .await
    }

    /// A SAML connection's settings from the owner's input: the IdP metadata (pasted, fetched,
    /// or the stored one when neither is given) and the attribute choices.
    pub(crate) async fn prepare_saml(
        &self,
        base: Prepared,
        input: &ConnectionInput,
        existing: Option<&SsoConnectionRow>,
    ) -> Result<Prepared, CoreError> {
        let invalid =
            |field: &'static str, why: String| -> CoreError { DomainError::new(field, why).into() };
        let mut metadata_url = String::new();
        let xml = if !input.idp_metadata_xml.trim().is_empty() {
            input.idp_metadata_xml.clone()
        } else if !input.idp_metadata_url.trim().is_empty() {
            metadata_url = https_address("idp_metadata_url", &input.idp_metadata_url)?;
            let resp = self
                .outbound()
                .send(OutboundRequest::get(&metadata_url))
                .await
                .map_err(|e| {
                    let why = match super::oidc::unreachable_provider("SAML metadata", e) {
                        CoreError::Federation(m) => m,
                        other => other.to_string(),
                    };
                    invalid("idp_metadata_url", why)
                })?;
            if resp.status != 200 {
                return Err(invalid(
                    "idp_metadata_url",
                    format!("answered {}", resp.status),
                ));
            }
            String::from_utf8(resp.body)
                .map_err(|_| invalid("idp_metadata_url", "is not UTF-8 text".into()))?
        } else {
            String::new()
        };
        let idp = if xml.is_empty() {
            let Some(e) = existing else {
                return Err(invalid(
                    "idp_metadata_xml",
                    "the IdP's metadata is required (paste it, or give its https:// address)"
                        .into(),
                ));
            };
            let s = settings_of(e)?;
            metadata_url = s.metadata_url.clone();
            idp_of(&s)
        } else {
            testvault_saml::parse_idp_metadata(&xml)
                .map_err(|e| invalid("idp_metadata_xml", e.to_string()))?
        };
        let attribute = |field: &'static str, text: &str| -> Result<String, CoreError> {
            let t = text.trim();
            if t.len() > 255 || t.chars().any(char::is_control) {
                return Err(invalid(field, "at most 255 characters".into()));
            }
            Ok(t.to_string())
        };
        let settings = SamlSettings {
            idp_entity_id: idp.entity_id,
            idp_sso_url: idp.sso_url,
            idp_certificates: idp.certificates,
            metadata_url,
            allow_idp_initiated: input.allow_idp_initiated,
            email_attribute: attribute("email_attribute", &input.email_attribute)?,
            name_attribute: attribute("name_attribute", &input.name_attribute)?,
        };
        Ok(Prepared {
            settings: serde_json::to_string(&settings)
                .map_err(|e| CoreError::internal(format!("settings JSON: {e}")))?,
            secret_sealed: None,
            ..base
        })
    }
}
