//! Seeing and ending sessions: everyone their own; owners anyone's in their org.

use crate::audit::{self, Change};
use crate::{Allowed, Core, CoreError, Principal};
use serde::Serialize;
use testvault_domain::{Permission, UserId, time};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    pub user: UserId,
    pub user_email: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
    /// True for the session making this request.
    pub current: bool,
}

impl Core {
    fn session_views(p: &Principal, rows: Vec<testvault_store::SessionRow>) -> Vec<SessionView> {
        rows.into_iter()
            .map(|s| SessionView {
                current: Some(s.public_id) == p.session(),
                id: s.public_id,
                user: s.user,
                user_email: s.user_email,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect()
    }

    /// The caller's own live sessions in this org. Needs no permission: it is their own data.
    pub async fn my_sessions(&self, p: &Principal) -> Result<Vec<SessionView>, CoreError> {
        p.require_session()?;
        let rows = self
            .store()
            .list_sessions(p.org, Some(p.user), time::now())
            .await?;
        Ok(Self::session_views(p, rows))
    }

    /// Ends one of the caller's own sessions.
    pub async fn revoke_my_session(&self, p: &Principal, id: Uuid) -> Result<(), CoreError> {
        p.require_session()?;
        let event = audit::by(p, Change::new("session.revoked", "session", id));
        if self
            .store()
            .revoke_session(p.org, id, Some(p.user), &event)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound("session"))
        }
    }

    /// Every live session in the org.
    pub async fn org_sessions(&self, allowed: Allowed<'_>) -> Result<Vec<SessionView>, CoreError> {
        let p = allowed.require(Permission::ManageSessions)?;
        let rows = self.store().list_sessions(p.org, None, time::now()).await?;
        Ok(Self::session_views(p, rows))
    }

    /// Ends any one session in the org.
    pub async fn revoke_org_session(
        &self,
        allowed: Allowed<'_>,
        id: Uuid,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSessions)?;
        let event = audit::by(p, Change::new("session.revoked", "session", id));
        if self.store().revoke_session(p.org, id, None, &event).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound("session"))
        }
    }

    /// Ends all of one member's sessions in the org. Returns how many ended.
    pub async fn revoke_member_sessions(
        &self,
        allowed: Allowed<'_>,
        user: UserId,
    ) -> Result<u64, CoreError> {
        let p = allowed.require(Permission::ManageSessions)?;
        // Someone outside this org is "not found", never "0 sessions ended".
        if self.store().member_role(p.org, user).await?.is_none() {
            return Err(CoreError::NotFound("member"));
        }
        let event = audit::by(p, Change::new("member.sessions_revoked", "user", user));
        let n = self
            .store()
            .revoke_user_sessions(p.org, user, &event)
            .await?;
        tracing::info!(org.id = %p.org, user.id = %user, sessions = n, "member sessions revoked");
        Ok(n)
    }

    /// Housekeeping for a background tick: forget sessions past their absolute lifetime, and
    /// sign-in links, single sign-on attempts, spent SAML assertions and passkey ceremonies that
    /// are spent or expired.
    pub async fn purge_expired_sessions(&self) -> Result<u64, CoreError> {
        let now = time::now();
        let links = self.store().delete_old_sign_in_links(now).await?
            + self.store().delete_expired_pow(now).await?
            + self.store().delete_old_sso_state(now).await?
            + self.store().delete_expired_ceremonies(now).await?;
        Ok(self.store().delete_expired_sessions(now).await? + links)
    }
}
