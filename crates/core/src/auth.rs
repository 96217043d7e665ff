//! Signing in and out, and turning a session cookie back into a `Principal`.
//!
//! Sign-in answers one message for an unknown email and a wrong password, after the same work (an
//! unknown email is checked against a dummy hash), and slows down repeated failures per account
//! and per IP with growing lock-outs kept in the database (so every instance agrees).

use crate::audit::{self, Change, ClientMeta};
use crate::{Core, CoreError, Principal};
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{Access, Email, IpAllowlist, MemberRole, OrgId, UserId, time};
use testvault_store::{NewSession, ThrottleState};
use uuid::Uuid;

/// Lock-outs double from 2 s up to this.
const MAX_LOCK_SECS: i64 = 15 * 60;
/// Failures older than this are forgotten.
const FAILURE_MEMORY_SECS: i64 = 3600;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_SECS: i64 = 30;

const WRONG_CREDENTIALS: &str = "wrong email or password";
const NO_ORG: &str =
    "your account is not a member of any organisation; ask an owner for an invitation";

pub struct SignIn<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub client: &'a ClientMeta,
    /// The session cookie the browser already had, ended so the id is rotated at sign-in.
    pub previous_session: Option<&'a str>,
    /// Sign in to this org when the user is a member of several (e.g. after accepting an invitation).
    pub org: Option<OrgId>,
}

/// A new session: the cookie value (shown once, never stored) and who it belongs to.
pub struct SignedIn {
    pub token: SecretToken,
    pub principal: Principal,
    /// For the cookie's `Max-Age`: the session's absolute lifetime.
    pub max_age_secs: i64,
    /// What the session still waits for before it works: the second factor's code
    /// (`CoreError::SecondFactorRequired`) or setting one up (`EnrolmentRequired`).
    pub waiting: Option<CoreError>,
}

/// How a session was signed in; kept with the session, because an org that requires single
/// sign-on accepts only `Sso` sessions, and a passkey proves both factors at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    Link,
    Sso,
    Passkey,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Link => "link",
            SignInMethod::Sso => "sso",
            SignInMethod::Passkey => "passkey",
        }
    }

    pub(crate) fn parse(text: &str) -> SignInMethod {
        match text {
            "link" => SignInMethod::Link,
            "sso" => SignInMethod::Sso,
            "passkey" => SignInMethod::Passkey,
            _ => SignInMethod::Password,
        }
    }
}

/// The throttle's state after one more failure.
pub(crate) fn after_failure(prev: ThrottleState, now: i64, free: i32) -> ThrottleState {
    let failures = if now - prev.last_failure > FAILURE_MEMORY_SECS {
        1
    } else {
        prev.failures.saturating_add(1)
    };
    let locked_until = if failures > free {
        let exp = u32::try_from(failures - free - 1)
            .unwrap_or(u32::MAX)
            .min(20);
        now + (2i64 << exp).min(MAX_LOCK_SECS)
    } else {
        0
    };
    ThrottleState {
        failures,
        last_failure: now,
        locked_until,
    }
}

impl Core {
    fn throttle_keys(&self, email: &str, ip: &str) -> (Vec<u8>, Vec<u8>) {
        let m = self.keyring().master();
        (
            m.keyed_hash("sign-in/account", email),
            m.keyed_hash("sign-in/ip", ip),
        )
    }

    /// Checks a password for `email` under the sign-in throttle (per account and per IP, growing
    /// lock-outs) with the same work for unknown emails. Every path that accepts a password for an
    /// existing account goes through here.
    pub(crate) async fn verify_password_throttled(
        &self,
        email: &Email,
        password: &str,
        client: &ClientMeta,
    ) -> Result<testvault_store::UserRow, CoreError> {
        let ip = client.ip.as_str();
        let now = time::now();
        let (account_key, ip_key) = self.throttle_keys(email.as_str(), ip);
        let limits = self.settings().rate_limits;
        // The attempt counts before the password is checked (parallel guesses cannot pass the
        // limit); a right password takes it back.
        if let Err(locked_until) = self
            .store()
            .reserve_throttle(
                &[
                    (&account_key, limits.sign_in_per_account),
                    (&ip_key, limits.sign_in_per_ip),
                ],
                now,
                after_failure,
            )
            .await?
        {
            return Err(CoreError::Throttled {
                retry_after_secs: (locked_until - now).max(1),
            });
        }
        let user = self.store().find_user_by_email(email.as_str()).await?;
        // An unknown email, and an account without a password (made by single sign-on), cost
        // the same work as a wrong password: timing tells nothing.
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| testvault_crypto::password::dummy_hash().to_string());
        let has_password = user.as_ref().is_some_and(|u| !u.password_hash.is_empty());
        let password = password.to_string();
        let matches =
            crate::blocking(move || testvault_crypto::password::verify(&password, &stored)).await?;
        match user {
            Some(u) if matches && has_password => {
                self.store().clear_throttle(&account_key).await?;
                self.store()
                    .release_throttle_attempt(&ip_key, limits.sign_in_per_ip)
                    .await?;
                Ok(u)
            }
            _ => {
                tracing::info!(client.ip = ip, "password check failed");
                // A wrong password for a real account is recorded in each of its orgs.
                if let Some(u) = &user {
                    for org in self.store().orgs_of_user(u.id).await? {
                        let change = Change::new("auth.sign_in_failed", "user", u.id);
                        let event = audit::by_anonymous(org.id, email.as_str(), client, change);
                        self.store().record_audit(&event).await?;
                    }
                }
                Err(CoreError::Unauthenticated(WRONG_CREDENTIALS))
            }
        }
    }

    pub async fn sign_in(&self, req: SignIn<'_>) -> Result<SignedIn, CoreError> {
        let email =
            Email::parse(req.email).map_err(|_| CoreError::Unauthenticated(WRONG_CREDENTIALS))?;
        let user = self
            .verify_password_throttled(&email, req.password, req.client)
            .await?;

        let orgs = self.store().orgs_of_user(user.id).await?;
        if orgs.is_empty() {
            return Err(CoreError::Unauthenticated(NO_ORG));
        }
        // The requested org first, then the others in order: the first whose network rules let
        // this client in.
        let mut candidates: Vec<OrgId> = req
            .org
            .filter(|o| orgs.iter().any(|x| x.id == *o))
            .into_iter()
            .collect();
        candidates.extend(orgs.iter().map(|o| o.id).filter(|id| Some(*id) != req.org));
        self.start_session_in_first(
            user.id,
            candidates,
            req.client,
            req.previous_session,
            SignInMethod::Password,
        )
        .await
    }

    /// A session for a user proven without saying which org (a link, a passkey): the first of
    /// their orgs that lets this sign-in in.
    pub(crate) async fn start_session_anywhere(
        &self,
        user: UserId,
        client: &ClientMeta,
        previous_session: Option<&str>,
        method: SignInMethod,
    ) -> Result<SignedIn, CoreError> {
        let orgs: Vec<OrgId> = self
            .store()
            .orgs_of_user(user)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        if orgs.is_empty() {
            return Err(CoreError::Unauthenticated(NO_ORG));
        }
        self.start_session_in_first(user, orgs, client, previous_session, method)
            .await
    }

    /// A session in the first of `orgs` that lets this sign-in in: its network rules allow the
    /// client, and it does not require single sign-on of this member.
    pub(crate) async fn start_session_in_first(
        &self,
        user: UserId,
        orgs: Vec<OrgId>,
        client: &ClientMeta,
        previous_session: Option<&str>,
        method: SignInMethod,
    ) -> Result<SignedIn, CoreError> {
        let mut refusal = CoreError::NetworkNotAllowed;
        for org in orgs {
            match self
                .start_session(user, org, client, previous_session, method)
                .await
            {
                Err(e @ (CoreError::NetworkNotAllowed | CoreError::SsoRequired)) => refusal = e,
                other => return other,
            }
        }
        Err(refusal)
    }

    /// Creates a session for a user already proven (password checked, invitation spent).
    pub(crate) async fn start_session(
        &self,
        user: testvault_domain::UserId,
        org: OrgId,
        client: &ClientMeta,
        previous_session: Option<&str>,
        method: SignInMethod,
    ) -> Result<SignedIn, CoreError> {
        let ip = client.ip.as_str();
        let org_row = self
            .store()
            .get_org(org)
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        if !allowlist_allows(&org_row.ip_allowlist, ip) {
            return Err(CoreError::NetworkNotAllowed);
        }
        if org_row.sso_required && method != SignInMethod::Sso {
            let role = self.store().member_role(org, user).await?;
            if !role.as_ref().is_some_and(is_owner) {
                return Err(CoreError::SsoRequired);
            }
        }
        if let Some(old) = previous_session {
            self.store().delete_session(&TokenHash::of(old).0).await?;
        }
        let now = time::now();
        let token = SecretToken::generate()?;
        let ua: String = client.user_agent.chars().take(300).collect();

        let public_id = Uuid::new_v4();
        let email = self
            .store()
            .get_user(user)
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        let event = audit::by_user(
            org,
            user,
            &email,
            client,
            Change::new("auth.signed_in", "session", public_id),
        );
        self.store()
            .create_session(
                NewSession {
                    id_hash: &token.hash().0,
                    public_id,
                    user,
                    org,
                    now,
                    expires_at: now + org_row.policy.absolute_secs,
                    ip,
                    user_agent: &ua,
                    method: method.as_str(),
                },
                &event,
            )
            .await?;
        let (principal, waiting) = match self.authenticate_session(token.expose(), client).await {
            Ok(p) => (p, None),
            Err(e @ (CoreError::SecondFactorRequired | CoreError::EnrolmentRequired)) => (
                self.session_principal(token.expose(), client).await?.0,
                Some(e),
            ),
            Err(e) => return Err(e),
        };
        tracing::info!(user.id = %user, org.id = %org, "signed in");
        Ok(SignedIn {
            token,
            principal,
            max_age_secs: org_row.policy.absolute_secs,
            waiting,
        })
    }

    /// The principal behind a session cookie, if the session is live. Ends sessions that ran past
    /// their org's idle or absolute timeout (as configured now, not when they began).
    /// A session from an address outside the org's IP allowlist is refused (not ended: the
    /// member may come back through an allowed network).
    /// Refused with `SecondFactorRequired` while the session waits for its code, and with
    /// `EnrolmentRequired` while its org requires a second factor the member lacks.
    pub async fn authenticate_session(
        &self,
        cookie: &str,
        client: &ClientMeta,
    ) -> Result<Principal, CoreError> {
        let (principal, stage) = self.session_principal(cookie, client).await?;
        if stage == crate::second_factor::STAGE_SECOND_FACTOR {
            return Err(CoreError::SecondFactorRequired);
        }
        if stage == crate::second_factor::STAGE_ENROL {
            return Err(CoreError::EnrolmentRequired);
        }
        Ok(principal)
    }

    /// The principal behind a live session at whatever stage it is (`full`,
    /// `second_factor`, or `enrol` when the org requires a factor the member lacks): for the
    /// pages that finish a sign-in or set a factor up.
    pub async fn session_principal(
        &self,
        cookie: &str,
        client: &ClientMeta,
    ) -> Result<(Principal, String), CoreError> {
        const EXPIRED: CoreError =
            CoreError::Unauthenticated("your session has ended; sign in again");
        let hash = TokenHash::of(cookie);
        let s = self.store().session_auth(&hash.0).await?.ok_or(EXPIRED)?;
        let now = time::now();
        let absolute_end = s.expires_at.min(s.created_at + s.policy.absolute_secs);
        let idle_end = s.last_seen_at + s.policy.idle_secs;
        let Some(role) = s.role else {
            self.store().delete_session(&hash.0).await?;
            return Err(EXPIRED);
        };
        // A session that waits for its second factor lives minutes, not hours.
        let pending_end = if s.stage == crate::second_factor::STAGE_SECOND_FACTOR {
            s.created_at + crate::second_factor::PENDING_SECS
        } else {
            i64::MAX
        };
        if now >= absolute_end || now >= idle_end || now >= pending_end {
            self.store().delete_session(&hash.0).await?;
            return Err(EXPIRED);
        }
        if !allowlist_allows(&s.ip_allowlist, &client.ip) {
            return Err(CoreError::NetworkNotAllowed);
        }
        // Turning the policy on ends every other way in at the next request (owners keep
        // theirs, so a broken identity provider cannot lock the org out).
        if s.sso_required && SignInMethod::parse(&s.method) != SignInMethod::Sso && !is_owner(&role)
        {
            self.store().delete_session(&hash.0).await?;
            return Err(CoreError::SsoRequired);
        }
        if now - s.last_seen_at >= TOUCH_EVERY_SECS {
            self.store().touch_session(&hash.0, now).await?;
        }
        let access = self.access_of(s.org, s.user, &role).await?;
        let stage = if s.stage == crate::second_factor::STAGE_FULL
            && s.require_second_factor
            && !s.has_second_factor
        {
            crate::second_factor::STAGE_ENROL.to_string()
        } else {
            s.stage
        };
        Ok((
            Principal {
                user: s.user,
                email: s.email,
                display_name: s.display_name,
                org: s.org,
                org_name: s.org_name,
                role,
                access,
                credential: crate::principal::Credential::Session(s.public_id),
                client: client.clone(),
            },
            stage,
        ))
    }

    /// What a member may do right now: their role's permissions and their project grants.
    pub(crate) async fn access_of(
        &self,
        org: OrgId,
        user: UserId,
        role: &MemberRole,
    ) -> Result<Access, CoreError> {
        let grants = self.store().grants_of(org, user).await?;
        Ok(Access::new(role.permissions(), grants))
    }

    /// Ends the session behind this cookie (sign out). Unknown cookies are ignored.
    pub async fn sign_out(&self, cookie: &str) -> Result<(), CoreError> {
        self.store()
            .delete_session(&TokenHash::of(cookie).0)
            .await?;
        Ok(())
    }
}

impl Core {
    /// How many ways the user has to sign in: a password, each passkey, each linked identity.
    /// Removing the last one is refused (nobody could get back in).
    pub(crate) async fn ways_in(&self, user: UserId) -> Result<i64, CoreError> {
        let account = self
            .store()
            .get_user(user)
            .await?
            .ok_or(CoreError::NotFound("account"))?;
        Ok(i64::from(!account.password_hash.is_empty())
            + self.store().passkey_count(user).await?
            + self.store().sso_identity_count(user).await?)
    }
}

/// Owners are exempt from the single-sign-on requirement: someone must be able to mend a
/// broken connection.
fn is_owner(role: &MemberRole) -> bool {
    matches!(role, MemberRole::Builtin(testvault_domain::Role::Owner))
}

/// Whether the stored allowlist lets `ip` in. A list that no longer parses refuses everyone:
/// failing closed beats silently dropping a restriction.
pub(crate) fn allowlist_allows(stored: &str, ip: &str) -> bool {
    IpAllowlist::parse(stored).is_ok_and(|list| list.allows(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_after_free_failures_and_grow() {
        let mut s = ThrottleState::default();
        let now = 1_000_000;
        for _ in 0..5 {
            s = after_failure(s, now, 5);
            assert_eq!(s.locked_until, 0);
        }
        s = after_failure(s, now, 5);
        assert_eq!(s.locked_until, now + 2);
        s = after_failure(s, now, 5);
        assert_eq!(s.locked_until, now + 4);
        for _ in 0..30 {
            s = after_failure(s, now, 5);
        }
        assert_eq!(s.locked_until, now + MAX_LOCK_SECS);
    }

    #[test]
    fn a_stored_allowlist_that_no_longer_parses_refuses_everyone() {
        assert!(allowlist_allows("", "203.0.113.9"), "empty: no restriction");
        assert!(allowlist_allows("10.0.0.0/8", "10.1.2.3"));
        assert!(
            !allowlist_allows("10.0.0.0/8\nnot-a-range", "10.1.2.3"),
            "fails closed"
        );
    }

    #[test]
    fn old_failures_are_forgotten() {
        let s = ThrottleState {
            failures: 50,
            last_failure: 0,
            locked_until: 0,
        };
        assert_eq!(after_failure(s, FAILURE_MEMORY_SECS + 1, 5).failures, 1);
    }
}
