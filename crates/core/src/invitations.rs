//! Inviting people: a single-use link valid for 7 days, stored hashed. With no mail server the
//! link is shown to the inviter and written to the log.

use crate::audit::{self, Change, ClientMeta};
use crate::orgs::default_display_name;
use crate::{Allowed, Core, CoreError, SignedIn};
use serde::Serialize;
use serde_json::json;
use testvault_crypto::{SecretToken, TokenHash};
use testvault_domain::{
    DomainError, Email, InvitationId, NewPassword, Permission, PersonName, Role, UserId, time,
};
use testvault_store::{NewInvitation, NewUser, OwnerSpec};

/// A new invitation. When it was emailed, `link` is `None`: only the invitee gets the secret.
/// Without a mail server, `link` carries it, shown once to the inviter.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedInvitation {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
    pub emailed: bool,
    pub link: Option<String>,
}

/// A pending invitation as the members page lists it (no secret).
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What the invitation page shows to whoever opens the link.
#[derive(Debug, Clone)]
pub struct InvitationInfo {
    pub id: InvitationId,
    pub org: testvault_domain::OrgId,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    /// True when an account with this email exists: they confirm with their password.
    pub account_exists: bool,
}

impl Core {
    pub async fn invite_member(
        &self,
        allowed: Allowed<'_>,
        email: Email,
        role: Role,
    ) -> Result<IssuedInvitation, CoreError> {
        let p = allowed.require(Permission::ManageMembers)?;
        testvault_domain::access::check_assignment(&p.access, None, role.permissions()).map_err(
            |r| {
                DomainError::new(
                    "role",
                    format!("cannot be beyond your own role: {}", r.message()),
                )
            },
        )?;
        if crate::disposable::is_disposable(email.as_str()) {
            return Err(DomainError::new(
                "email",
                "is at a disposable email service; invite an address the person keeps",
            )
            .into());
        }
        if let Some(user) = self.store().find_user_by_email(email.as_str()).await?
            && self.store().member_role(p.org, user.id).await?.is_some()
        {
            return Err(CoreError::Conflict("a member with this email"));
        }
        let token = SecretToken::generate()?;
        let now = time::now();
        let id = InvitationId::new();
        let expires_at = now + self.settings().invitation_ttl_secs;
        let event = audit::by(
            p,
            Change::new("invitation.created", "invitation", id).after(
                json!({ "email": email.as_str(), "role": role.name(), "expires_at": expires_at }),
            ),
        );
        self.store()
            .create_invitation(
                NewInvitation {
                    id,
                    org: p.org,
                    email: email.as_str(),
                    role,
                    token_hash: &token.hash().0,
                    invited_by: p.user,
                    now,
                    expires_at,
                },
                &event,
            )
            .await?;
        let link = self.link(&format!("/invite/{}", token.expose()));
        let issued = IssuedInvitation {
            id,
            email: email.as_str().to_string(),
            role,
            expires_at,
            emailed: self.mailer().is_some(),
            link: None,
        };
        let Some(mailer) = self.mailer() else {
            // No mail server: the inviter and the log are the delivery channel (see README).
            tracing::info!(org.id = %p.org, invitation.id = %id, invitation.link = %link, "invitation created; no mail server configured, deliver this link to the invitee");
            return Ok(IssuedInvitation {
                link: Some(link),
                ..issued
            });
        };
        let message = crate::mail::Message {
            to: email.as_str().to_string(),
            subject: format!("You are invited to join {} on Testvault", p.org_name),
            body: format!(
                "{inviter} ({inviter_email}) invited you to join {org} on Testvault as {role}.\n\n\
                 Accept the invitation:\n{link}\n\n\
                 The link works once and expires on {expires}. If you did not expect this \
                 invitation, ignore this email.\n",
                inviter = p.display_name,
                inviter_email = p.email,
                org = p.org_name,
                expires = time::format_utc(expires_at),
            ),
        };
        if let Err(e) = mailer.send(message).await {
            // Nothing half-done: an invitation nobody received is cancelled again.
            tracing::warn!(invitation.id = %id, error = %e, "sending the invitation failed");
            let event = audit::by(
                p,
                Change::new("invitation.cancelled_undeliverable", "invitation", id),
            );
            self.store()
                .revoke_invitation(p.org, id, time::now(), &event)
                .await?;
            return Err(CoreError::Unavailable(
                "the mail server did not accept the invitation; nothing was sent and no invitation was created",
            ));
        }
        tracing::info!(org.id = %p.org, invitation.id = %id, "invitation emailed");
        Ok(issued)
    }

    pub async fn pending_invitations(
        &self,
        allowed: Allowed<'_>,
    ) -> Result<Vec<InvitationView>, CoreError> {
        let p = allowed.require(Permission::ManageMembers)?;
        let rows = self.store().pending_invitations(p.org, time::now()).await?;
        Ok(rows
            .into_iter()
            .map(|r| InvitationView {
                id: r.id,
                email: r.email,
                role: r.role,
                invited_by: r.invited_by_name,
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
            .collect())
    }

    pub async fn revoke_invitation(
        &self,
        allowed: Allowed<'_>,
        id: InvitationId,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageMembers)?;
        let event = audit::by(p, Change::new("invitation.revoked", "invitation", id));
        if self
            .store()
            .revoke_invitation(p.org, id, time::now(), &event)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound("pending invitation"))
        }
    }

    /// What an invitation link is for, if it is still valid.
    pub async fn invitation_info(&self, token: &str) -> Result<InvitationInfo, CoreError> {
        let inv = self
            .store()
            .find_invitation(&TokenHash::of(token).0)
            .await?
            .ok_or(CoreError::NotFound("invitation"))?;
        if !inv.is_pending(time::now()) {
            return Err(CoreError::Gone(
                "this invitation has been used, cancelled or has expired",
            ));
        }
        let account_exists = self.store().find_user_by_email(&inv.email).await?.is_some();
        Ok(InvitationInfo {
            id: inv.id,
            org: inv.org,
            org_name: inv.org_name,
            email: inv.email,
            role: inv.role,
            account_exists,
        })
    }

    /// Spends the invitation and signs the invitee in to the org. A new account is created with
    /// `display_name` and `password`; an existing account proves itself with its password.
    pub async fn accept_invitation(
        &self,
        token: &str,
        display_name: Option<&str>,
        password: &str,
        client: &ClientMeta,
        previous_session: Option<&str>,
    ) -> Result<SignedIn, CoreError> {
        let info = self.invitation_info(token).await?;
        let hash = TokenHash::of(token);
        let existing = self.store().find_user_by_email(&info.email).await?;
        let now = time::now();
        let (org, user) = match existing {
            Some(user) => {
                // Same throttle as sign-in: an invitation link is no way around it.
                let email = Email::parse(&user.email)?;
                let user = match self
                    .verify_password_throttled(&email, password, client)
                    .await
                {
                    Err(CoreError::Unauthenticated(_)) => {
                        return Err(DomainError::new(
                            "password",
                            "is not the password of this account",
                        )
                        .into());
                    }
                    other => other?,
                };
                let event = accepted(&info, user.id, &user.email, client);
                self.store()
                    .accept_invitation(&hash.0, OwnerSpec::Existing(user.id), now, &event)
                    .await?
            }
            None => {
                let email = Email::parse(&info.email)?;
                let name = match display_name.map(str::trim).filter(|n| !n.is_empty()) {
                    Some(n) => PersonName::parse(n)?.as_str().to_string(),
                    None => default_display_name(&email),
                };
                let pw = NewPassword::parse(password)?;
                let hashed = crate::blocking(move || testvault_crypto::password::hash(pw.expose()))
                    .await??;
                let id = UserId::new();
                let event = accepted(&info, id, email.as_str(), client);
                self.store()
                    .accept_invitation(
                        &hash.0,
                        OwnerSpec::New(NewUser {
                            id,
                            email: email.as_str(),
                            display_name: &name,
                            password_hash: &hashed,
                        }),
                        now,
                        &event,
                    )
                    .await?
            }
        };
        tracing::info!(org.id = %org, user.id = %user, "invitation accepted");
        self.start_session(
            user,
            org,
            client,
            previous_session,
            crate::auth::SignInMethod::Password,
        )
        .await
    }
}

fn accepted(
    info: &InvitationInfo,
    user: UserId,
    email: &str,
    client: &ClientMeta,
) -> testvault_store::AuditEntry {
    audit::by_user(
        info.org,
        user,
        email,
        client,
        Change::new("invitation.accepted", "invitation", info.id)
            .after(json!({ "user": user, "email": email, "role": info.role.name() })),
    )
}
