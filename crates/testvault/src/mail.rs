//! SMTP delivery for core's `Mailer` port (lettre). `smtp_url` is `smtp://host:port` (add
//! `?tls=required` for STARTTLS) or `smtps://host:port` (implicit TLS), with optional
//! `user:password@` credentials.

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;
use testvault_core::mail::{MailError, Mailer, Message, SendFuture};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url is not a valid SMTP URL ({e})"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("mail_from is not a valid address ({e})"))?;
        Ok(Self { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            let to = message
                .to
                .parse()
                .map_err(|e| MailError(format!("recipient address: {e}")))?;
            let email = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(message.subject)
                .header(ContentType::TEXT_PLAIN)
                .body(message.body)
                .map_err(|e| MailError(format!("building the message: {e}")))?;
            self.transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| MailError(format!("SMTP: {e}")))
        })
    }
}

/// Plain SMTP to anything but this machine sends invitation links readable on the wire.
pub fn is_unencrypted_remote(url: &str) -> bool {
    let plain = url.starts_with("smtp://") && !url.contains("tls=required");
    let host = url
        .split("://")
        .nth(1)
        .map(|rest| rest.rsplit('@').next().unwrap_or(rest))
        .and_then(|hp| hp.split([':', '/', '?']).next())
        .unwrap_or("");
    plain && !matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_remote_smtp_is_flagged() {
        assert!(super::is_unencrypted_remote("smtp://mail.example.com:25"));
        assert!(!super::is_unencrypted_remote(
            "smtp://mail.example.com:587?tls=required"
        ));
        assert!(!super::is_unencrypted_remote(
            "smtps://u:p@mail.example.com"
        ));
        assert!(!super::is_unencrypted_remote("smtp://127.0.0.1:2525"));
    }
}
