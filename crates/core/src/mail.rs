//! Outgoing email, as a port: core says what to send; the binary plugs in an SMTP transport.
//! Without one, messages that carry links (invitations) are shown to the person who asked and
//! written to the log instead.

use std::future::Future;
use std::pin::Pin;

/// One plain-text message.
#[derive(Clone)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Message {
    // The body may carry a single-use link: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered (logged; clients see a generic sentence).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Delivers messages; implemented over SMTP by the binary.
pub trait Mailer: Send + Sync {
    fn send(&self, message: Message) -> SendFuture<'_>;
}
