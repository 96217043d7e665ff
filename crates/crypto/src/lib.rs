#![forbid(unsafe_code)]
//! Testvault's cryptography: random tokens and their hashes, password hashing, and the key
//! hierarchy (master key → per-org data keys → sealed values).
//!
//! One provider, aws-lc-rs, serves TLS and everything here, so there is one crypto library to audit.

pub mod audit;
pub mod hex;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod token;
pub mod totp;

pub use keys::{BlindIndex, CryptoError, DataKey, MasterKey, SealPlace, Sealer, WrappedKey};
pub use token::constant_time_eq;
pub use token::{ApiToken, SecretToken, TokenHash};
pub use totp::TotpSecret;

/// Fills `buf` from the system CSPRNG.
pub fn random_fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Random)
}
