//! Members and the org's security settings.

use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::{Permission, Role, SessionPolicy, UserId, time};

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub joined_at: i64,
    pub active_sessions: i64,
}

impl Core {
    pub async fn members(&self, allowed: Allowed<'_>) -> Result<Vec<MemberView>, CoreError> {
        let p = allowed.require(Permission::ManageMembers)?;
        Ok(self
            .store()
            .list_members(p.org, time::now())
            .await?
            .into_iter()
            .map(|m| MemberView {
                user: m.user_id,
                email: m.email,
                display_name: m.display_name,
                role: m.role,
                joined_at: m.joined_at,
                active_sessions: m.active_sessions,
            })
            .collect())
    }

    pub async fn session_policy(&self, allowed: Allowed<'_>) -> Result<SessionPolicy, CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let org = self
            .store()
            .get_org(p.org)
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        Ok(org.policy)
    }

    /// Takes effect on every session's next request, existing sessions included.
    pub async fn set_session_policy(
        &self,
        allowed: Allowed<'_>,
        policy: SessionPolicy,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        self.store().set_session_policy(p.org, policy).await?;
        tracing::info!(org.id = %p.org, idle_secs = policy.idle_secs, absolute_secs = policy.absolute_secs, "session policy changed");
        Ok(())
    }
}
