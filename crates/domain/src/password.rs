//! The rule for a new password: long enough, not on the list of passwords attackers try first.

use crate::DomainError;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Minimum length in characters (NIST SP 800-63B asks for at least 8; we ask for 12).
pub const MIN_LEN: usize = 12;
/// Bounds the work a sign-in request can ask of the password hasher.
pub const MAX_LEN: usize = 1024;

static COMMON_LIST: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_LIST
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// A password that passed the policy. Deliberately not `Debug`-printable in clear.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let len = raw.chars().count();
        if len < MIN_LEN {
            return Err(DomainError::new(
                "password",
                format!("must be at least {MIN_LEN} characters"),
            ));
        }
        if len > MAX_LEN {
            return Err(DomainError::new(
                "password",
                format!("must be at most {MAX_LEN} characters"),
            ));
        }
        if is_common(raw) {
            return Err(DomainError::new(
                "password",
                "is too common: attackers try it first; choose another (a few unrelated words work well)",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// True when the password, or its core once digits and symbols at either end are taken off, is a
/// well-known password, or when it is one character repeated.
fn is_common(raw: &str) -> bool {
    let lower = raw.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    let mut chars = lower.chars();
    let first = chars.next();
    let one_repeated = chars.all(|c| Some(c) == first);
    one_repeated
        || common().contains(lower.as_str())
        || (core.chars().count() >= 6 && common().contains(core))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_common_and_repeated() {
        for bad in [
            "short",
            "password1234",
            "Qwertyuiop12!",
            "123qweasdzxc",
            "aaaaaaaaaaaaaaaa",
            "iloveyou2024!!",
        ] {
            assert!(NewPassword::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_long_unusual() {
        assert!(NewPassword::parse("correct horse battery staple").is_ok());
        assert!(NewPassword::parse("Vq9!tr-Lamp-Orbit").is_ok());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let p = NewPassword::parse("correct horse battery staple").map(|p| format!("{p:?}"));
        assert_eq!(p.as_deref(), Ok("NewPassword(<redacted>)"));
    }
}
