//! argon2id password hashes (OWASP's 19 MiB, t=2, p=1), verified in constant time.
//!
//! The stored form is `argon2id$v=19$m=19456,t=2,p=1$<salt hex>$<hash hex>`; the parameters travel
//! with the hash so they can be raised later without breaking old ones.

use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUT_LEN: usize = 32;

fn hasher(m: u32, t: u32, p: u32) -> Option<Argon2<'static>> {
    let params = Params::new(m, t, p, Some(OUT_LEN)).ok()?;
    Some(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh 16-byte salt. Slow on purpose: call it off the async runtime.
pub fn hash(password: &str) -> Result<String, crate::CryptoError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| crate::CryptoError::Random)?;
    let mut out = [0u8; OUT_LEN];
    hasher(M_COST, T_COST, P_COST)
        .ok_or(crate::CryptoError::PasswordHash)?
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|_| crate::CryptoError::PasswordHash)?;
    Ok(format!(
        "argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        crate::hex::encode(&salt),
        crate::hex::encode(&out)
    ))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    verify_inner(password, stored).unwrap_or(false)
}

fn verify_inner(password: &str, stored: &str) -> Option<bool> {
    let mut parts = stored.split('$');
    if parts.next()? != "argon2id" || parts.next()? != "v=19" {
        return None;
    }
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for kv in parts.next()?.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let salt = crate::hex::decode(parts.next()?)?;
    let expected = crate::hex::decode(parts.next()?)?;
    if expected.len() != OUT_LEN {
        return None;
    }
    let mut out = [0u8; OUT_LEN];
    hasher(m?, t?, p?)?
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .ok()?;
    Some(aws_lc_rs::constant_time::verify_slices_are_equal(&out, &expected).is_ok())
}

/// A real hash of a random password: sign-in verifies against it when the email is unknown, so
/// the answer takes as long as for a wrong password and reveals nothing.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash("testvault-dummy-password-for-timing")
            .unwrap_or_else(|_| format!("argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}$00$00"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_salts_differ() -> Result<(), crate::CryptoError> {
        let a = hash("correct horse battery staple")?;
        let b = hash("correct horse battery staple")?;
        assert_ne!(a, b);
        assert!(a.starts_with("argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapl", &a));
        assert!(!verify("x", "garbage"));
        assert!(!verify(
            "testvault-dummy-password-for-timing-no",
            dummy_hash()
        ));
        Ok(())
    }

    #[test]
    fn dummy_hash_costs_as_much_as_a_real_one() {
        // `Some(false)`: the hash parsed and argon2 ran with the real parameters. A malformed
        // dummy would answer `None` at once and make unknown emails measurably faster.
        assert_eq!(verify_inner("any password", dummy_hash()), Some(false));
        assert!(dummy_hash().starts_with("argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
