//! TOTP two-factor authentication (RFC 6238: 30 s steps, 6 digits, one step either side).
//!
//! - Enrolment: a secret is made and sealed (with the instance key, bound to the user), shown
//!   once as a QR code and as text; a code from the authenticator confirms it, and 10
//!   single-use recovery codes are shown once and kept only as hashes.
//! - Sign-in: with a confirmed factor the password opens a session that only waits for the code
//!   (or a recovery code). A code's time step is spent when accepted: it never works twice.
//!   Wrong codes lock the account out for growing times after five.
//! - Turning the factor on or off, and new recovery codes, end the user's other sessions and are
//!   audited. An org may require a factor: its members without one must set it up before
//!   anything else works.

use crate::audit::{self, Change};
use crate::{Allowed, Core, CoreError, Principal};
use serde::Serialize;
use testvault_crypto::totp::{self, TotpSecret};
use testvault_crypto::{SealPlace, TokenHash};
use testvault_domain::{DomainError, Email, Permission, UserId, time};

/// Recovery codes made at a time.
const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show for the account.
const ISSUER: &str = "Testvault";

/// Where a session stands.
pub const STAGE_FULL: &str = "full";
pub const STAGE_SECOND_FACTOR: &str = "second_factor";
/// Not stored: a `full` session whose org requires a factor its user lacks.
pub const STAGE_ENROL: &str = "enrol";
/// How long a session that waits for its code lives.
pub(crate) const PENDING_SECS: i64 = 10 * 60;

/// A started enrolment: what the authenticator app is given (shown once).
#[derive(Serialize)]
pub struct Enrolment {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://…`, what the QR code holds.
    pub uri: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(<secret>)")
    }
}

/// The caller's second factor as the account page shows it.
#[derive(Debug, Serialize)]
pub struct FactorStatus {
    pub enabled: bool,
    pub recovery_codes_left: i64,
    /// The org requires a factor.
    pub required: bool,
}

fn place(user: UserId) -> String {
    user.0.to_string()
}

impl Core {
    fn seal_secret(&self, user: UserId, secret: &TotpSecret) -> Result<Vec<u8>, CoreError> {
        let row = place(user);
        let at = SealPlace {
            org: "",
            table: "user_factors",
            column: "secret",
            row: &row,
        };
        Ok(self
            .keyring()
            .master()
            .instance_key()
            .seal(&at, secret.as_bytes())?)
    }

    fn open_secret(&self, user: UserId, sealed: &[u8]) -> Result<TotpSecret, CoreError> {
        let row = place(user);
        let at = SealPlace {
            org: "",
            table: "user_factors",
            column: "secret",
            row: &row,
        };
        let bytes = self.keyring().master().instance_key().open(&at, sealed)?;
        Ok(TotpSecret::from_bytes(bytes.to_vec()))
    }

    /// The caller's factor. Needs a session (any stage).
    pub async fn second_factor_status(&self, p: &Principal) -> Result<FactorStatus, CoreError> {
        p.require_session()?;
        let factor = self.store().user_factor(p.user).await?;
        let required = self
            .store()
            .get_org(p.org)
            .await?
            .is_some_and(|o| o.require_second_factor);
        Ok(FactorStatus {
            enabled: factor.is_some_and(|f| f.confirmed_at.is_some()),
            recovery_codes_left: self.store().unused_recovery_codes(p.user).await?,
            required,
        })
    }

    /// Makes a new secret for the caller (replacing an unconfirmed one). 409 while a confirmed
    /// factor exists.
    pub async fn start_second_factor(&self, p: &Principal) -> Result<Enrolment, CoreError> {
        p.require_session()?;
        let secret = TotpSecret::generate()?;
        let sealed = self.seal_secret(p.user, &secret)?;
        if !self
            .store()
            .start_factor(p.user, &sealed, time::now())
            .await?
        {
            return Err(CoreError::Conflict("a second factor"));
        }
        Ok(Enrolment {
            secret: secret.to_base32().as_str().to_string(),
            uri: totp::otpauth_uri(&secret, ISSUER, &p.email),
        })
    }

    /// Confirms the enrolment with a code from the app: the factor is on, the other sessions
    /// end, and the recovery codes are returned (the only time they are shown).
    pub async fn confirm_second_factor(
        &self,
        p: &Principal,
        cookie: &str,
        code: &str,
    ) -> Result<Vec<String>, CoreError> {
        p.require_session()?;
        let factor = self
            .store()
            .user_factor(p.user)
            .await?
            .filter(|f| f.confirmed_at.is_none())
            .ok_or(CoreError::Gone(
                "start setting up two-factor authentication again",
            ))?;
        let secret = self.open_secret(p.user, &factor.secret)?;
        let step = self
            .checked_code(p.user, &p.email, &p.client, || {
                totp::verify(&secret, code, time::now(), None)
            })
            .await?;
        let codes = totp::recovery_codes(RECOVERY_CODES)?;
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_hash(c)).collect();
        let event = audit::by(p, Change::new("auth.second_factor_enabled", "user", p.user));
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if !self
            .store()
            .confirm_factor(p.user, step, time::now(), &hashes, &event)
            .await?
        {
            return Err(CoreError::Conflict("a second factor"));
        }
        self.after_factor_change(p, cookie).await?;
        Ok(codes)
    }

    /// Turns the factor off, after the password is checked again. 422 when the org requires one.
    pub async fn disable_second_factor(
        &self,
        p: &Principal,
        cookie: &str,
        password: &str,
    ) -> Result<(), CoreError> {
        p.require_session()?;
        if self
            .store()
            .get_org(p.org)
            .await?
            .is_some_and(|o| o.require_second_factor)
        {
            return Err(CoreError::Refused(
                "your organisation requires two-factor authentication",
            ));
        }
        let email = Email::parse(&p.email)?;
        self.verify_password_throttled(&email, password, &p.client)
            .await?;
        let event = audit::by(
            p,
            Change::new("auth.second_factor_disabled", "user", p.user),
        );
        if !self.store().delete_factor(p.user, &event).await? {
            return Err(CoreError::NotFound("second factor"));
        }
        self.after_factor_change(p, cookie).await
    }

    /// New recovery codes (the old ones stop working), for a current code from the app.
    pub async fn new_recovery_codes(
        &self,
        p: &Principal,
        cookie: &str,
        code: &str,
    ) -> Result<Vec<String>, CoreError> {
        p.require_session()?;
        self.spend_code(p.user, &p.email, &p.client, code).await?;
        let codes = totp::recovery_codes(RECOVERY_CODES)?;
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| self.recovery_hash(c)).collect();
        let event = audit::by(
            p,
            Change::new("auth.recovery_codes_replaced", "user", p.user),
        );
        self.store()
            .replace_recovery_codes(p.user, &hashes, &event)
            .await?;
        self.after_factor_change(p, cookie).await?;
        Ok(codes)
    }

    /// Ends the user's other sessions (this one is whole: the changes are made from whole
    /// sessions, or from one that had only to enrol, which enrolling makes whole).
    pub(crate) async fn after_factor_change(
        &self,
        p: &Principal,
        cookie: &str,
    ) -> Result<(), CoreError> {
        let hash = TokenHash::of(cookie);
        let ended = self.store().end_other_sessions(p.user, &hash.0).await?;
        tracing::info!(user.id = %p.user, sessions = ended, "second factor changed; other sessions ended");
        Ok(())
    }

    /// Finishes a sign-in that waits for the second factor: a code from the app or an unused
    /// recovery code. Wrong codes count towards a growing lock-out. The session gets a new id
    /// (its cookie is `SignedIn::token`): the one that waited for the code stops working.
    pub async fn complete_sign_in(
        &self,
        cookie: &str,
        client: &crate::ClientMeta,
        code: &str,
    ) -> Result<crate::SignedIn, CoreError> {
        let (p, stage) = self.session_principal(cookie, client).await?;
        if stage != STAGE_SECOND_FACTOR {
            return Err(CoreError::Gone("this sign-in needs no code"));
        }
        let looks_like_totp = code.chars().filter(char::is_ascii_digit).count() == 6
            && code
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_whitespace());
        if looks_like_totp {
            self.spend_code(p.user, &p.email, client, code).await?;
        } else {
            self.spend_recovery_code(&p, client, code).await?;
        }
        self.second_factor_passed(&p, cookie, client, "code").await
    }

    /// The second factor was given (`how`: a code or a passkey): the waiting session is
    /// promoted under a new id (its cookie is `SignedIn::token`; the old one stops working).
    pub(crate) async fn second_factor_passed(
        &self,
        p: &Principal,
        cookie: &str,
        client: &crate::ClientMeta,
        how: &str,
    ) -> Result<crate::SignedIn, CoreError> {
        let token = testvault_crypto::SecretToken::generate()?;
        if !self
            .store()
            .promote_session(&TokenHash::of(cookie).0, &token.hash().0)
            .await?
        {
            return Err(CoreError::Unauthenticated(
                "your session has ended; sign in again",
            ));
        }
        let event = audit::by(
            p,
            Change::new("auth.second_factor_passed", "user", p.user)
                .after(serde_json::json!({ "with": how })),
        );
        self.store().record_audit(&event).await?;
        let max_age_secs = self
            .store()
            .get_org(p.org)
            .await?
            .map_or(3600, |o| o.policy.absolute_secs);
        let principal = self.authenticate_session(token.expose(), client).await?;
        Ok(crate::SignedIn {
            token,
            principal,
            max_age_secs,
            waiting: None,
        })
    }

    /// Accepts a current code from the user's app and spends its step.
    async fn spend_code(
        &self,
        user: UserId,
        email: &str,
        client: &crate::ClientMeta,
        code: &str,
    ) -> Result<(), CoreError> {
        let factor = self
            .store()
            .user_factor(user)
            .await?
            .filter(|f| f.confirmed_at.is_some())
            .ok_or(CoreError::NotFound("second factor"))?;
        let secret = self.open_secret(user, &factor.secret)?;
        let last = factor.last_step.and_then(|s| u64::try_from(s).ok());
        let step = self
            .checked_code(user, email, client, || {
                totp::verify(&secret, code, time::now(), last)
            })
            .await?;
        // Spent atomically: of two requests with one code, one wins.
        if !self
            .store()
            .spend_factor_step(user, i64::try_from(step).unwrap_or(i64::MAX))
            .await?
        {
            return Err(DomainError::new(
                "code",
                "this code was used already; wait for the next one",
            )
            .into());
        }
        Ok(())
    }

    async fn spend_recovery_code(
        &self,
        p: &Principal,
        client: &crate::ClientMeta,
        code: &str,
    ) -> Result<(), CoreError> {
        let hash = self.recovery_hash(code);
        self.reserve_attempt(p.user).await?;
        if !self
            .store()
            .spend_recovery_code(p.user, &hash, time::now())
            .await?
        {
            self.code_failed(p.user, &p.email, client).await?;
            return Err(DomainError::new("code", "wrong or used code").into());
        }
        self.store().clear_code_attempts(p.user).await?;
        let event = audit::by(p, Change::new("auth.recovery_code_used", "user", p.user));
        self.store().record_audit(&event).await?;
        Ok(())
    }

    /// Reserves one code attempt (atomically: parallel guesses cannot pass the limit); 429
    /// while the user is locked out. Lock-outs double from 2 s up to 15 minutes.
    async fn reserve_attempt(&self, user: UserId) -> Result<(), CoreError> {
        let now = time::now();
        let free = self.settings().rate_limits.second_factor_per_user;
        let lock = |strikes: i32| {
            let exp = u32::try_from(strikes.clamp(0, 20)).unwrap_or(20);
            (2i64 << exp).min(15 * 60)
        };
        match self
            .store()
            .reserve_code_attempt(user, free, now, lock)
            .await?
        {
            None => Ok(()),
            Some(until) => Err(CoreError::Throttled {
                retry_after_secs: (until - now).max(1),
            }),
        }
    }

    /// Runs `check` on a reserved attempt; a right code frees the attempts again.
    async fn checked_code(
        &self,
        user: UserId,
        email: &str,
        client: &crate::ClientMeta,
        check: impl FnOnce() -> Option<u64>,
    ) -> Result<u64, CoreError> {
        self.reserve_attempt(user).await?;
        match check() {
            Some(step) => {
                // Wrong codes count while they are consecutive.
                self.store().clear_code_attempts(user).await?;
                Ok(step)
            }
            None => {
                self.code_failed(user, email, client).await?;
                Err(
                    DomainError::new("code", "wrong code; check your authenticator app's clock")
                        .into(),
                )
            }
        }
    }

    /// Records a wrong code in each of the user's orgs' trails (the attempt was counted when it
    /// was reserved).
    async fn code_failed(
        &self,
        user: UserId,
        email: &str,
        client: &crate::ClientMeta,
    ) -> Result<(), CoreError> {
        for org in self.store().orgs_of_user(user).await? {
            let change = Change::new("auth.second_factor_failed", "user", user);
            let event = audit::by_anonymous(org.id, email, client, change);
            self.store().record_audit(&event).await?;
        }
        Ok(())
    }

    /// A recovery code as stored: keyed (an unkeyed hash of ~49 bits could be cracked from a
    /// copy of the database).
    fn recovery_hash(&self, code: &str) -> Vec<u8> {
        self.keyring()
            .master()
            .keyed_hash("recovery-code", &totp::normalise_recovery_code(code))
    }

    /// Removes a member's factor (a lost phone) and ends all their sessions; they sign in with
    /// the password again (and must set a factor up again where one is required). Needs
    /// `manage_security`; audited.
    pub async fn reset_member_second_factor(
        &self,
        allowed: Allowed<'_>,
        user: UserId,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        // Someone outside this org is "not found".
        if self.store().member_role(p.org, user).await?.is_none() {
            return Err(CoreError::NotFound("member"));
        }
        if user == p.user {
            return Err(CoreError::Refused(
                "turn your own second factor off with your password on the Two-factor page",
            ));
        }
        // The factor is the user's, for every org they belong to: one org's owner may not
        // lift it for the others.
        if self.store().orgs_of_user(user).await?.len() > 1 {
            return Err(CoreError::Refused(
                "this member also belongs to other organisations; they can turn the factor off with their password, or an operator can reset it",
            ));
        }
        // Every second factor goes: the TOTP app and the passkeys (a lost phone holds both).
        let passkeys = self.store().passkeys_of(user).await?;
        let event = audit::by(
            p,
            Change::new("auth.second_factor_reset", "user", user)
                .after(serde_json::json!({ "passkeys_removed": passkeys.len() })),
        );
        let had_totp = self.store().delete_factor(user, &event).await?;
        if !had_totp && passkeys.is_empty() {
            return Err(CoreError::NotFound("second factor"));
        }
        if !had_totp {
            self.store().record_audit(&event).await?;
        }
        for k in passkeys {
            let removed = audit::by(
                p,
                Change::new("auth.passkey_removed", "user", user)
                    .before(serde_json::json!({ "passkey": k.id })),
            );
            self.store().delete_passkey(user, k.id, &removed).await?;
        }
        let ended = self.store().end_other_sessions(user, &[]).await?;
        tracing::info!(org.id = %p.org, user.id = %user, sessions = ended, "member's second factor reset");
        Ok(())
    }

    /// Whether the org requires a second factor of its members. Needs `manage_security`.
    pub async fn set_require_second_factor(
        &self,
        allowed: Allowed<'_>,
        required: bool,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let event = audit::by(
            p,
            Change::new("security.second_factor_requirement_changed", "org", p.org)
                .after(serde_json::json!({ "required": required })),
        );
        self.store()
            .set_require_second_factor(p.org, required, &event)
            .await?;
        Ok(())
    }
}
