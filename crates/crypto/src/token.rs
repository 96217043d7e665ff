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
