//! Server-side sessions, stored by the SHA-256 of their cookie value. A separate random
//! `public_id` names a session in lists and revocation requests, so the hash never leaves here.

use crate::db::{on_db, on_org};
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{MemberRole, OrgId, SessionPolicy, UserId};
use uuid::Uuid;

pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub public_id: Uuid,
    pub user: UserId,
    pub org: OrgId,
    pub now: i64,
    pub expires_at: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
    /// `password`, `link`, `sso` or `passkey`. A passkey proves both factors: its session
    /// never waits for a code.
    pub method: &'a str,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub public_id: Uuid,
    pub user: UserId,
    pub user_email: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
}

/// Everything a request needs to know about its session, in one query.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub public_id: Uuid,
    pub user: UserId,
    pub email: String,
    pub display_name: String,
    pub org: OrgId,
    pub org_name: String,
    /// `None` when the membership was removed after the session began.
    pub role: Option<MemberRole>,
    pub policy: SessionPolicy,
    pub ip_allowlist: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub stage: String,
    pub require_second_factor: bool,
    /// The user has a confirmed second factor.
    pub has_second_factor: bool,
    /// How the session was signed in (`password`, `link`, `sso`, `passkey`).
    pub method: String,
    /// The org accepts only single sign-on sessions from members other than owners.
    pub sso_required: bool,
}

macro_rules! session_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(SessionRow {
            public_id: row.try_get("public_id")?,
            user: UserId(row.try_get("user_id")?),
            user_email: row.try_get("email")?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
        })
    }};
}

impl Store {
    pub async fn create_session(
        &self,
        s: NewSession<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, s.org, pool => {
            let mut tx = pool.begin().await?;
            // The stage is decided in the insert itself: a factor confirmed a moment ago (while
            // this password was being checked) still makes the session wait for its code.
            sqlx::query("INSERT INTO sessions (id_hash, public_id, user_id, org_id, created_at, last_seen_at, expires_at, ip, user_agent, method, stage) \
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, \
                 CASE WHEN $9 <> 'passkey' AND (EXISTS (SELECT 1 FROM user_factors f WHERE f.user_id = $3 AND f.confirmed_at IS NOT NULL) \
                      OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = $3)) THEN 'second_factor' ELSE 'full' END)")
                .bind(s.id_hash)
                .bind(s.public_id)
                .bind(s.user.0)
                .bind(s.org.0)
                .bind(s.now)
                .bind(s.expires_at)
                .bind(s.ip)
                .bind(s.user_agent)
                .bind(s.method)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn session_auth(&self, id_hash: &[u8]) -> Result<Option<SessionAuth>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query(
                "SELECT s.public_id, s.user_id, u.email, u.display_name, s.org_id, o.name AS org_name, m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions, \
                 o.idle_timeout_secs, o.absolute_timeout_secs, o.ip_allowlist, s.created_at, s.last_seen_at, s.expires_at, \
                 s.stage, s.method, o.require_second_factor, o.sso_required, (SELECT f.confirmed_at FROM user_factors f WHERE f.user_id = s.user_id) AS factor_confirmed, \
                 (SELECT 1 FROM passkeys k WHERE k.user_id = s.user_id LIMIT 1) AS has_passkey \
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id \
                 LEFT JOIN members m ON m.org_id = s.org_id AND m.user_id = s.user_id \
                 LEFT JOIN org_roles cr ON cr.id = m.custom_role_id \
                 WHERE s.id_hash = $1")
                .bind(id_hash)
                .fetch_optional(pool)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let role = crate::rows::member_role_from_row!(&r)?;
                    Ok(Some(SessionAuth {
                        public_id: r.try_get("public_id")?,
                        user: UserId(r.try_get("user_id")?),
                        email: r.try_get("email")?,
                        display_name: r.try_get("display_name")?,
                        org: OrgId(r.try_get("org_id")?),
                        org_name: r.try_get("org_name")?,
                        role,
                        policy: SessionPolicy {
                            idle_secs: r.try_get("idle_timeout_secs")?,
                            absolute_secs: r.try_get("absolute_timeout_secs")?,
                        },
                        ip_allowlist: r.try_get("ip_allowlist")?,
                        created_at: r.try_get("created_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                        expires_at: r.try_get("expires_at")?,
                        stage: r.try_get("stage")?,
                        require_second_factor: r.try_get("require_second_factor")?,
                        has_second_factor: r.try_get::<Option<i64>, _>("factor_confirmed")?.is_some()
                            || r.try_get::<Option<i32>, _>("has_passkey")?.is_some(),
                        method: r.try_get("method")?,
                        sso_required: r.try_get("sso_required")?,
                    }))
                }
            }
        })
    }

    pub async fn touch_session(&self, id_hash: &[u8], now: i64) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(id_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(pool).await?;
        });
        Ok(())
    }

    /// Live sessions in the org, newest first; only `user`'s when given.
    pub async fn list_sessions(
        &self,
        org: OrgId,
        user: Option<UserId>,
        now: i64,
    ) -> Result<Vec<SessionRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(
                "SELECT s.public_id, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.org_id = $1 AND ($2 IS NULL OR s.user_id = $2) AND s.expires_at > $3 \
                 ORDER BY s.last_seen_at DESC")
                .bind(org.0)
                .bind(user.map(|u| u.0))
                .bind(now)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| session_from_row!(r)).collect()
        })
    }

    /// Ends one session of the org (only if it is `user`'s, when given). Returns whether one ended.
    pub async fn revoke_session(
        &self,
        org: OrgId,
        public_id: Uuid,
        user: Option<UserId>,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND public_id = $2 AND ($3 IS NULL OR user_id = $3)")
            .bind(org.0)
            .bind(public_id)
            .bind(user.map(|u| u.0)));
        Ok(n > 0)
    }

    /// Gives a session a new id and makes it whole (the second factor was given): the id that
    /// waited for the code stops working.
    pub async fn promote_session(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
    ) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("UPDATE sessions SET id_hash = $1, stage = 'full' WHERE id_hash = $2")
                .bind(new_hash)
                .bind(old_hash)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Ends every session of a user, in every org, but the one with `keep` (after a change to
    /// their second factor). Returns how many ended.
    pub async fn end_other_sessions(&self, user: UserId, keep: &[u8]) -> Result<u64, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                .bind(user.0)
                .bind(keep)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n)
        })
    }

    /// Ends every session a user has in the org. Returns how many ended.
    pub async fn revoke_user_sessions(
        &self,
        org: OrgId,
        user: UserId,
        audit: &crate::AuditEntry,
    ) -> Result<u64, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2")
                .bind(org.0)
                .bind(user.0)
        );
        Ok(n)
    }

    /// Housekeeping: drops sessions past their absolute lifetime.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let n = on_db!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n)
    }
}
