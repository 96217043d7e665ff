//! What a use case can answer besides success. Knows nothing of HTTP; the web layer maps each
//! variant to a status once, at the edge.

use testvault_domain::DomainError;
use testvault_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input broke a rule; names the field.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// No valid session or credentials. The message never says which part was wrong.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but the role does not allow this.
    #[error("your role does not allow this: {0}")]
    Forbidden(&'static str),
    /// The org's IP allowlist does not include the client's address.
    #[error("your organisation does not allow access from this network")]
    NetworkNotAllowed,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A link or item that was valid once but is no longer (used, expired, revoked).
    #[error("{0}")]
    Gone(&'static str),
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many failed attempts; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: i64 },
    /// An upload passed a size limit (decompressed size, depth, counts): nothing was stored.
    #[error("{0}")]
    TooLarge(String),
    /// A rule refused the change as things stand (the last owner, a role still in use).
    #[error("{0}")]
    Refused(&'static str),
    /// A service we depend on (the mail server) did not do its part; nothing was stored.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The password was right; the session waits for the second factor's code.
    #[error("enter the code from your authenticator app to finish signing in")]
    SecondFactorRequired,
    /// The org requires a second factor and this member has none yet.
    #[error("your organisation requires two-factor authentication: set it up first")]
    EnrolmentRequired,
    /// The org requires its members to sign in through single sign-on.
    #[error("your organisation requires single sign-on: use “Sign in with single sign-on”")]
    SsoRequired,
    /// An identity provider answered, but not in a way we accept (named in the message;
    /// nothing was stored).
    #[error("single sign-on failed: {0}")]
    Federation(String),
    /// Anything else: logged in full, shown to clients as a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        CoreError::Internal(detail.into())
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => CoreError::Conflict(what),
            StoreError::Stale(why) => CoreError::Gone(why),
            StoreError::Refused(why) => CoreError::Refused(why),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

impl From<testvault_crypto::CryptoError> for CoreError {
    fn from(e: testvault_crypto::CryptoError) -> Self {
        CoreError::Internal(e.to_string())
    }
}
