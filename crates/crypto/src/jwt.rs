//! JSON Web Signatures in compact form, as OpenID Connect uses them: ID tokens verified against
//! the provider's published keys, and the ES256 client secret Sign in with Apple asks for.
//!
//! Only asymmetric algorithms are accepted (RS*, PS*, ES256/384, EdDSA), each only with a key
//! of its own type: `none` and the HMAC algorithms are refused outright, which is what defeats
//! the classic attacks (an unsigned token; a token "signed" with the public key as an HMAC
//! secret). Verification is aws-lc-rs's, the one crypto library of the project.

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The signature algorithms an ID token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Alg {
    fn parse(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "EdDSA" => Alg::EdDsa,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// One published key (RFC 7517); fields for the key types we verify with.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A provider's `jwks_uri` document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwkSet {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a signed JWT: {0}")]
    Malformed(&'static str),
    #[error("the token's signature algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("no published key matches the token's key id")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the signing key is not a PKCS#8 P-256 private key")]
    SigningKey,
}

/// What the header says, before anything is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))
}

struct Parts<'a> {
    signed: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.len() > 64 * 1024 {
        return Err(JwtError::Malformed("longer than 64 KiB"));
    }
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };
    let raw: RawHeader = serde_json::from_slice(&b64(h, "header is not base64url")?)
        .map_err(|_| JwtError::Malformed("header is not a JSON object with `alg`"))?;
    if raw.crit.is_some() {
        // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
        return Err(JwtError::Malformed(
            "critical header extensions are not supported",
        ));
    }
    let alg = Alg::parse(&raw.alg).ok_or(JwtError::Algorithm(raw.alg.clone()))?;
    Ok(Parts {
        signed: &token[..h.len() + 1 + p.len()],
        header: Header { alg, kid: raw.kid },
        payload: b64(p, "payload is not base64url")?,
        signature: b64(s, "signature is not base64url")?,
    })
}

/// The token's header, unverified: which key to look for (a provider rotates keys; an unknown
/// `kid` is the cue to fetch its key set again).
pub fn header(token: &str) -> Result<Header, JwtError> {
    split(token).map(|p| p.header)
}

/// Verifies `token` against `keys` and returns its payload (the claims' JSON). The key is the
/// one named by the header's `kid`, or, without one, any key of the algorithm's type.
pub fn verify(token: &str, keys: &JwkSet) -> Result<Vec<u8>, JwtError> {
    let parts = split(token)?;
    let alg = parts.header.alg;
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| match &parts.header.kid {
            Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
            None => true,
        })
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg.name()))
        .collect();
    if candidates.is_empty() {
        return Err(JwtError::UnknownKey);
    }
    let message = parts.signed.as_bytes();
    if candidates
        .iter()
        .any(|k| verify_with(k, alg, message, &parts.signature))
    {
        Ok(parts.payload)
    } else {
        Err(JwtError::BadSignature)
    }
}

fn field(v: &Option<String>) -> Option<Vec<u8>> {
    v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
}

/// Whether `key` (of the type `alg` needs; any other type fails) signed `message`.
fn verify_with(key: &Jwk, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
    match alg {
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
            if key.kty != "RSA" {
                return false;
            }
            let (Some(n), Some(e)) = (field(&key.n), field(&key.e)) else {
                return false;
            };
            let params = match alg {
                Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let strip = |b: &[u8]| b.iter().position(|&x| x != 0).map_or(0, |i| i);
            let components = RsaPublicKeyComponents {
                n: &n[strip(&n)..],
                e: &e[strip(&e)..],
            };
            components.verify(params, message, sig).is_ok()
        }
        Alg::Es256 | Alg::Es384 => {
            let (crv, params, len) = if alg == Alg::Es256 {
                ("P-256", &signature::ECDSA_P256_SHA256_FIXED, 32)
            } else {
                ("P-384", &signature::ECDSA_P384_SHA384_FIXED, 48)
            };
            if key.kty != "EC" || key.crv.as_deref() != Some(crv) {
                return false;
            }
            let (Some(x), Some(y)) = (field(&key.x), field(&key.y)) else {
                return false;
            };
            if x.len() != len || y.len() != len {
                return false;
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(params, &point)
                .verify(message, sig)
                .is_ok()
        }
        Alg::EdDsa => {
            if key.kty != "OKP" || key.crv.as_deref() != Some("Ed25519") {
                return false;
            }
            let Some(x) = field(&key.x) else {
                return false;
            };
            signature::UnparsedPublicKey::new(&signature::ED25519, &x)
                .verify(message, sig)
                .is_ok()
        }
    }
}

/// The DER inside a PEM block (`-----BEGIN PRIVATE KEY-----`, as in Apple's `.p8` files).
pub fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Whether `pkcs8` is a P-256 private key `sign_es256` can use.
pub fn is_es256_key(pkcs8: &[u8]) -> bool {
    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).is_ok()
}

/// Signs `claims` with ES256 under key id `kid` (a JWT Apple accepts as a client secret).
pub fn sign_es256(pkcs8: &[u8], kid: &str, claims: &serde_json::Value) -> Result<String, JwtError> {
    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
        .map_err(|_| JwtError::SigningKey)?;
    let header = serde_json::json!({ "alg": "ES256", "kid": kid, "typ": "JWT" });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), signed.as_bytes())
        .map_err(|_| JwtError::SigningKey)?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
}

/// The public half of a P-256 key as a JWK (for tests and for showing which key is configured).
pub fn es256_public_jwk(pkcs8: &[u8], kid: &str) -> Result<serde_json::Value, JwtError> {
    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
        .map_err(|_| JwtError::SigningKey)?;
    let point = pair.public_key().as_ref();
    if point.len() != 65 {
        return Err(JwtError::SigningKey);
    }
    Ok(serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::Ed25519KeyPair;

    fn p256() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .unwrap()
    }

    fn set(keys: Vec<serde_json::Value>) -> JwkSet {
        serde_json::from_value(serde_json::json!({ "keys": keys })).unwrap()
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({ "iss": "https://idp.test", "sub": "alice" })
    }

    #[test]
    fn es256_round_trip_and_key_selection() {
        let key = p256();
        let token = sign_es256(&key, "k1", &claims()).unwrap();
        let jwk = es256_public_jwk(&key, "k1").unwrap();
        let payload = verify(&token, &set(vec![jwk.clone()]));
        assert_eq!(
            payload.ok().and_then(|p| serde_json::from_slice(&p).ok()),
            Some(claims())
        );
        assert_eq!(header(&token).map(|h| h.alg), Ok(Alg::Es256));

        // Another key under the same kid: the signature fails. No key with the kid: unknown.
        let other = es256_public_jwk(&p256(), "k1").unwrap();
        assert_eq!(
            verify(&token, &set(vec![other])),
            Err(JwtError::BadSignature)
        );
        let renamed = es256_public_jwk(&key, "k2").unwrap();
        assert_eq!(
            verify(&token, &set(vec![renamed])),
            Err(JwtError::UnknownKey)
        );
        // A key published for another algorithm is not used.
        let mut wrong_alg = jwk;
        wrong_alg["alg"] = "ES384".into();
        assert_eq!(
            verify(&token, &set(vec![wrong_alg])),
            Err(JwtError::UnknownKey)
        );
    }

    #[test]
    fn a_changed_payload_fails() {
        let key = p256();
        let token = sign_es256(&key, "k1", &claims()).unwrap();
        let jwk = es256_public_jwk(&key, "k1").unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"iss":"https://idp.test","sub":"mallory"}"#);
        assert_eq!(
            verify(&parts.join("."), &set(vec![jwk])),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn eddsa_verifies_with_an_okp_key() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        let sig = pair.sign(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        let jwk = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())
        });
        assert!(verify(&token, &set(vec![jwk])).is_ok());
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused() {
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert_eq!(
            verify(&none, &JwkSet::default()),
            Err(JwtError::Algorithm("none".into()))
        );
        let hs = format!(
            "{}.{body}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#)
        );
        assert_eq!(
            verify(&hs, &JwkSet::default()),
            Err(JwtError::Algorithm("HS256".into()))
        );
        let crit = format!(
            "{}.{body}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","crit":["exp"]}"#)
        );
        assert!(matches!(
            verify(&crit, &JwkSet::default()),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            verify("a.b", &JwkSet::default()),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            verify("a.b.c.d", &JwkSet::default()),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn an_es256_token_does_not_verify_with_an_rsa_or_okp_key() {
        let key = p256();
        let token = sign_es256(&key, "k1", &claims()).unwrap();
        let rsa = serde_json::json!({ "kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB" });
        let okp = serde_json::json!({ "kty": "OKP", "kid": "k1", "crv": "Ed25519", "x": "AAAA" });
        assert_eq!(
            verify(&token, &set(vec![rsa, okp])),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn pem_bodies_decode() {
        let key = p256();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&key)
        );
        assert_eq!(pem_body(&pem), Some(key.clone()));
        assert!(is_es256_key(&key));
        assert!(!is_es256_key(b"not a key"));
    }
}
