//! Organisations (tenants), their wrapped data keys and security settings.

use crate::db::{on_db, on_org};
use crate::{NewUser, Store, StoreError};
use sqlx::Row;
use testvault_domain::{MemberRole, OrgId, Role, SessionPolicy, UserId};

/// A new org with its wrapped data key and its first owner.
pub struct NewOrg<'a> {
    pub id: OrgId,
    pub name: &'a str,
    pub wrapped_key: &'a [u8],
    pub master_key_id: &'a str,
    pub policy: SessionPolicy,
    /// The owner: an existing user, or one to create in the same transaction.
    pub owner: OwnerSpec<'a>,
    /// The one-time setup link being spent, if this org comes from first-run setup.
    pub setup_token_hash: Option<&'a [u8]>,
    pub now: i64,
}

pub enum OwnerSpec<'a> {
    Existing(UserId),
    New(NewUser<'a>),
}

#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub policy: SessionPolicy,
    /// CIDR ranges, one per line; empty means no restriction.
    pub ip_allowlist: String,
    /// Audit events older than this are purged by the retention job.
    pub audit_retention_days: i64,
    /// Members must have a second factor before anything else works.
    pub require_second_factor: bool,
    /// Members other than owners sign in only through single sign-on.
    pub sso_required: bool,
    pub created_at: i64,
}

/// An org as a member sees it in a list: with the member's role.
#[derive(Debug, Clone)]
pub struct OrgSummary {
    pub id: OrgId,
    pub name: String,
    pub role: MemberRole,
}

/// Decodes an `orgs` row; a macro so it compiles for either backend's row type.
macro_rules! org_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(OrgRow {
            id: OrgId(row.try_get("id")?),
            name: row.try_get("name")?,
            policy: SessionPolicy {
                idle_secs: row.try_get("idle_timeout_secs")?,
                absolute_secs: row.try_get("absolute_timeout_secs")?,
            },
            ip_allowlist: row.try_get("ip_allowlist")?,
            audit_retention_days: i64::from(row.try_get::<i32, _>("audit_retention_days")?),
            require_second_factor: row.try_get("require_second_factor")?,
            sso_required: row.try_get("sso_required")?,
            created_at: row.try_get("created_at")?,
        })
    }};
}

impl Store {
    /// Creates the org, its key, its owner (if new) and the owner's membership in one transaction.
    /// With `setup_token_hash`, also spends that setup link; a spent or expired link stores nothing.
    /// Returns the owner's user id.
    pub async fn create_org(
        &self,
        new: NewOrg<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<UserId, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, new.id, pool => {
            let mut tx = pool.begin().await?;
            if let Some(hash) = new.setup_token_hash {
                let spent = sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
                    .bind(hash)
                    .bind(new.now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if spent == 0 {
                    return Err(StoreError::Stale("the setup link has been used or has expired"));
                }
            }
            sqlx::query("INSERT INTO orgs (id, name, name_key, idle_timeout_secs, absolute_timeout_secs, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(new.id.0)
                .bind(new.name)
                .bind(new.name.to_lowercase())
                .bind(new.policy.idle_secs)
                .bind(new.policy.absolute_secs)
                .bind(new.now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "an organisation with this name"))?;
            sqlx::query("INSERT INTO org_keys (org_id, wrapped_key, master_key_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(new.id.0)
                .bind(new.wrapped_key)
                .bind(new.master_key_id)
                .bind(new.now)
                .execute(&mut *tx)
                .await?;
            let owner_id = match &new.owner {
                OwnerSpec::Existing(id) => *id,
                OwnerSpec::New(user) => crate::users::insert_user!(tx, user, new.now),
            };
            sqlx::query("INSERT INTO members (org_id, user_id, role_level, created_at) VALUES ($1, $2, $3, $4)")
                .bind(new.id.0)
                .bind(owner_id.0)
                .bind(i32::from(Role::Owner.level()))
                .bind(new.now)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(owner_id)
        })
    }

    pub async fn count_orgs(&self) -> Result<i64, StoreError> {
        let n: i64 = on_db!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM orgs").fetch_one(pool).await)?;
        Ok(n)
    }

    pub async fn find_org_by_name(&self, name: &str) -> Result<Option<OrgRow>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT id, name, idle_timeout_secs, absolute_timeout_secs, ip_allowlist, audit_retention_days, require_second_factor, sso_required, created_at FROM orgs WHERE name_key = $1")
                .bind(name.trim().to_lowercase())
                .fetch_optional(pool)
                .await?;
            row.map(|r| org_from_row!(r)).transpose()
        })
    }

    pub async fn get_org(&self, org: OrgId) -> Result<Option<OrgRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT id, name, idle_timeout_secs, absolute_timeout_secs, ip_allowlist, audit_retention_days, require_second_factor, sso_required, created_at FROM orgs WHERE id = $1")
                .bind(org.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| org_from_row!(r)).transpose()
        })
    }

    /// The orgs a user belongs to, oldest membership first.
    pub async fn orgs_of_user(&self, user: UserId) -> Result<Vec<OrgSummary>, StoreError> {
        on_db!(self, pool => {
            let rows = sqlx::query("SELECT o.id, o.name, m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions FROM members m JOIN orgs o ON o.id = m.org_id LEFT JOIN org_roles cr ON cr.id = m.custom_role_id WHERE m.user_id = $1 ORDER BY m.created_at, o.name")
                .bind(user.0)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(OrgSummary {
                        id: OrgId(r.try_get("id")?),
                        name: r.try_get("name")?,
                        role: crate::rows::member_role_from_row!(r)?
                            .ok_or_else(|| StoreError::Corrupt("member without a role".into()))?,
                    })
                })
                .collect()
        })
    }

    /// The org's data key as wrapped by the master key, and that master key's id.
    pub async fn wrapped_org_key(
        &self,
        org: OrgId,
    ) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT wrapped_key, master_key_id FROM org_keys WHERE org_id = $1")
                .bind(org.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| Ok((r.try_get("wrapped_key")?, r.try_get("master_key_id")?))).transpose()
        })
    }

    pub async fn set_session_policy(
        &self,
        org: OrgId,
        policy: SessionPolicy,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE orgs SET idle_timeout_secs = $1, absolute_timeout_secs = $2 WHERE id = $3")
                .bind(policy.idle_secs)
                .bind(policy.absolute_secs)
                .bind(org.0)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn set_audit_retention(
        &self,
        org: OrgId,
        days: i64,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let days = i32::try_from(days).map_err(|_| StoreError::Corrupt("retention days".into()))?;
        crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("UPDATE orgs SET audit_retention_days = $1 WHERE id = $2")
                .bind(days)
                .bind(org.0)
        );
        Ok(())
    }

    /// Every org's id (for background jobs that visit each org in its own scope).
    pub async fn all_org_ids(&self) -> Result<Vec<OrgId>, StoreError> {
        let ids: Vec<uuid::Uuid> = on_db!(self, pool => sqlx::query_scalar("SELECT id FROM orgs ORDER BY created_at")
            .fetch_all(pool)
            .await)?;
        Ok(ids.into_iter().map(OrgId).collect())
    }

    pub async fn set_require_second_factor(
        &self,
        org: OrgId,
        required: bool,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE orgs SET require_second_factor = $1 WHERE id = $2")
                .bind(required)
                .bind(org.0)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn set_sso_required(
        &self,
        org: OrgId,
        required: bool,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("UPDATE orgs SET sso_required = $1 WHERE id = $2")
                .bind(required)
                .bind(org.0)
        );
        Ok(())
    }

    pub async fn set_ip_allowlist(
        &self,
        org: OrgId,
        ranges: &str,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE orgs SET ip_allowlist = $1 WHERE id = $2")
                .bind(ranges)
                .bind(org.0)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }
}
