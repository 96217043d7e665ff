//! A software passkey authenticator for API tests: a P-256 key, "none" attestation, and
//! assertions signed the way a platform authenticator signs them (WebAuthn Level 2 §6), with
//! knobs to misbehave (another origin, a counter that does not move). The browser tests use
//! Chromium's own virtual authenticator instead.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// User present, user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// … and attested credential data follows.
const ATTESTED: u8 = 0x40;

pub struct SoftAuthenticator {
    pub rp_id: String,
    /// The origin `clientDataJSON` claims (a phishing page would claim its own).
    pub origin: String,
    pub credential_id: Vec<u8>,
    /// The user handle the server gave at registration.
    pub user_handle: Vec<u8>,
    /// The signature counter; each assertion adds one unless `frozen_counter`.
    pub counter: u32,
    pub frozen_counter: bool,
    key: EcdsaKeyPair,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url from the server")
}

/// CBOR byte string header + bytes.
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => {
            out.push(0x59);
            out.extend((n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

impl SoftAuthenticator {
    /// For a server at `origin` (`https://localhost:PORT`), relying party `rp_id`.
    pub fn new(rp_id: &str, origin: &str) -> SoftAuthenticator {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key");
        let mut credential_id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut credential_id).expect("random");
        SoftAuthenticator {
            rp_id: rp_id.to_string(),
            origin: origin.to_string(),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            frozen_counter: false,
            key,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, flags: u8) -> Vec<u8> {
        let mut d = digest(&SHA256, self.rp_id.as_bytes()).as_ref().to_vec();
        d.push(flags);
        d.extend(self.counter.to_be_bytes());
        d
    }

    /// The answer to registration `options` (the server's `publicKey`), as `toJSON()` gives it.
    pub fn register(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        self.user_handle = unb64(options["user"]["id"].as_str().expect("user id"));
        let point = self.key.public_key().as_ref();
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, &point[1..33]);
        cose.push(0x22);
        cbor_bytes(&mut cose, &point[33..65]);
        let mut auth = self.auth_data(UP_UV | ATTESTED);
        auth.extend([0u8; 16]); // AAGUID
        auth.extend((self.credential_id.len() as u16).to_be_bytes());
        auth.extend(&self.credential_id);
        auth.extend(cose);
        let mut att = vec![0xa3, 0x63];
        att.extend(b"fmt");
        att.push(0x64);
        att.extend(b"none");
        att.push(0x67);
        att.extend(b"attStmt");
        att.push(0xa0);
        att.push(0x68);
        att.extend(b"authData");
        cbor_bytes(&mut att, &auth);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&self.client_data("webauthn.create", challenge)),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// The answer to sign-in `options` (the server's `publicKey`), signed with this passkey.
    pub fn assert(&mut self, options: &Value) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        if !self.frozen_counter {
            self.counter += 1;
        }
        let auth = self.auth_data(UP_UV);
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth.clone();
        signed.extend(digest(&SHA256, &client_data).as_ref());
        let sig = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("signature");
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
    }
}
