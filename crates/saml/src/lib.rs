#![forbid(unsafe_code)]
//! SAML 2.0 for a service provider: the IdP's metadata read into what we keep, an AuthnRequest
//! for the HTTP-Redirect binding, our own metadata, and a response verified before anything in
//! it is believed.
//!
//! Verification is samael's over xmlsec: the document is reduced to what a signature by one of
//! the IdP's certificates covers (so a wrapped, unsigned assertion is never read), SHA-1
//! signatures and digests are refused, and then issuer, destination, recipient, audience,
//! `InResponseTo` and the time windows are checked. On top of that we refuse any DTD before
//! parsing, insist on an audience restriction naming us, and hand back the assertion's ID so
//! the caller can accept it once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};

/// A base64 SAMLResponse larger than this is refused unread.
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
const MAX_METADATA_BYTES: usize = 1024 * 1024;
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("the IdP metadata {0}")]
    Metadata(String),
    #[error("the SAML response {0}")]
    Response(String),
    #[error("could not make the SAML request: {0}")]
    Request(String),
}

fn response(why: impl Into<String>) -> SamlError {
    SamlError::Response(why.into())
}

/// What we keep of an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// The single sign-on service for the HTTP-Redirect binding.
    pub sso_url: String,
    /// Signing certificates, base64 DER (as metadata carries them).
    pub certificates: Vec<String>,
}

/// This service provider, as one connection sees it.
#[derive(Debug, Clone)]
pub struct SpConfig {
    pub entity_id: String,
    pub acs_url: String,
}

/// What a verified response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The assertion's ID: accept it once.
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// `(name, values)` of every attribute, in order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Unix seconds when the assertion stops being valid (keep its ID until then).
    pub not_on_or_after: i64,
    /// The response answered no request of ours (IdP-initiated).
    pub unsolicited: bool,
}

impl Verified {
    /// The first value of the attribute `name` (by `Name` or `FriendlyName`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// The email address: the attribute `email_attribute`, else the NameID when its format is
    /// an email address.
    pub fn email(&self, email_attribute: &str) -> Option<&str> {
        if !email_attribute.is_empty() {
            return self.attribute(email_attribute);
        }
        (self.name_id_format.as_deref() == Some(EMAIL_FORMAT)).then_some(self.name_id.as_str())
    }
}

/// SAML never needs a DTD; one in a document is an attack (entity expansion, XXE). A
/// declared encoding other than UTF-8 is refused too: libxml2 would decode the bytes another way
/// (UTF-7, UTF-16) than the checks here read them, and could find a DTD or a second assertion
/// they did not see.
fn refuse_dtd(xml: &str) -> bool {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return true;
    }
    let prolog = xml.trim_start_matches('\u{feff}').trim_start();
    let Some(decl) = prolog
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split("?>").next())
    else {
        return false;
    };
    decl.split("encoding").nth(1).is_some_and(|rest| {
        let value: String = rest
            .trim_start()
            .trim_start_matches('=')
            .trim_start()
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        !value.eq_ignore_ascii_case("utf-8") && !value.eq_ignore_ascii_case("utf8")
    })
}

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// A response we accept has one shape: a `samlp:Response` root holding exactly one
/// `saml:Assertion` (and no encrypted one) and no other `Response`. Signature-wrapping attacks
/// need a second assertion or response somewhere (the signed original hidden beside the forged
/// one), so any document that has one is refused before its signatures are even looked at.
fn single_assertion(xml: &str) -> Result<(), SamlError> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let (mut responses, mut assertions, mut depth, mut root_ok) = (0, 0, 0usize, false);
    loop {
        let event = reader
            .read_resolved_event()
            .map_err(|_| response("is not well-formed XML"))?;
        let (ns, start, empty) = match event {
            (ns, Event::Start(e)) => (ns, e, false),
            (ns, Event::Empty(e)) => (ns, e, true),
            (_, Event::End(_)) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            (_, Event::Eof) => break,
            _ => continue,
        };
        let in_ns = |want: &str| matches!(&ns, ResolveResult::Bound(n) if n.into_inner() == want);
        let name = start.local_name();
        let local: &str = name.into_inner();
        if in_ns(PROTOCOL_NS) && local == "Response" {
            responses += 1;
            root_ok |= depth == 0;
        }
        if in_ns(ASSERTION_NS) && (local == "Assertion" || local == "EncryptedAssertion") {
            assertions += 1;
        }
        if !empty {
            depth += 1;
        }
    }
    match (root_ok, responses, assertions) {
        (true, 1, 1) => Ok(()),
        (false, _, _) | (_, 0, _) => Err(response("is not a SAML Response")),
        (_, _, 0) => Err(response("carries no assertion")),
        _ => Err(response(
            "carries more than one assertion or response (a signature-wrapping attempt?)",
        )),
    }
}

/// Reads an IdP's metadata: its entity id, HTTP-Redirect SSO address (https) and signing
/// certificates (at least one: without one, nothing could be verified).
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    let meta = |why: &str| SamlError::Metadata(why.to_string());
    if xml.len() > MAX_METADATA_BYTES {
        return Err(meta("is larger than 1 MiB"));
    }
    if refuse_dtd(xml) {
        return Err(meta(
            "contains a DTD or a non-UTF-8 encoding, which is not accepted",
        ));
    }
    let entity: EntityDescriptor = xml
        .parse()
        .map_err(|e| SamlError::Metadata(format!("is not SAML metadata ({e})")))?;
    let entity_id = entity
        .entity_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| meta("has no entityID"))?;
    let idp = entity
        .idp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or_else(|| meta("describes no identity provider (IDPSSODescriptor)"))?;
    let sso_url = idp
        .single_sign_on_services
        .iter()
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or_else(|| meta("has no SingleSignOnService for the HTTP-Redirect binding"))?;
    if !sso_url.starts_with("https://") {
        return Err(meta("names a single sign-on service that is not https://"));
    }
    let mut certificates = Vec::new();
    let signing: Vec<_> = idp
        .key_descriptors
        .iter()
        .filter(|k| k.key_use.as_deref() == Some("signing"))
        .collect();
    let keys = if signing.is_empty() {
        idp.key_descriptors
            .iter()
            .filter(|k| k.key_use.as_deref().is_none_or(str::is_empty))
            .collect()
    } else {
        signing
    };
    for k in keys {
        for cert in k
            .key_info
            .x509_data
            .iter()
            .flat_map(|d| d.certificates.iter())
        {
            let compact: String = cert.split_whitespace().collect();
            STANDARD
                .decode(&compact)
                .map_err(|_| meta("has a certificate that is not base64"))?;
            certificates.push(compact);
        }
    }
    if certificates.is_empty() {
        return Err(meta("has no signing certificate"));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// Metadata for samael made from what we keep (only what verification reads).
fn idp_descriptor(idp: &IdpMetadata) -> Result<EntityDescriptor, SamlError> {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let keys: String = idp
        .certificates
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                escape(c)
            )
        })
        .collect();
    let xml = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{HTTP_REDIRECT_BINDING}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        escape(&idp.entity_id),
        escape(&idp.sso_url),
    );
    xml.parse()
        .map_err(|e| SamlError::Metadata(format!("could not be rebuilt ({e})")))
}

fn provider(
    sp: &SpConfig,
    idp: &IdpMetadata,
    allow_unsolicited: bool,
) -> Result<ServiceProvider, SamlError> {
    ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.clone())
        .metadata_url(sp.entity_id.clone())
        .acs_url(sp.acs_url.clone())
        .idp_metadata(idp_descriptor(idp)?)
        .allow_idp_initiated(allow_unsolicited)
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ])
        .build()
        .map_err(|e| SamlError::Request(e.to_string()))
}

/// An AuthnRequest with id `request_id` (random, chosen by the caller, kept to match the
/// answer's `InResponseTo`), as the address to send the browser to (HTTP-Redirect binding).
pub fn authn_request_url(
    sp: &SpConfig,
    idp: &IdpMetadata,
    request_id: &str,
    relay_state: &str,
) -> Result<String, SamlError> {
    let mut request = provider(sp, idp, false)?
        .make_authentication_request(&idp.sso_url)
        .map_err(|e| SamlError::Request(e.to_string()))?;
    request.id = request_id.to_string();
    request
        .redirect(relay_state)
        .map_err(|e| SamlError::Request(e.to_string()))?
        .map(|u| u.to_string())
        .ok_or_else(|| SamlError::Request("no destination".into()))
}

/// Our metadata for the IdP's admin: entity id, ACS (HTTP-POST), signed assertions wanted.
pub fn sp_metadata(sp: &SpConfig, idp: &IdpMetadata) -> Result<String, SamlError> {
    use samael::traits::ToXml;
    let mut md = provider(sp, idp, false)?
        .metadata()
        .map_err(|e| SamlError::Request(e.to_string()))?;
    // A fixed document: no validity window that would need refreshing at the IdP.
    md.valid_until = None;
    md.to_string()
        .map_err(|e| SamlError::Request(e.to_string()))
}

/// Verifies a base64 SAMLResponse from the HTTP-POST binding. With `expected_request` the
/// response must answer that request; without it, it must be unsolicited and
/// `allow_unsolicited` must be on.
pub fn verify_response(
    sp: &SpConfig,
    idp: &IdpMetadata,
    saml_response: &str,
    expected_request: Option<&str>,
    allow_unsolicited: bool,
    now: i64,
) -> Result<Verified, SamlError> {
    if saml_response.len() > MAX_RESPONSE_BYTES {
        return Err(response("is larger than 512 KiB"));
    }
    let compact: String = saml_response.split_whitespace().collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| response("is not base64"))?;
    let xml = String::from_utf8(bytes).map_err(|_| response("is not UTF-8"))?;
    if refuse_dtd(&xml) {
        return Err(response(
            "contains a DTD or a non-UTF-8 encoding, which is not accepted",
        ));
    }
    single_assertion(&xml)?;
    let unsolicited = expected_request.is_none();
    if unsolicited && !allow_unsolicited {
        return Err(response(
            "was not asked for (sign-ins started at the IdP are not accepted by this connection)",
        ));
    }
    let ids: Vec<&str> = expected_request.into_iter().collect();
    let sp_provider = provider(sp, idp, unsolicited)?;
    let assertion = sp_provider
        .parse_xml_response(&xml, (!unsolicited).then_some(ids.as_slice()))
        .map_err(|e| response(format!("was refused: {e}")))?;

    let audiences: Vec<&String> = assertion
        .conditions
        .iter()
        .flat_map(|c| c.audience_restrictions.iter().flatten())
        .flat_map(|r| r.audience.iter())
        .collect();
    if !audiences.iter().any(|a| **a == sp.entity_id) {
        return Err(response(
            "is not addressed to this service provider (audience)",
        ));
    }
    let confirmation_data: Vec<_> = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .collect();
    if unsolicited && confirmation_data.iter().any(|d| d.in_response_to.is_some()) {
        return Err(response("answers a request this sign-in did not make"));
    }
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .filter(|n| !n.value.trim().is_empty())
        .ok_or_else(|| response("names no subject (NameID)"))?;
    let not_on_or_after = confirmation_data
        .iter()
        .filter_map(|d| d.not_on_or_after)
        .chain(
            assertion
                .conditions
                .iter()
                .filter_map(|c| c.not_on_or_after),
        )
        .map(|t| t.timestamp())
        .max()
        .unwrap_or(now + 3600)
        .max(now);
    let attributes = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .flat_map(|a| {
            let values: Vec<String> = a.values.iter().filter_map(|v| v.value.clone()).collect();
            [a.name.clone(), a.friendly_name.clone()]
                .into_iter()
                .flatten()
                .map(move |n| (n, values.clone()))
        })
        .collect();
    Ok(Verified {
        assertion_id: assertion.id.clone(),
        name_id: name_id.value.trim().to_string(),
        name_id_format: name_id.format.clone(),
        attributes,
        not_on_or_after,
        unsolicited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_with_a_dtd_are_refused_before_parsing() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><md:EntityDescriptor entityID="&lol2;"/>"#;
        assert_eq!(
            parse_idp_metadata(bomb),
            Err(SamlError::Metadata(
                "contains a DTD or a non-UTF-8 encoding, which is not accepted".into()
            ))
        );
        let sp = SpConfig {
            entity_id: "https://tv.example/sso/saml/x/metadata".into(),
            acs_url: "https://tv.example/sso/saml/x/acs".into(),
        };
        let idp = IdpMetadata {
            entity_id: "https://idp.example".into(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec!["AAAA".into()],
        };
        let encoded = STANDARD.encode(bomb);
        assert!(matches!(
            verify_response(&sp, &idp, &encoded, Some("_r"), false, 0),
            Err(SamlError::Response(m)) if m.contains("DTD")
        ));
    }

    #[test]
    fn only_utf8_documents_are_read() {
        assert!(!refuse_dtd(r#"<?xml version="1.0" encoding="UTF-8"?><a/>"#));
        assert!(!refuse_dtd(r#"<?xml version='1.0' encoding='utf-8'?><a/>"#));
        assert!(!refuse_dtd(r#"<?xml version="1.0"?><a/>"#));
        assert!(!refuse_dtd("<a/>"));
        assert!(refuse_dtd(r#"<?xml version="1.0" encoding="UTF-7"?><a/>"#));
        assert!(refuse_dtd(
            r#"<?xml version="1.0" encoding = 'ISO-8859-1' ?><a/>"#
        ));
    }

    #[test]
    fn only_one_response_with_one_assertion_is_read() {
        let one = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Issuer>x</saml:Issuer><saml:Assertion ID="a"/></samlp:Response>"#;
        assert_eq!(single_assertion(one), Ok(()));
        let two = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><samlp:Extensions><saml:Assertion ID="a"/></samlp:Extensions><saml:Assertion ID="b"/></samlp:Response>"#;
        assert!(single_assertion(two).is_err());
        let nested = r#"<r:Response xmlns:r="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion"><a:Assertion ID="b"><r:Response><a:Assertion ID="a"/></r:Response></a:Assertion></r:Response>"#;
        assert!(single_assertion(nested).is_err());
        let bare = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"/>"#;
        assert!(single_assertion(bare).is_err());
        assert!(single_assertion("<unclosed").is_err());
    }

    #[test]
    fn unsolicited_responses_need_the_connection_to_allow_them() {
        let sp = SpConfig {
            entity_id: "https://tv.example/m".into(),
            acs_url: "https://tv.example/acs".into(),
        };
        let idp = IdpMetadata {
            entity_id: "https://idp.example".into(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec!["AAAA".into()],
        };
        let encoded = STANDARD.encode(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Assertion ID="a"/></samlp:Response>"#,
        );
        assert!(matches!(
            verify_response(&sp, &idp, &encoded, None, false, 0),
            Err(SamlError::Response(m)) if m.contains("not asked for")
        ));
    }

    #[test]
    fn metadata_without_a_signing_certificate_is_refused() {
        let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
        assert_eq!(
            parse_idp_metadata(xml),
            Err(SamlError::Metadata("has no signing certificate".into()))
        );
    }
}
