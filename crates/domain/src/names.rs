//! Names, slugs and addresses as parsed values: trimmed, bounded, free of control characters.

use crate::DomainError;
use serde::Serialize;

/// Trims `raw` and checks its length in characters and that it carries no control characters.
fn clean_text(
    field: &'static str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, DomainError> {
    let text = raw.trim();
    let len = text.chars().count();
    if len < min {
        return Err(DomainError::new(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(DomainError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(DomainError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_string())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                clean_text($field, raw, $min, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// An organisation's display name; unique per installation, case-insensitively.
    OrgName, "name", 1, 100
);
text_type!(
    /// A project's display name.
    ProjectName, "name", 1, 100
);
text_type!(
    /// What an API token is for ("GitHub Actions", "my laptop").
    TokenName, "name", 1, 100
);
text_type!(
    /// A custom role's name; unique per org, case-insensitively.
    RoleName, "name", 1, 60
);
text_type!(
    /// How a person is called in the UI.
    PersonName, "display_name", 1, 100
);

/// Free text about a project. Sealed at rest with the org's key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectDescription(String);

impl ProjectDescription {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let text = raw.trim();
        if text.chars().count() > 4000 {
            return Err(DomainError::new(
                "description",
                "must be at most 4000 characters",
            ));
        }
        Ok(Self(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A project's URL name: 2–40 of `a-z`, `0-9` and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProjectSlug(String);

impl ProjectSlug {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts_with_letter = s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !(2..=40).contains(&s.len()) || !ok_chars || !starts_with_letter || s.ends_with('-') {
            return Err(DomainError::new(
                "slug",
                "must be 2–40 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'",
            ));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, lower-cased so that one person has one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_lowercase();
        let invalid =
            || DomainError::new("email", "must be an email address like name@example.com");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Owner@Acme.Test ").map(|e| e.0),
            Ok("owner@acme.test".into())
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@acme.test",
            "a b@acme.test",
            "a@acme..test",
            "a@@acme.test",
        ] {
            assert_eq!(
                Email::parse(bad).map_err(|e| e.field),
                Err("email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn slug_rules() {
        assert!(ProjectSlug::parse("web-app2").is_ok());
        for bad in ["W", "web_app", "2web", "web-", "a", &"a".repeat(41)] {
            assert!(ProjectSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(OrgName::parse("  Acme ").map(|n| n.0), Ok("Acme".into()));
        assert!(OrgName::parse("   ").is_err());
        assert!(OrgName::parse("a\u{0007}b").is_err());
        assert!(ProjectName::parse(&"x".repeat(101)).is_err());
    }
}
