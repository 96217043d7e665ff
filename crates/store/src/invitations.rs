//! Invitations to join an org: single use, expiring, stored by the hash of their link's token.

use crate::db::{on_db, on_org};
use crate::{OwnerSpec, Store, StoreError};
use sqlx::Row;
use testvault_domain::{InvitationId, OrgId, Role, UserId};

pub struct NewInvitation<'a> {
    pub id: InvitationId,
    pub org: OrgId,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a [u8],
    pub invited_by: UserId,
    pub now: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub org: OrgId,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by_name: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl InvitationRow {
    pub fn is_pending(&self, now: i64) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

const SELECT: &str = "SELECT i.id, i.org_id, o.name AS org_name, i.email, i.role_level, u.display_name AS invited_by_name, \
    i.created_at, i.expires_at, i.accepted_at, i.revoked_at \
    FROM invitations i JOIN orgs o ON o.id = i.org_id LEFT JOIN users u ON u.id = i.invited_by";

macro_rules! invitation_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(InvitationRow {
            id: InvitationId(row.try_get("id")?),
            org: OrgId(row.try_get("org_id")?),
            org_name: row.try_get("org_name")?,
            email: row.try_get("email")?,
            role: crate::rows::role(row.try_get("role_level")?)?,
            invited_by_name: row.try_get("invited_by_name")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            accepted_at: row.try_get("accepted_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }};
}

impl Store {
    /// Stores the invitation; an older pending invitation for the same address in the org is revoked.
    pub async fn create_invitation(
        &self,
        inv: NewInvitation<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, inv.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE org_id = $2 AND email = $3 AND accepted_at IS NULL AND revoked_at IS NULL")
                .bind(inv.now)
                .bind(inv.org.0)
                .bind(inv.email)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO invitations (id, org_id, email, role_level, token_hash, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(inv.id.0)
                .bind(inv.org.0)
                .bind(inv.email)
                .bind(i32::from(inv.role.level()))
                .bind(inv.token_hash)
                .bind(inv.invited_by.0)
                .bind(inv.now)
                .bind(inv.expires_at)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn pending_invitations(
        &self,
        org: OrgId,
        now: i64,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        on_org!(self, org, pool => {
            let sql = const_format(SELECT, " WHERE i.org_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at DESC");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org.0)
                .bind(now)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| invitation_from_row!(r)).collect()
        })
    }

    pub async fn find_invitation(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<InvitationRow>, StoreError> {
        on_db!(self, pool => {
            let sql = const_format(SELECT, " WHERE i.token_hash = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.map(|r| invitation_from_row!(r)).transpose()
        })
    }

    /// Spends the invitation and makes the user a member, creating the user if new — all or
    /// nothing. Returns the org and user ids.
    pub async fn accept_invitation(
        &self,
        token_hash: &[u8],
        user: OwnerSpec<'_>,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<(OrgId, UserId), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE token_hash = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 RETURNING org_id, role_level")
                .bind(now)
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::Stale("this invitation has been used, cancelled or has expired"))?;
            let org = OrgId(row.try_get("org_id")?);
            let level: i32 = row.try_get("role_level")?;
            let user_id = match &user {
                OwnerSpec::Existing(id) => *id,
                OwnerSpec::New(u) => crate::users::insert_user!(tx, u, now),
            };
            sqlx::query("INSERT INTO members (org_id, user_id, role_level, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, user_id) DO NOTHING")
                .bind(org.0)
                .bind(user_id.0)
                .bind(level)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok((org, user_id))
        })
    }

    /// Cancels a pending invitation of this org. Returns whether one was cancelled.
    pub async fn revoke_invitation(
        &self,
        org: OrgId,
        id: InvitationId,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL")
            .bind(now)
            .bind(org.0)
            .bind(id.0));
        Ok(n > 0)
    }
}

/// Joins a constant query head and tail (statement text only; values are always bound).
fn const_format(head: &'static str, tail: &'static str) -> String {
    let mut s = String::with_capacity(head.len() + tail.len());
    s.push_str(head);
    s.push_str(tail);
    s
}
