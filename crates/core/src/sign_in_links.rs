//! Signing in by a link sent by email. The link works once, for 10 minutes, only in the browser
//! that asked (the hash of a nonce from that browser's cookie is stored beside the link's), and
//! only its hash is kept. The answer to a request is the same whether or not the address has an
//! account — the lookup and the mail happen after the answer — and requests are rate-limited per
//! address and per IP. A link replaces the password, not the second factor: an account with one
//! still has to give its code.

use crate::audit::{self, Change, ClientMeta};
use crate::{Core, CoreError, SignedIn};
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{DomainError, Email, time};

/// How long a link works.
const LINK_TTL_SECS: i64 = 10 * 60;

const USED_OR_EXPIRED: &str =
    "this sign-in link is used, expired, or was asked for in another browser; ask for a new one";

/// A fresh nonce for the cookie that binds a sign-in link to the browser that asks for it.
pub fn browser_nonce() -> Result<String, CoreError> {
    Ok(SecretToken::generate()?.expose().to_string())
}

impl Core {
    /// Emails a sign-in link to `email` when it belongs to a member of some org, bound to the
    /// browser holding `browser` (a nonce from its cookie). Answers the same either way, before
    /// the lookup and the mail happen; 429 past the per-address or per-IP limit.
    pub async fn request_sign_in_link(
        &self,
        email: &str,
        browser: &str,
        client: &ClientMeta,
    ) -> Result<(), CoreError> {
        let email = Email::parse(email)?;
        if browser.len() < 32 {
            return Err(DomainError::new("browser", "missing").into());
        }
        let now = time::now();
        let master = self.keyring().master();
        let keys = [
            (
                master.keyed_hash("sign-in-link/address", email.as_str()),
                self.settings().rate_limits.sign_in_links_per_address,
            ),
            (
                master.keyed_hash("sign-in-link/ip", &client.ip),
                self.settings().rate_limits.sign_in_links_per_ip,
            ),
        ];
        // Every request counts towards the limits (a request is not a failure, but it is what
        // a flood of them is made of), counted atomically before anything else happens.
        let keys: Vec<(&[u8], i32)> = keys.iter().map(|(k, free)| (k.as_slice(), *free)).collect();
        if let Err(locked_until) = self
            .store()
            .reserve_throttle(&keys, now, crate::auth::after_failure)
            .await?
        {
            return Err(CoreError::Throttled {
                retry_after_secs: (locked_until - now).max(1),
            });
        }
        let core = self.clone();
        let browser_hash = TokenHash::of(browser).0;
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = core.send_sign_in_link(&email, &browser_hash, &client).await {
                tracing::warn!(error = %e, "a sign-in link was not sent");
            }
        });
        Ok(())
    }

    async fn send_sign_in_link(
        &self,
        email: &Email,
        browser_hash: &[u8],
        client: &ClientMeta,
    ) -> Result<(), CoreError> {
        let Some(user) = self.store().find_user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        let orgs = self.store().orgs_of_user(user.id).await?;
        if orgs.is_empty() {
            return Ok(());
        }
        let token = SecretToken::generate()?;
        let now = time::now();
        self.store()
            .create_sign_in_link(
                &token.hash().0,
                user.id,
                browser_hash,
                now,
                now + LINK_TTL_SECS,
            )
            .await?;
        for org in &orgs {
            let change = Change::new("auth.sign_in_link_sent", "user", user.id);
            let event = audit::by_anonymous(org.id, email.as_str(), client, change);
            self.store().record_audit(&event).await?;
        }
        let link = self.link(&format!("/sign-in/link/{}", token.expose()));
        let Some(mailer) = self.mailer() else {
            tracing::warn!(
                user.id = %user.id,
                sign_in.link = %link,
                "no mail server configured: a sign-in link was asked for; deliver this link (it works once, for 10 minutes, in the browser that asked)"
            );
            return Ok(());
        };
        let message = crate::mail::Message {
            to: email.as_str().to_string(),
            subject: "Your Testvault sign-in link".into(),
            body: format!(
                "Someone (hopefully you) asked to sign in to Testvault as {email}.\n\n\
                 Sign in:\n{link}\n\n\
                 The link works once, for 10 minutes, in the browser where it was asked for. \
                 If this was not you, ignore this email: nothing happens without the link.\n",
                email = email.as_str(),
            ),
        };
        mailer
            .send(message)
            .await
            .map_err(|e| CoreError::internal(e.to_string()))
    }

    /// Signs in with an emailed link, in the browser that asked for it. A second factor, when
    /// the account has one, is still asked for (`SignedIn::waiting`).
    pub async fn sign_in_with_link(
        &self,
        token: &str,
        browser: &str,
        client: &ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<SignedIn, CoreError> {
        let user = self
            .store()
            .spend_sign_in_link(
                &TokenHash::of(token).0,
                &TokenHash::of(browser).0,
                time::now(),
            )
            .await?
            .ok_or(CoreError::Gone(USED_OR_EXPIRED))?;
        self.start_session_anywhere(
            user,
            client,
            previous_session,
            crate::auth::SignInMethod::Link,
        )
        .await
    }
}
