//! Single sign-on: an org's connections to identity providers (OpenID Connect, SAML 2.0), and
//! what happens when one vouches for somebody.
//!
//! The rules every protocol shares live here: a federated identity is the provider's issuer
//! and subject within one org (another org's connection naming the same issuer — its owner's
//! unverified choice — never reaches it), never an email address, so an account is joined to a
//! provider only by someone signed in to it; a first sign-in makes the person a member with the least role (just in time);
//! a connection may accept only some email domains; an org may require single sign-on of its
//! members (owners excepted, so a broken provider cannot lock everyone out).

mod connections;
pub(crate) mod oidc;
#[cfg(feature = "saml")]
pub(crate) mod saml;

pub use connections::{ConnectionInput, ConnectionView, SamlSettings, SsoChoice, SsoIdentityView};
pub use oidc::OidcCallback;

use crate::audit::{self, Change, ClientMeta};
use crate::auth::SignInMethod;
use crate::{Core, CoreError, SignedIn};
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{Email, OrgId, PersonName, UserId, time};
use testvault_store::{NewSsoFlow, NewSsoIdentity, NewUser, OwnerSpec, SsoConnectionRow};
use uuid::Uuid;

/// How long a sign-in may stay at the provider.
const FLOW_TTL_SECS: i64 = 10 * 60;
/// The role a member joining through single sign-on gets: the least one.
const JIT_ROLE_LEVEL: i32 = 1;

const FLOW_GONE: &str = "this single sign-on attempt expired, was already used, or was started in another browser; start again";

/// Who a provider vouched for, after its answer was verified.
#[derive(Debug, Clone)]
pub(crate) struct Federated {
    /// The provider's issuer (OpenID Connect `iss`; SAML IdP entity id).
    pub issuer: String,
    /// Its stable id for the person (`sub`; SAML `NameID`).
    pub subject: String,
    pub email: Option<String>,
    /// The provider says it checked the address.
    pub email_verified: bool,
    pub name: Option<String>,
    /// Google Workspace's `hd`: the domain the account is managed by.
    pub hosted_domain: Option<String>,
}

/// What a finished single sign-on did.
pub enum SsoOutcome {
    /// A session began (or waits for the second factor).
    SignedIn(Box<SignedIn>),
    /// The provider's identity was added to the signed-in user's account.
    Linked,
}

/// A fresh random value for the cookie that binds a sign-in to the browser that began it.
pub fn browser_nonce() -> Result<String, CoreError> {
    Ok(SecretToken::generate()?.expose().to_string())
}

impl Core {
    /// Begins signing in through `connection` (or, with `link`, linking it to that signed-in
    /// user's account; only a connection of the org they are signed in to) in the browser
    /// holding `browser`: where to send the browser.
    pub async fn start_sso(
        &self,
        connection: Uuid,
        browser: &str,
        link: Option<(UserId, OrgId)>,
    ) -> Result<String, CoreError> {
        if browser.len() < 32 {
            return Err(CoreError::Gone(FLOW_GONE));
        }
        let conn = self.live_connection(connection).await?;
        if link.is_some_and(|(_, org)| org != conn.org) {
            return Err(CoreError::NotFound("single sign-on connection"));
        }
        let link_user = link.map(|(user, _)| user);
        let state = SecretToken::generate()?;
        let nonce = SecretToken::generate()?;
        let now = time::now();
        let (redirect, nonce_kept, verifier) = match conn.protocol.as_str() {
            "oidc" => {
                let verifier = SecretToken::generate()?;
                let url = self
                    .oidc_authorization_url(
                        &conn,
                        state.expose(),
                        nonce.expose(),
                        verifier.expose(),
                    )
                    .await?;
                (
                    url,
                    nonce.expose().to_string(),
                    verifier.expose().to_string(),
                )
            }
            #[cfg(feature = "saml")]
            "saml" => {
                let (url, request_id) = self.saml_authn_request(&conn, state.expose())?;
                (url, request_id, String::new())
            }
            _ => return Err(CoreError::NotFound("single sign-on connection")),
        };
        self.store()
            .create_sso_flow(&NewSsoFlow {
                state_hash: &state.hash().0,
                connection: conn.id,
                browser_hash: &TokenHash::of(browser).0,
                nonce: &nonce_kept,
                verifier: &verifier,
                link_user,
                now,
                expires_at: now + FLOW_TTL_SECS,
            })
            .await?;
        Ok(redirect)
    }

    /// An enabled connection, whatever its org (a sign-in begins before anyone is known).
    async fn live_connection(&self, id: Uuid) -> Result<SsoConnectionRow, CoreError> {
        self.store()
            .find_sso_connection(id)
            .await?
            .filter(|c| c.enabled)
            .ok_or(CoreError::NotFound("single sign-on connection"))
    }

    /// Spends the flow that `state` names, in the browser that began it.
    async fn spend_flow(
        &self,
        state: &str,
        browser: &str,
    ) -> Result<(testvault_store::SsoFlowRow, SsoConnectionRow), CoreError> {
        if state.is_empty() || state.len() > 256 || browser.is_empty() {
            return Err(CoreError::Gone(FLOW_GONE));
        }
        let flow = self
            .store()
            .spend_sso_flow(
                &TokenHash::of(state).0,
                &TokenHash::of(browser).0,
                time::now(),
            )
            .await?
            .ok_or(CoreError::Gone(FLOW_GONE))?;
        let conn = self.live_connection(flow.connection).await?;
        Ok((flow, conn))
    }

    /// The rules after a provider vouched for someone: the connection's domains, then linking,
    /// signing in a known identity, or a first sign-in that makes an account and a membership.
    pub(crate) async fn finish_federated(
        &self,
        conn: &SsoConnectionRow,
        who: Federated,
        link_user: Option<UserId>,
        client: &ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<SsoOutcome, CoreError> {
        let email = who
            .email
            .as_deref()
            .and_then(|e| Email::parse(e).ok())
            .filter(|_| who.email_verified);
        check_domains(conn, email.as_ref(), who.hosted_domain.as_deref())?;
        let now = time::now();
        let shown_email = email
            .as_ref()
            .map_or_else(String::new, |e| e.as_str().to_string());
        let shown_email = shown_email.as_str();
        let identity = NewSsoIdentity {
            org: conn.org,
            issuer: &who.issuer,
            subject: &who.subject,
            email: shown_email,
            now,
        };

        if let Some(user) = link_user {
            let account = self
                .store()
                .get_user(user)
                .await?
                .ok_or(CoreError::Gone(FLOW_GONE))?;
            let event = audit::by_user(
                conn.org,
                user,
                &account.email,
                client,
                Change::new("sso.identity_linked", "user", user).after(serde_json::json!({
                    "connection": conn.id, "issuer": who.issuer, "email": shown_email,
                })),
            );
            self.store()
                .link_sso_identity(user, &identity, &event)
                .await?;
            tracing::info!(user.id = %user, sso.connection = %conn.id, "single sign-on identity linked");
            return Ok(SsoOutcome::Linked);
        }

        let user = match self
            .store()
            .use_sso_identity(conn.org, &who.issuer, &who.subject, shown_email, now)
            .await?
        {
            Some(user) => {
                if self.store().member_role(conn.org, user).await?.is_none() {
                    let account = self.store().get_user(user).await?;
                    let label = account.map(|a| a.email).unwrap_or_default();
                    let event = audit::by_user(conn.org, user, &label, client, joined(conn, user));
                    self.store()
                        .join_through_sso(
                            conn.org,
                            OwnerSpec::Existing(user),
                            None,
                            JIT_ROLE_LEVEL,
                            now,
                            &event,
                        )
                        .await?;
                }
                user
            }
            None => {
                self.first_federated_sign_in(conn, &who, email, &identity, client)
                    .await?
            }
        };
        let signed = self
            .start_session(user, conn.org, client, previous_session, SignInMethod::Sso)
            .await?;
        Ok(SsoOutcome::SignedIn(Box::new(signed)))
    }

    /// Someone the provider vouches for, met for the first time: a new account and membership,
    /// unless their address already has an account (then they must link it themselves).
    async fn first_federated_sign_in(
        &self,
        conn: &SsoConnectionRow,
        who: &Federated,
        email: Option<Email>,
        identity: &NewSsoIdentity<'_>,
        client: &ClientMeta,
    ) -> Result<UserId, CoreError> {
        let email = email.ok_or_else(|| {
            CoreError::Federation(
                "the identity provider did not give a verified email address, which a new account needs".into(),
            )
        })?;
        if self
            .store()
            .find_user_by_email(email.as_str())
            .await?
            .is_some()
        {
            return Err(CoreError::Federation(format!(
                "an account with {} exists already. Sign in to it the usual way, then link “{}” on \
                 your account's Single sign-on page: accounts are never joined by email address alone",
                email.as_str(),
                conn.name
            )));
        }
        if conn.allowed_domains.trim().is_empty()
            && crate::disposable::is_disposable(email.as_str())
        {
            return Err(CoreError::Federation(
                "addresses at disposable email domains cannot join".into(),
            ));
        }
        let name = who
            .name
            .as_deref()
            .and_then(|n| PersonName::parse(n).ok())
            .or_else(|| {
                let local = email.as_str().split('@').next().unwrap_or_default();
                PersonName::parse(local).ok()
            })
            .ok_or_else(|| CoreError::internal("no display name for a new account"))?;
        let user = UserId(Uuid::new_v4());
        let event = audit::by_user(conn.org, user, email.as_str(), client, joined(conn, user));
        let (user, _) = self
            .store()
            .join_through_sso(
                conn.org,
                OwnerSpec::New(NewUser {
                    id: user,
                    email: email.as_str(),
                    display_name: name.as_str(),
                    // No password: this account signs in through its provider (or a passkey).
                    password_hash: "",
                }),
                Some(identity),
                JIT_ROLE_LEVEL,
                identity.now,
                &event,
            )
            .await?;
        tracing::info!(user.id = %user, sso.connection = %conn.id, "account made by single sign-on");
        Ok(user)
    }
}

fn joined(conn: &SsoConnectionRow, user: UserId) -> Change {
    Change::new("member.joined_through_sso", "user", user).after(serde_json::json!({
        "connection": conn.id, "role": JIT_ROLE_LEVEL,
    }))
}

/// A connection with allowed domains lets through only verified addresses in them (and, for
/// Google, only accounts its Workspace domain manages).
fn check_domains(
    conn: &SsoConnectionRow,
    email: Option<&Email>,
    hosted_domain: Option<&str>,
) -> Result<(), CoreError> {
    let domains: Vec<&str> = conn.allowed_domains.split_whitespace().collect();
    if domains.is_empty() {
        return Ok(());
    }
    let Some(email) = email else {
        return Err(CoreError::Federation(
            "this connection accepts only verified addresses in its domains, and the identity provider gave none".into(),
        ));
    };
    let domain = email.as_str().rsplit('@').next().unwrap_or_default();
    let hosted_ok = conn.preset != "google"
        || hosted_domain.is_some_and(|hd| domains.contains(&hd.to_ascii_lowercase().as_str()));
    if domains.contains(&domain) && hosted_ok {
        Ok(())
    } else {
        Err(CoreError::Federation(format!(
            "{} is not an address this organisation's single sign-on accepts",
            email.as_str()
        )))
    }
}
