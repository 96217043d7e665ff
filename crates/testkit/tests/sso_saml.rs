#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! SAML 2.0 single sign-on against a real identity provider (PyPI `pysaml2` signing with
//! Debian's `xmlsec1`, over HTTPS on loopback), on both backends: metadata by URL, signed
//! responses accepted, and every hostile response refused with nothing stored — unsigned,
//! stripped, three signature-wrapping variants, expired, wrong audience, recipient or
//! `InResponseTo`, SHA-1, another key — as are replays and, unless allowed, IdP-initiated
//! sign-ins.

use serde_json::{Value, json};
use testvault::config::Layer;
use testvault_testkit::idp::{
    SamlIdp, TlsFiles, auto_post_form, sso_round_trip, start_at_provider,
};
use testvault_testkit::{Backend, Client, Resp, TestApp, TestDb, on_both_backends};

on_both_backends!(
    signed_responses_sign_in_and_make_a_viewer,
    hostile_responses_are_refused_and_store_nothing,
    replays_and_unsolicited_responses_are_refused_unless_allowed,
    metadata_is_checked_when_a_connection_is_saved
);

struct Saml {
    app: TestApp,
    idp: SamlIdp,
    owner: Client,
    id: String,
}

/// A server trusting the IdP's certificate, the IdP, and a connection made from its metadata
/// URL (the IdP then learns the connection's service-provider metadata).
async fn start(backend: Backend, test: &str, extra: Value) -> Option<Saml> {
    let tls = TlsFiles::new();
    let ca = tls.cert_path.clone();
    let db = TestDb::create(backend).await;
    let app = TestApp::start_with(db, |l| Layer {
        trusted_ca_file: Some(ca),
        ..l
    })
    .await;
    let idp = SamlIdp::start(test, tls).await?;
    let owner = app.setup_owner().await;
    let mut body = json!({
        "preset": "saml",
        "name": "Okta",
        "idp_metadata_url": idp.metadata_url(),
        "email_attribute": "email",
        "name_attribute": "displayName",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = owner.post_json("/api/v1/org/sso/connections", &body).await;
    assert_eq!(r.status, 201, "create connection: {}", r.body);
    let id = r.json()["data"]["id"].as_str().expect("id").to_string();
    let md = app.client().get(&format!("/sso/saml/{id}/metadata")).await;
    assert_eq!(md.status, 200, "{}", md.body);
    idp.add_service_provider(&md.body).await;
    Some(Saml {
        app,
        idp,
        owner,
        id,
    })
}

fn location(r: &Resp) -> String {
    r.header("location").unwrap_or_default()
}

async fn user_count(app: &TestApp) -> i64 {
    app.sql_i64("SELECT COUNT(*) FROM users").await
}

impl Saml {
    async fn sign_in(&self, client: &Client) -> Resp {
        sso_round_trip(
            client,
            &self.idp.browser,
            &format!("POST /sso/{}/start", self.id),
        )
        .await
    }

    /// Starts a sign-in and returns the IdP's auto-posted form: `(ACS path, fields)`.
    async fn idp_form(&self, client: &Client) -> (String, Vec<(String, String)>) {
        let loc = start_at_provider(client, &self.id).await;
        assert!(loc.contains("SAMLRequest="), "{loc}");
        let path = loc
            .strip_prefix(&self.idp.browser.base)
            .expect("to the IdP")
            .to_string();
        let page = self.idp.browser.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let (action, fields) = auto_post_form(&page.body).expect("a form");
        let acs = action
            .strip_prefix(&self.app.url)
            .expect("to Testvault")
            .to_string();
        (acs, fields)
    }
}

async fn signed_responses_sign_in_and_make_a_viewer(backend: Backend) {
    let Some(s) = start(backend, "saml_sign_in", json!({})).await else {
        return;
    };
    let alice = s.app.client();
    let r = s.sign_in(&alice).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/projects");
    let me = alice.get("/api/v1/me").await.json()["data"].clone();
    assert_eq!(me["email"], "alice@example.test");
    assert_eq!(me["display_name"], "Alice Example");
    assert_eq!(me["role"], "viewer");
    let ids = alice.get("/api/v1/me/sso").await.json();
    assert_eq!(
        ids["data"]["identities"][0]["issuer"],
        s.idp.info["entity_id"]
    );

    // A response signed only at the Response level, or only at the Assertion level, is signed.
    for mode in ["response_only_signed", "assertion_only_signed"] {
        s.idp.mode(mode).await;
        let c = s.app.client();
        let r = s.sign_in(&c).await;
        assert_eq!(location(&r), "/projects", "{mode}: {}", r.body);
        assert_eq!(c.get("/api/v1/me").await.json()["data"]["user"], me["user"]);
    }
    let audit = s.owner.get("/api/v1/audit").await.body;
    assert!(audit.contains("member.joined_through_sso"), "{audit}");

    // A transient NameID cannot be an identity.
    s.idp
        .set_user(json!({ "name_id": "_transient123", "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
                          "email": "tina@example.test", "name": "Tina" }))
        .await;
    let r = s.sign_in(&s.app.client()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("transient"), "{}", r.body);
}

async fn hostile_responses_are_refused_and_store_nothing(backend: Backend) {
    let Some(s) = start(backend, "saml_hostile", json!({})).await else {
        return;
    };
    let users = user_count(&s.app).await;
    for mode in [
        "unsigned",
        "stripped",
        "xsw",
        "xsw2",
        "xsw3",
        "expired",
        "wrong_audience",
        "wrong_recipient",
        "wrong_in_response_to",
        "sha1",
        "other_key",
    ] {
        s.idp.mode(mode).await;
        let c = s.app.client();
        let r = s.sign_in(&c).await;
        assert_eq!(r.status, 400, "{mode}: {}", r.body);
        assert!(r.body.contains("SAML response"), "{mode}: {}", r.body);
        assert!(
            c.cookie("__Host-tv_session").is_none(),
            "{mode}: no session"
        );
        assert_eq!(user_count(&s.app).await, users, "{mode}: nobody was made");
    }
    // Garbage and a document with a DTD never reach the XML signature code.
    let (acs, mut fields) = s.idp_form(&s.app.client()).await;
    for (k, v) in &mut fields {
        if k == "SAMLResponse" {
            *v = base64_of(
                r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&a;</samlp:Response>"#,
            );
        }
    }
    let c = s.app.client();
    let r = c.post_form_from(&s.idp.browser.base, &acs, &fields).await;
    assert!(r.status == 400 || r.status == 410, "{}", r.body);
    let r = c
        .post_form_from(
            &s.idp.browser.base,
            &acs,
            &[("SAMLResponse".into(), "%%%not base64".into())],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

fn base64_of(text: &str) -> String {
    use std::fmt::Write;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = out.write_char(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn replays_and_unsolicited_responses_are_refused_unless_allowed(backend: Backend) {
    let Some(s) = start(backend, "saml_replays", json!({})).await else {
        return;
    };
    // The same answer posted twice: the second finds its sign-in spent.
    let c = s.app.client();
    let (acs, fields) = s.idp_form(&c).await;
    let first = c.post_form_from(&s.idp.browser.base, &acs, &fields).await;
    assert_eq!(location(&first), "/projects", "{}", first.body);
    let again = s.app.client();
    let (_, _) = s.idp_form(&again).await; // a browser with a live sign-in of its own
    let replayed = c.post_form_from(&s.idp.browser.base, &acs, &fields).await;
    assert_eq!(replayed.status, 410, "{}", replayed.body);
    // The same assertion without its RelayState is an unsolicited response: refused.
    let bare: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k == "SAMLResponse")
        .cloned()
        .collect();
    let r = s
        .app
        .client()
        .post_form_from(&s.idp.browser.base, &acs, &bare)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not asked for"), "{}", r.body);

    // IdP-initiated: refused by default.
    let acs_url = format!("{}{acs}", s.app.url);
    let audience = format!("{}/sso/saml/{}/metadata", s.app.url, s.id);
    let (_, unsolicited) = s.idp.idp_initiated(&acs_url, &audience).await;
    let r = s
        .app
        .client()
        .post_form_from(&s.idp.browser.base, &acs, &unsolicited)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Allowed on the connection (the stored metadata is kept): accepted once.
    let r = s
        .owner
        .put_json(
            &format!("/api/v1/org/sso/connections/{}", s.id),
            &json!({ "preset": "saml", "name": "Okta", "allow_idp_initiated": true,
                     "email_attribute": "email", "name_attribute": "displayName" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["saml"]["allow_idp_initiated"], true);
    let (_, unsolicited) = s.idp.idp_initiated(&acs_url, &audience).await;
    let d = s.app.client();
    let r = d
        .post_form_from(&s.idp.browser.base, &acs, &unsolicited)
        .await;
    assert_eq!(location(&r), "/projects", "{}", r.body);
    let r = s
        .app
        .client()
        .post_form_from(&s.idp.browser.base, &acs, &unsolicited)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("already used"), "{}", r.body);
}

async fn metadata_is_checked_when_a_connection_is_saved(backend: Backend) {
    let Some(s) = start(backend, "saml_metadata", json!({})).await else {
        return;
    };
    let md = s
        .app
        .client()
        .get(&format!("/sso/saml/{}/metadata", s.id))
        .await;
    assert!(
        md.body
            .contains(&format!("{}/sso/saml/{}/acs", s.app.url, s.id)),
        "{}",
        md.body
    );
    assert!(
        md.body.contains("WantAssertionsSigned=\"true\""),
        "{}",
        md.body
    );

    let idp_md = s.idp.metadata().await;
    for (name, body, field) in [
        (
            "a DTD",
            json!({ "idp_metadata_xml": format!("<!DOCTYPE x [<!ENTITY e \"e\">]>{idp_md}") }),
            "idp_metadata_xml",
        ),
        (
            "a clear-text URL",
            json!({ "idp_metadata_url": "http://127.0.0.1:1/metadata" }),
            "idp_metadata_url",
        ),
        ("no metadata at all", json!({}), "idp_metadata_xml"),
        (
            "an SP's metadata",
            json!({ "idp_metadata_xml": md.body }),
            "idp_metadata_xml",
        ),
    ] {
        let mut b = json!({ "preset": "saml", "name": "Bad" });
        if let (Some(o), Some(e)) = (b.as_object_mut(), body.as_object()) {
            o.extend(e.clone());
        }
        let r = s.owner.post_json("/api/v1/org/sso/connections", &b).await;
        assert_eq!(r.status, 422, "{name}: {}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{name}");
    }
    // Pasted metadata works as well as fetched.
    let r = s
        .owner
        .post_json(
            "/api/v1/org/sso/connections",
            &json!({ "preset": "saml", "name": "Pasted", "idp_metadata_xml": idp_md }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json()["data"]["saml"]["idp_entity_id"],
        s.idp.info["entity_id"]
    );
}
