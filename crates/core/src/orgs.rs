//! Creating organisations: from the first-run setup link, or by the local operator (CLI).

use crate::audit::{self, Change};
use crate::{Core, CoreError};
use testvault_crypto::{DataKey, TokenHash};
use testvault_domain::{
    Email, NewPassword, OrgId, OrgName, PersonName, SessionPolicy, UserId, time,
};
use testvault_store::{NewOrg, NewUser, OwnerSpec};

/// Authority of whoever runs admin commands on this machine. They hold the master key and the
/// database already, so they may do anything; only the CLI makes one.
#[derive(Debug)]
pub struct Operator(());

impl Operator {
    /// For admin CLI commands only: bypasses permission checks by design.
    pub fn unsafe_local_admin() -> Self {
        Operator(())
    }
}

#[derive(Debug, Clone)]
pub struct CreatedOrg {
    pub org: OrgId,
    pub owner: UserId,
    /// False when the owner's account already existed and was reused.
    pub owner_is_new: bool,
}

/// The owner of a new org: who they are and, for a new account, their password.
pub(crate) struct OwnerInput {
    pub email: Email,
    pub display_name: Option<PersonName>,
    pub password: Option<NewPassword>,
}

impl Core {
    /// `testvault admin create-org`: an org with an owner (an existing account is reused).
    pub async fn create_org(
        &self,
        _op: &Operator,
        name: OrgName,
        owner_email: Email,
        display_name: Option<PersonName>,
        password: Option<NewPassword>,
    ) -> Result<CreatedOrg, CoreError> {
        let owner = OwnerInput {
            email: owner_email,
            display_name,
            password,
        };
        self.create_org_inner(name, owner, None, None).await
    }

    /// Whether an account exists for this email (the CLI asks for a password only when not).
    pub async fn account_exists(&self, _op: &Operator, email: &Email) -> Result<bool, CoreError> {
        Ok(self
            .store()
            .find_user_by_email(email.as_str())
            .await?
            .is_some())
    }

    pub(crate) async fn create_org_inner(
        &self,
        name: OrgName,
        owner: OwnerInput,
        setup_token: Option<&TokenHash>,
        // The first-run setup page's client; `None` for the local operator.
        client: Option<&crate::ClientMeta>,
    ) -> Result<CreatedOrg, CoreError> {
        let org = OrgId::new();
        let data_key = DataKey::generate()?;
        let master = self.keyring().master();
        let wrapped = master.wrap(&data_key, &org.to_string())?;
        let existing = self
            .store()
            .find_user_by_email(owner.email.as_str())
            .await?;
        let password_hash = match (&existing, owner.password) {
            (Some(_), _) => None,
            (None, Some(pw)) => Some(
                crate::blocking(move || testvault_crypto::password::hash(pw.expose())).await??,
            ),
            (None, None) => {
                return Err(testvault_domain::DomainError::new(
                    "password",
                    "is required to create a new account",
                )
                .into());
            }
        };
        let display_name = owner
            .display_name
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| default_display_name(&owner.email));
        let new_user_id = UserId::new();
        let owner_spec = match (&existing, &password_hash) {
            (Some(u), _) => OwnerSpec::Existing(u.id),
            (None, Some(hash)) => OwnerSpec::New(NewUser {
                id: new_user_id,
                email: owner.email.as_str(),
                display_name: &display_name,
                password_hash: hash,
            }),
            (None, None) => return Err(CoreError::internal("unreachable: no owner")),
        };
        let owner_id_for_event = match &owner_spec {
            OwnerSpec::Existing(id) => *id,
            OwnerSpec::New(u) => u.id,
        };
        let change = Change::new("org.created", "org", org)
            .after(serde_json::json!({ "name": name.as_str(), "owner": owner_id_for_event, "owner_email": owner.email.as_str() }));
        let event = match client {
            Some(c) => audit::by_user(org, owner_id_for_event, owner.email.as_str(), c, change),
            None => audit::by_operator(org, change),
        };
        let owner_id = self
            .store()
            .create_org(
                NewOrg {
                    id: org,
                    name: name.as_str(),
                    wrapped_key: &wrapped.0,
                    master_key_id: &master.id(),
                    policy: SessionPolicy::default(),
                    owner: owner_spec,
                    setup_token_hash: setup_token.map(|t| t.0.as_slice()),
                    now: time::now(),
                },
                &event,
            )
            .await?;
        tracing::info!(org.id = %org, user.id = %owner_id, "organisation created");
        Ok(CreatedOrg {
            org,
            owner: owner_id,
            owner_is_new: existing.is_none(),
        })
    }
}

/// `ada.lovelace@acme.test` → `ada.lovelace`: a start the person can change later.
pub(crate) fn default_display_name(email: &Email) -> String {
    email
        .as_str()
        .split('@')
        .next()
        .unwrap_or(email.as_str())
        .to_string()
}

/// An org the caller belongs to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub role: testvault_domain::MemberRole,
    /// True for the org this session acts in.
    pub current: bool,
}

impl Core {
    /// The orgs the caller belongs to (for the org switcher).
    pub async fn my_orgs(&self, p: &crate::Principal) -> Result<Vec<OrgView>, CoreError> {
        Ok(self
            .store()
            .orgs_of_user(p.user)
            .await?
            .into_iter()
            .map(|o| OrgView {
                current: o.id == p.org,
                id: o.id,
                name: o.name,
                role: o.role,
            })
            .collect())
    }

    /// Moves the caller to another org they belong to: a new session there, this one ended.
    pub async fn switch_org(
        &self,
        p: &crate::Principal,
        org: OrgId,
        client: &crate::ClientMeta,
        current_cookie: &str,
    ) -> Result<crate::SignedIn, CoreError> {
        if self.store().member_role(org, p.user).await?.is_none() {
            return Err(CoreError::NotFound("organisation"));
        }
        // The new session was signed in the way this one was — except single sign-on, which
        // was another org's provider: an org that requires single sign-on wants its own.
        let method =
            self.store()
                .session_auth(&testvault_crypto::TokenHash::of(current_cookie).0)
                .await?
                .map_or(crate::auth::SignInMethod::Password, |s| {
                    match crate::auth::SignInMethod::parse(&s.method) {
                        crate::auth::SignInMethod::Sso => crate::auth::SignInMethod::Password,
                        other => other,
                    }
                });
        self.start_session(p.user, org, client, Some(current_cookie), method)
            .await
    }
}
