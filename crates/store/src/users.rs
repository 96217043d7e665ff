//! People: global user identities and their memberships in orgs.

use crate::db::{on_db, on_org};
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{MemberRole, OrgId, UserId};

/// A user to create; the password is already hashed.
pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

#[derive(Clone)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: i64,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A member of an org as its member list shows them.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: MemberRole,
    pub joined_at: i64,
    pub active_sessions: i64,
}

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(UserRow {
            id: UserId(row.try_get("id")?),
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            password_hash: row.try_get("password_hash")?,
            created_at: row.try_get("created_at")?,
        })
    }};
}

/// Inserts a new user inside the caller's transaction (`$tx`), mapping a duplicate email to
/// `Conflict`. A macro so one statement serves both backends' transaction types.
macro_rules! insert_user {
    ($tx:expr, $user:expr, $now:expr) => {{
        let user: &$crate::NewUser<'_> = $user;
        sqlx::query("INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(user.id.0)
            .bind(user.email)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(|e| StoreError::unique(e, "an account with this email"))?;
        user.id
    }};
}
pub(crate) use insert_user;

impl Store {
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT id, email, display_name, password_hash, created_at FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(pool)
                .await?;
            row.map(|r| user_from_row!(r)).transpose()
        })
    }

    pub async fn get_user(&self, id: UserId) -> Result<Option<UserRow>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT id, email, display_name, password_hash, created_at FROM users WHERE id = $1")
                .bind(id.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| user_from_row!(r)).transpose()
        })
    }

    /// The user's role in the org, or `None` when they are not a member.
    pub async fn member_role(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Option<MemberRole>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions \
                 FROM members m LEFT JOIN org_roles cr ON cr.id = m.custom_role_id WHERE m.org_id = $1 AND m.user_id = $2")
                .bind(org.0)
                .bind(user.0)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => crate::rows::member_role_from_row!(&r),
                None => Ok(None),
            }
        })
    }

    /// The org's members, with how many live sessions each has, by name.
    pub async fn list_members(&self, org: OrgId, now: i64) -> Result<Vec<MemberRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(
                "SELECT u.id, u.email, u.display_name, m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions, m.created_at, \
                 (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.org_id = m.org_id AND s.expires_at > $2) AS active_sessions \
                 FROM members m JOIN users u ON u.id = m.user_id LEFT JOIN org_roles cr ON cr.id = m.custom_role_id WHERE m.org_id = $1 ORDER BY u.display_name, u.email")
                .bind(org.0)
                .bind(now)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(MemberRow {
                        user_id: UserId(r.try_get("id")?),
                        email: r.try_get("email")?,
                        display_name: r.try_get("display_name")?,
                        role: crate::rows::member_role_from_row!(r)?
                            .ok_or_else(|| StoreError::Corrupt("member without a role".into()))?,
                        joined_at: r.try_get("created_at")?,
                        active_sessions: r.try_get("active_sessions")?,
                    })
                })
                .collect()
        })
    }
}
