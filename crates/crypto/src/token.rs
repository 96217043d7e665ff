//! Bearer secrets (session ids, invitation and setup links): 256 random bits shown once, only their
//! SHA-256 stored, so a stolen database opens no session.

use aws_lc_rs::digest;
use zeroize::Zeroizing;

/// A freshly made secret, in the hex form that goes into a cookie or a link.
pub struct SecretToken(Zeroizing<String>);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl SecretToken {
    /// 32 bytes from the system CSPRNG.
    pub fn generate() -> Result<Self, crate::CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| crate::CryptoError::Random)?;
        Ok(Self(Zeroizing::new(crate::hex::encode(bytes.as_ref()))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// SHA-256 of a presented secret: what the database keeps and looks up by.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash(pub Vec<u8>);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &crate::hex::encode(&self.0)[..8])
    }
}

impl TokenHash {
    pub fn of(presented: &str) -> Self {
        Self(
            digest::digest(&digest::SHA256, presented.as_bytes())
                .as_ref()
                .to_vec(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_256_bit_and_hash_stably() -> Result<(), crate::CryptoError> {
        let a = SecretToken::generate()?;
        let b = SecretToken::generate()?;
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert_eq!(a.hash().0.len(), 32);
        assert!(!format!("{a:?}").contains(a.expose()));
        Ok(())
    }
}

/// Compares two secrets' hashes in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// An API token, `tvt_<8-char prefix>_<64 hex>`: the prefix names it in lists and logs (stored in
/// clear), the 256-bit secret is shown once and stored only as its SHA-256.
pub struct ApiToken {
    pub prefix: String,
    full: Zeroizing<String>,
    secret_hash: TokenHash,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiToken(tvt_{}_<redacted>)", self.prefix)
    }
}

const PREFIX_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// The prefix Testomat.io's clients expect on a project key (`tstmt_…`): the same token in a
/// form a team can paste where its reporter wants a Testomat.io key.
pub const TESTOMATIO_FORM: &str = "tstmt_";

impl ApiToken {
    pub fn generate() -> Result<Self, crate::CryptoError> {
        Self::generate_as("tvt_")
    }

    /// A token shown as `tstmt_<prefix>_<secret>` (it parses like any other).
    pub fn generate_testomatio() -> Result<Self, crate::CryptoError> {
        Self::generate_as(TESTOMATIO_FORM)
    }

    fn generate_as(form: &str) -> Result<Self, crate::CryptoError> {
        let mut raw = Zeroizing::new([0u8; 8 + 32]);
        aws_lc_rs::rand::fill(raw.as_mut()).map_err(|_| crate::CryptoError::Random)?;
        let prefix: String = raw[..8]
            .iter()
            .map(|b| char::from(PREFIX_ALPHABET[usize::from(b % 32)]))
            .collect();
        let secret = Zeroizing::new(crate::hex::encode(&raw[8..]));
        Ok(Self {
            full: Zeroizing::new(format!("{form}{prefix}_{}", secret.as_str())),
            secret_hash: TokenHash::of(&secret),
            prefix,
        })
    }

    /// The whole token, to show once.
    pub fn expose(&self) -> &str {
        &self.full
    }

    pub fn secret_hash(&self) -> &TokenHash {
        &self.secret_hash
    }

    /// Splits a presented token into its prefix and the hash of its secret; `None` when it does
    /// not have the token shape (so no lookup is made).
    pub fn parse(presented: &str) -> Option<(String, TokenHash)> {
        let presented = presented.trim();
        let rest = presented
            .strip_prefix("tvt_")
            .or_else(|| presented.strip_prefix(TESTOMATIO_FORM))?;
        let (prefix, secret) = rest.split_once('_')?;
        let prefix_ok = prefix.len() == 8 && prefix.bytes().all(|b| PREFIX_ALPHABET.contains(&b));
        let secret_ok = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
        (prefix_ok && secret_ok).then(|| (prefix.to_string(), TokenHash::of(secret)))
    }
}

#[cfg(test)]
mod api_token_tests {
    use super::*;

    #[test]
    fn format_round_trips_and_debug_hides_the_secret() -> Result<(), crate::CryptoError> {
        let t = ApiToken::generate()?;
        let full = t.expose().to_string();
        assert!(full.starts_with(&format!("tvt_{}_", t.prefix)));
        assert_eq!(full.len(), 4 + 8 + 1 + 64);
        assert_eq!(
            ApiToken::parse(&full),
            Some((t.prefix.clone(), t.secret_hash().clone()))
        );
        assert!(!format!("{t:?}").contains(&full[13..]));
        assert_eq!(ApiToken::parse("tvt_short_abc"), None);
        let t = ApiToken::generate_testomatio()?;
        assert!(t.expose().starts_with(&format!("tstmt_{}_", t.prefix)));
        assert_eq!(
            ApiToken::parse(t.expose()),
            Some((t.prefix.clone(), t.secret_hash().clone()))
        );
        assert!(!format!("{t:?}").contains(&t.expose()[15..]));
        assert_eq!(ApiToken::parse(&full.replace("tvt_", "tvx_")), None);
        Ok(())
    }
}
