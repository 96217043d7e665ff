//! A self-hosted proof-of-work challenge for public forms, in ALTCHA's format (so its widget
//! works too; our own few lines of page script solve it): the browser finds the number `n` with
//! SHA-256(salt + n) = challenge, which costs it a fraction of a second and a form-flooding bot
//! that much per submission. No third party is asked: it works air-gapped. A challenge is signed
//! (HMAC with a key derived from the master key), expires after 10 minutes and is accepted once.

use crate::{Core, CoreError};
use base64::Engine;
use serde::{Deserialize, Serialize};
use testvault_crypto::TokenHash;
use testvault_domain::{DomainError, time};

/// Numbers a solution may be (a browser tries half of them on average).
const MAX_NUMBER: u64 = 100_000;
/// How long a challenge can be solved and submitted.
const TTL_SECS: i64 = 10 * 60;
const ALGORITHM: &str = "SHA-256";

/// What `GET /altcha/challenge` answers.
#[derive(Debug, Serialize)]
pub struct Challenge {
    pub algorithm: &'static str,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// What a solved form sends back (base64 of this JSON, in the `altcha` field).
#[derive(Debug, Deserialize)]
struct Solution {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

const REFUSED: &str =
    "the page's anti-abuse check is missing or wrong; reload the page and try again";

fn sha256_hex(text: &str) -> String {
    testvault_crypto::hex::encode(&TokenHash::of(text).0)
}

/// The random number in `0..max` for a new challenge.
fn random_below(max: u64) -> Result<u64, CoreError> {
    let mut bytes = [0u8; 8];
    testvault_crypto::random_fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes) % max)
}

impl Core {
    fn altcha_signature(&self, challenge: &str) -> String {
        testvault_crypto::hex::encode(&self.keyring().master().keyed_hash("altcha", challenge))
    }

    /// A new challenge.
    pub fn altcha_challenge(&self) -> Result<Challenge, CoreError> {
        let mut nonce = [0u8; 12];
        testvault_crypto::random_fill(&mut nonce)?;
        let salt = format!(
            "{}?expires={}",
            testvault_crypto::hex::encode(&nonce),
            time::now() + TTL_SECS
        );
        let number = random_below(MAX_NUMBER)?;
        let challenge = sha256_hex(&format!("{salt}{number}"));
        Ok(Challenge {
            algorithm: ALGORITHM,
            signature: self.altcha_signature(&challenge),
            challenge,
            maxnumber: MAX_NUMBER,
            salt,
        })
    }

    /// Accepts a solved challenge once: signed by us, unexpired, solved, not used before.
    pub async fn verify_altcha(&self, payload: &str) -> Result<(), CoreError> {
        let refused = || CoreError::from(DomainError::new("altcha", REFUSED));
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| refused())?;
        let s: Solution = serde_json::from_slice(&json).map_err(|_| refused())?;
        let expires: i64 = s
            .salt
            .split_once("?expires=")
            .and_then(|(_, e)| e.split('&').next())
            .and_then(|e| e.parse().ok())
            .ok_or_else(refused)?;
        let signed = testvault_crypto::constant_time_eq(
            self.altcha_signature(&s.challenge).as_bytes(),
            s.signature.as_bytes(),
        );
        if s.algorithm != ALGORITHM
            || !signed
            || expires <= time::now()
            || s.number > MAX_NUMBER
            || sha256_hex(&format!("{}{}", s.salt, s.number)) != s.challenge
        {
            return Err(refused());
        }
        if !self
            .store()
            .spend_pow(&TokenHash::of(&s.challenge).0, expires)
            .await?
        {
            return Err(refused());
        }
        Ok(())
    }
}

/// Solves a challenge the way a browser does (for tests and scripts that fill public forms).
pub fn solve(c: &Challenge) -> Option<String> {
    let number =
        (0..=c.maxnumber).find(|n| sha256_hex(&format!("{}{n}", c.salt)) == c.challenge)?;
    let json = serde_json::json!({
        "algorithm": c.algorithm, "challenge": c.challenge, "number": number,
        "salt": c.salt, "signature": c.signature,
    });
    Some(base64::engine::general_purpose::STANDARD.encode(json.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_solvable_and_its_solution_is_well_formed() -> Result<(), CoreError> {
        let salt = "00ff?expires=9999999999".to_string();
        let c = Challenge {
            algorithm: ALGORITHM,
            challenge: sha256_hex(&format!("{salt}1234")),
            maxnumber: MAX_NUMBER,
            salt,
            signature: "x".into(),
        };
        let payload = solve(&c).ok_or_else(|| CoreError::internal("unsolved"))?;
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        let s: Solution =
            serde_json::from_slice(&json).map_err(|e| CoreError::internal(e.to_string()))?;
        assert_eq!(s.number, 1234);
        Ok(())
    }
}
