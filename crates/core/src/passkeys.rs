//! Passkeys (WebAuthn, by webauthn-rs): sign in without a password (a discoverable credential
//! with user verification proves both factors at once), or use one as the second factor after a
//! password. Each ceremony's challenge is kept server-side, in the database (any instance can
//! finish it), spent once, for five minutes. Adding or removing a passkey ends the user's other
//! sessions and is audited, like the TOTP factor.
//!
//! The relying party is the public URL's host. A loopback address cannot be one (WebAuthn wants
//! a domain), so a server whose public URL is `https://127.0.0.1:PORT` offers passkeys at
//! `https://localhost:PORT`.

use crate::audit::{self, Change, ClientMeta};
use crate::auth::SignInMethod;
use crate::{Core, CoreError, Principal, SignedIn};
use serde::Serialize;
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{DomainError, UserId, time};
use testvault_store::NewPasskey;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

/// How long a ceremony waits for the authenticator.
const CEREMONY_SECS: i64 = 5 * 60;
const MAX_PASSKEYS: usize = 20;
const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const SECOND_FACTOR: &str = "second_factor";

const CEREMONY_GONE: &str = "this passkey request expired or was used; try again";

/// A passkey as the account page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What the browser needs for one ceremony: its id (sent back with the answer) and the options
/// for `navigator.credentials.create()` / `.get()` (`publicKey`, base64url as JSON carries it).
#[derive(Debug, Serialize)]
pub struct Ceremony {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// The relying party for `public_url`, or why there is none.
pub(crate) fn relying_party(public_url: &str) -> Result<Webauthn, String> {
    let url = Url::parse(public_url).map_err(|e| format!("public URL: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_string();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let (rp_id, origin) = if loopback {
        let mut origin = url.clone();
        origin
            .set_host(Some("localhost"))
            .map_err(|e| format!("public URL: {e}"))?;
        ("localhost".to_string(), origin)
    } else if host.parse::<std::net::IpAddr>().is_ok() {
        return Err(
            "passkeys need the public URL to name the server by a domain name, not an IP address"
                .into(),
        );
    } else {
        (host, url)
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("Testvault").build())
        .map_err(|e| format!("passkeys: {e}"))
}

fn bad_credential(what: &str, e: impl std::fmt::Display) -> CoreError {
    tracing::info!(error = %e, "{what}");
    DomainError::new(
        "credential",
        format!("{what}: the passkey's answer was refused"),
    )
    .into()
}

fn json<T: Serialize>(value: &T) -> Result<String, CoreError> {
    serde_json::to_string(value).map_err(|e| CoreError::internal(format!("passkey JSON: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CoreError> {
    serde_json::from_str(text).map_err(|e| CoreError::internal(format!("stored passkey JSON: {e}")))
}

impl Core {
    /// Why this server offers no passkeys (its public URL is an IP address), if it does not.
    pub fn passkeys_unavailable(&self) -> Option<&'static str> {
        self.relying_party()
            .err()
            .map(|_| "Passkeys need this server's public URL to be a domain name (not an IP address); ask your administrator.")
    }

    fn webauthn(&self) -> Result<&Webauthn, CoreError> {
        match self.relying_party() {
            Ok(w) => Ok(w),
            Err(why) => {
                tracing::warn!("{why}");
                Err(CoreError::Unavailable(
                    "passkeys are not available on this server's address (it needs a domain name)",
                ))
            }
        }
    }

    async fn new_ceremony(
        &self,
        user: Option<UserId>,
        kind: &str,
        state: &str,
        options: serde_json::Value,
    ) -> Result<Ceremony, CoreError> {
        let id = SecretToken::generate()?;
        self.store()
            .create_ceremony(&id.hash().0, user, kind, state, time::now() + CEREMONY_SECS)
            .await?;
        Ok(Ceremony {
            ceremony: id.expose().to_string(),
            options,
        })
    }

    async fn spend_ceremony(
        &self,
        ceremony: &str,
        kind: &str,
    ) -> Result<(Option<UserId>, String), CoreError> {
        if ceremony.is_empty() || ceremony.len() > 128 {
            return Err(CoreError::Gone(CEREMONY_GONE));
        }
        self.store()
            .spend_ceremony(&TokenHash::of(ceremony).0, kind, time::now())
            .await?
            .ok_or(CoreError::Gone(CEREMONY_GONE))
    }

    /// The caller's passkeys.
    pub async fn passkeys(&self, p: &Principal) -> Result<Vec<PasskeyView>, CoreError> {
        p.require_session()?;
        Ok(self
            .store()
            .passkeys_of(p.user)
            .await?
            .into_iter()
            .map(|k| PasskeyView {
                id: k.id,
                name: k.name,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
            })
            .collect())
    }

    /// Begins adding a passkey to the caller's account (its own passkeys excluded, so one
    /// authenticator is not registered twice). The options ask for a discoverable credential
    /// and user verification: a passkey that can sign in alone.
    pub async fn start_passkey_registration(&self, p: &Principal) -> Result<Ceremony, CoreError> {
        p.require_session()?;
        let existing = self.store().passkeys_of(p.user).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(CoreError::Refused("at most 20 passkeys per account"));
        }
        let exclude = existing
            .iter()
            .map(|k| k.credential_id.clone())
            .collect::<Vec<_>>();
        let (mut ccr, state) = self
            .webauthn()?
            .start_passkey_registration(p.user.0, &p.email, &p.display_name, Some(exclude))
            .map_err(|e| CoreError::internal(format!("passkey registration: {e}")))?;
        // webauthn-rs asks for a non-resident key; a passkey that signs in without a username
        // must live on the authenticator. (What the authenticator stores cannot be verified;
        // it is asked for.)
        if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
            sel.require_resident_key = true;
            sel.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
        }
        let options = serde_json::to_value(&ccr.public_key)
            .map_err(|e| CoreError::internal(format!("passkey options: {e}")))?;
        self.new_ceremony(Some(p.user), REGISTER, &json(&state)?, options)
            .await
    }

    /// Finishes adding a passkey: the authenticator's answer checked against the ceremony
    /// (challenge, origin, user verification). Ends the caller's other sessions.
    pub async fn finish_passkey_registration(
        &self,
        p: &Principal,
        cookie: &str,
        ceremony: &str,
        name: &str,
        credential: serde_json::Value,
    ) -> Result<PasskeyView, CoreError> {
        p.require_session()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(DomainError::new("name", "1 to 60 characters").into());
        }
        let (user, state) = self.spend_ceremony(ceremony, REGISTER).await?;
        if user != Some(p.user) {
            return Err(CoreError::Gone(CEREMONY_GONE));
        }
        let state: PasskeyRegistration = parse(&state)?;
        let answer: RegisterPublicKeyCredential = serde_json::from_value(credential)
            .map_err(|e| bad_credential("a malformed registration", e))?;
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&answer, &state)
            .map_err(|e| bad_credential("a passkey registration failed", e))?;
        let id = Uuid::new_v4();
        let now = time::now();
        let event = audit::by(
            p,
            Change::new("auth.passkey_added", "user", p.user)
                .after(serde_json::json!({ "passkey": id, "name": name })),
        );
        self.store()
            .add_passkey(
                &NewPasskey {
                    id,
                    user: p.user,
                    credential_id: passkey.cred_id().as_ref(),
                    name,
                    credential: &json(&passkey)?,
                    now,
                },
                &event,
            )
            .await?;
        self.after_factor_change(p, cookie).await?;
        Ok(PasskeyView {
            id,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        })
    }

    /// Removes one of the caller's passkeys. Refused when it is their last way in, or their
    /// last second factor where the org requires one. Ends their other sessions.
    pub async fn delete_passkey(
        &self,
        p: &Principal,
        cookie: &str,
        id: Uuid,
    ) -> Result<(), CoreError> {
        p.require_session()?;
        let keys = self.store().passkeys_of(p.user).await?;
        if !keys.iter().any(|k| k.id == id) {
            return Err(CoreError::NotFound("passkey"));
        }
        let others = keys.len() - 1;
        if self.ways_in(p.user).await? <= 1 {
            return Err(CoreError::Refused(
                "this passkey is your only way to sign in",
            ));
        }
        let totp = self
            .store()
            .user_factor(p.user)
            .await?
            .is_some_and(|f| f.confirmed_at.is_some());
        let required = self
            .store()
            .get_org(p.org)
            .await?
            .is_some_and(|o| o.require_second_factor);
        if required && others == 0 && !totp {
            return Err(CoreError::Refused(
                "your organisation requires a second factor, and this passkey is your last",
            ));
        }
        let event = audit::by(
            p,
            Change::new("auth.passkey_removed", "user", p.user)
                .before(serde_json::json!({ "passkey": id })),
        );
        if !self.store().delete_passkey(p.user, id, &event).await? {
            return Err(CoreError::NotFound("passkey"));
        }
        self.after_factor_change(p, cookie).await
    }

    /// Begins a passwordless sign-in: any passkey of this site the authenticator holds.
    pub async fn start_passkey_sign_in(&self) -> Result<Ceremony, CoreError> {
        let (mut rcr, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| CoreError::internal(format!("passkey sign-in: {e}")))?;
        // A button press, not the autofill ("conditional") prompt webauthn-rs sets up.
        rcr.mediation = None;
        let options = serde_json::to_value(&rcr.public_key)
            .map_err(|e| CoreError::internal(format!("passkey options: {e}")))?;
        self.new_ceremony(None, SIGN_IN, &json(&state)?, options)
            .await
    }

    /// Finishes a passwordless sign-in: the passkey names its user, its signature is checked
    /// with the stored public key and a counter that must move forward, and a session begins
    /// that needs no second factor (the passkey verified the user on the device).
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony: &str,
        credential: serde_json::Value,
        client: &ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<SignedIn, CoreError> {
        let (_, state) = self.spend_ceremony(ceremony, SIGN_IN).await?;
        let state: DiscoverableAuthentication = parse(&state)?;
        let answer: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|e| bad_credential("a malformed passkey answer", e))?;
        let webauthn = self.webauthn()?;
        let refused = || CoreError::Unauthenticated("this passkey is not registered here");
        let (user, cred_id) = webauthn
            .identify_discoverable_authentication(&answer)
            .map_err(|_| refused())?;
        let user = UserId(user);
        let row = self
            .store()
            .passkeys_of(user)
            .await?
            .into_iter()
            .find(|k| k.credential_id == cred_id)
            .ok_or_else(refused)?;
        let mut passkey: Passkey = parse(&row.credential)?;
        let result = webauthn
            .finish_discoverable_authentication_v2(&answer, state, &passkey)
            .map_err(|e| {
                tracing::warn!(user.id = %user, error = %e, "passkey sign-in refused");
                CoreError::Unauthenticated("the passkey's answer was refused")
            })?;
        passkey.update_credential(&result);
        self.store()
            .passkey_used(row.id, &json(&passkey)?, time::now())
            .await?;
        self.start_session_anywhere(user, client, previous_session, SignInMethod::Passkey)
            .await
    }

    /// Begins the second factor of a password sign-in with one of the user's passkeys.
    pub async fn start_passkey_second_factor(
        &self,
        cookie: &str,
        client: &ClientMeta,
    ) -> Result<Ceremony, CoreError> {
        let (p, stage) = self.session_principal(cookie, client).await?;
        if stage != crate::second_factor::STAGE_SECOND_FACTOR {
            return Err(CoreError::Gone("this sign-in needs no second factor"));
        }
        let passkeys: Vec<Passkey> = self
            .store()
            .passkeys_of(p.user)
            .await?
            .iter()
            .map(|k| parse(&k.credential))
            .collect::<Result<_, _>>()?;
        if passkeys.is_empty() {
            return Err(CoreError::NotFound("passkey"));
        }
        let (rcr, state) = self
            .webauthn()?
            .start_passkey_authentication(&passkeys)
            .map_err(|e| CoreError::internal(format!("passkey second factor: {e}")))?;
        let options = serde_json::to_value(&rcr.public_key)
            .map_err(|e| CoreError::internal(format!("passkey options: {e}")))?;
        self.new_ceremony(Some(p.user), SECOND_FACTOR, &json(&state)?, options)
            .await
    }

    /// Finishes a password sign-in's second factor with a passkey.
    pub async fn finish_passkey_second_factor(
        &self,
        cookie: &str,
        client: &ClientMeta,
        ceremony: &str,
        credential: serde_json::Value,
    ) -> Result<SignedIn, CoreError> {
        let (p, stage) = self.session_principal(cookie, client).await?;
        if stage != crate::second_factor::STAGE_SECOND_FACTOR {
            return Err(CoreError::Gone("this sign-in needs no second factor"));
        }
        let (user, state) = self.spend_ceremony(ceremony, SECOND_FACTOR).await?;
        if user != Some(p.user) {
            return Err(CoreError::Gone(CEREMONY_GONE));
        }
        let state: PasskeyAuthentication = parse(&state)?;
        let answer: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|e| bad_credential("a malformed passkey answer", e))?;
        let result = self
            .webauthn()?
            .finish_passkey_authentication(&answer, &state)
            .map_err(|e| bad_credential("a passkey check failed", e))?;
        let row = self
            .store()
            .passkeys_of(p.user)
            .await?
            .into_iter()
            .find(|k| k.credential_id.as_slice() == AsRef::<[u8]>::as_ref(result.cred_id()))
            .ok_or(CoreError::NotFound("passkey"))?;
        let mut passkey: Passkey = parse(&row.credential)?;
        passkey.update_credential(&result);
        self.store()
            .passkey_used(row.id, &json(&passkey)?, time::now())
            .await?;
        self.second_factor_passed(&p, cookie, client, "passkey")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_offer_passkeys_at_localhost() {
        assert!(relying_party("https://127.0.0.1:8443").is_ok());
        assert!(relying_party("https://[::1]:8443").is_ok());
        assert!(relying_party("https://testvault.example.com").is_ok());
        assert!(relying_party("https://10.0.0.5:8443").is_err());
    }
}
