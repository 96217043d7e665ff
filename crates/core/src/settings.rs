//! Members and the org's security settings.

use crate::audit::{self, Change};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use serde_json::json;
use testvault_domain::{
    AuditRetention, DomainError, IpAllowlist, Permission, SessionPolicy, UserId, time,
};

/// What the Security page and `GET /api/v1/org/security` show.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub policy: SessionPolicy,
    pub ip_allowlist: IpAllowlist,
    pub audit_retention: AuditRetention,
    /// Members must have a second factor before anything else works.
    pub require_second_factor: bool,
    /// Members other than owners sign in only through single sign-on.
    pub sso_required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub role: testvault_domain::MemberRole,
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

    /// The org's security settings, read once: session lifetimes, IP allowlist, audit retention.
    pub async fn security_settings(
        &self,
        allowed: Allowed<'_>,
    ) -> Result<SecuritySettings, CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let org = self
            .store()
            .get_org(p.org)
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let stored = |e: testvault_domain::DomainError| CoreError::internal(e.to_string());
        Ok(SecuritySettings {
            policy: org.policy,
            ip_allowlist: IpAllowlist::parse(&org.ip_allowlist).map_err(stored)?,
            audit_retention: AuditRetention::parse(org.audit_retention_days).map_err(stored)?,
            require_second_factor: org.require_second_factor,
            sso_required: org.sso_required,
        })
    }

    /// Takes effect on every session's next request, existing sessions included.
    pub async fn set_session_policy(
        &self,
        allowed: Allowed<'_>,
        policy: SessionPolicy,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let before = self.store().get_org(p.org).await?.map(|o| o.policy);
        let event = audit::by(
            p,
            Change::new("security.session_policy_changed", "org", p.org)
                .before(json!(before))
                .after(json!(policy)),
        );
        self.store()
            .set_session_policy(p.org, policy, &event)
            .await?;
        tracing::info!(org.id = %p.org, idle_secs = policy.idle_secs, absolute_secs = policy.absolute_secs, "session policy changed");
        Ok(())
    }
}

impl Core {
    /// The retention job purges events older than this from its next run on.
    pub async fn set_audit_retention(
        &self,
        allowed: Allowed<'_>,
        retention: AuditRetention,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        let before = self
            .store()
            .get_org(p.org)
            .await?
            .map(|o| o.audit_retention_days);
        let event = audit::by(
            p,
            Change::new("security.audit_retention_changed", "org", p.org)
                .before(json!({ "days": before }))
                .after(json!({ "days": retention.days() })),
        );
        self.store()
            .set_audit_retention(p.org, retention.days(), &event)
            .await?;
        Ok(())
    }

    /// Restricts sign-in, sessions and tokens to `list` (empty lifts the restriction). A list that
    /// shuts out the caller's own address is saved only with `confirmed`, so nobody locks
    /// themselves out by a typo.
    pub async fn set_ip_allowlist(
        &self,
        allowed: Allowed<'_>,
        list: IpAllowlist,
        caller_ip: &str,
        confirmed: bool,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManageSecurity)?;
        if !list.allows(caller_ip) && !confirmed {
            return Err(DomainError::new(
                "ip_allowlist",
                format!(
                    "this list shuts out your current address {caller_ip}; confirm to save it anyway"
                ),
            )
            .into());
        }
        let before = self.store().get_org(p.org).await?.map(|o| o.ip_allowlist);
        let event = audit::by(
            p,
            Change::new("security.ip_allowlist_changed", "org", p.org)
                .before(json!(before.map(|b| {
                    IpAllowlist::parse(&b)
                        .map(|l| l.ranges())
                        .unwrap_or_default()
                })))
                .after(json!(list.ranges())),
        );
        self.store()
            .set_ip_allowlist(p.org, &list.to_storage(), &event)
            .await?;
        tracing::info!(org.id = %p.org, ranges = list.ranges().len(), "IP allowlist changed");
        Ok(())
    }

    /// `testvault admin clear-ip-allowlist`: the way back in after a lock-out.
    pub async fn clear_ip_allowlist_as_operator(
        &self,
        _op: &crate::Operator,
        org: &testvault_domain::OrgName,
    ) -> Result<(), CoreError> {
        let row = self
            .store()
            .find_org_by_name(org.as_str())
            .await?
            .ok_or(CoreError::NotFound("organisation"))?;
        let event = audit::by_operator(
            row.id,
            Change::new("security.ip_allowlist_changed", "org", row.id)
                .before(json!(
                    IpAllowlist::parse(&row.ip_allowlist)
                        .map(|l| l.ranges())
                        .unwrap_or_default()
                ))
                .after(json!([])),
        );
        self.store().set_ip_allowlist(row.id, "", &event).await?;
        Ok(())
    }
}
