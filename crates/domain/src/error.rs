//! The one error the domain raises: a value that does not parse, naming the field.

/// A value supplied by a user that breaks a domain rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    /// The input field at fault, as the client named it (`email`, `slug`, …).
    pub field: &'static str,
    /// A sentence a person can act on.
    pub message: String,
}

impl DomainError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
