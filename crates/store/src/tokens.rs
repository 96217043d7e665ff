//! API tokens, looked up by their clear prefix; the secret is only ever compared as a hash.

use crate::db::{on_db, on_org};
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{MemberRole, OrgId, ProjectId, SessionPolicy, UserId};
use uuid::Uuid;

pub struct NewToken<'a> {
    pub id: Uuid,
    pub org: OrgId,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub name: &'a str,
    /// `Some(user)` for a personal token; `None` with `project` for a project token.
    pub user: Option<UserId>,
    pub project: Option<ProjectId>,
    pub scopes: &'a str,
    pub created_by: Option<UserId>,
    pub now: i64,
    pub expires_at: i64,
}

/// A token as lists show it.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub prefix: String,
    pub name: String,
    pub user_email: Option<String>,
    pub project_slug: Option<String>,
    pub scopes: String,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

/// Everything a request needs to act with a token, in one query.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub id: Uuid,
    pub secret_hash: Vec<u8>,
    pub org: OrgId,
    pub org_name: String,
    pub user: Option<UserId>,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    /// The personal token's user's current role; `None` if they left the org.
    pub role: Option<MemberRole>,
    pub project: Option<ProjectId>,
    pub created_by: Option<UserId>,
    pub scopes: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub policy: SessionPolicy,
    pub ip_allowlist: String,
}

impl Store {
    pub async fn create_token(
        &self,
        t: NewToken<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, t.org, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO api_tokens (id, org_id, prefix, secret_hash, name, kind, user_id, project_id, scopes, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                .bind(t.id)
                .bind(t.org.0)
                .bind(t.prefix)
                .bind(t.secret_hash)
                .bind(t.name)
                .bind(if t.project.is_some() { "project" } else { "personal" })
                .bind(t.user.map(|u| u.0))
                .bind(t.project.map(|p| p.0))
                .bind(t.scopes)
                .bind(t.created_by.map(|u| u.0))
                .bind(t.now)
                .bind(t.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "a token with this prefix"))?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn token_auth(&self, prefix: &str) -> Result<Option<TokenAuth>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query(
                "SELECT t.id, t.secret_hash, t.org_id, o.name AS org_name, t.user_id, u.email, u.display_name, m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions, \
                 t.project_id, t.created_by, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, t.last_used_ip, \
                 o.idle_timeout_secs, o.absolute_timeout_secs, o.ip_allowlist \
                 FROM api_tokens t JOIN orgs o ON o.id = t.org_id \
                 LEFT JOIN users u ON u.id = t.user_id \
                 LEFT JOIN members m ON m.org_id = t.org_id AND m.user_id = t.user_id \
                 LEFT JOIN org_roles cr ON cr.id = m.custom_role_id \
                 WHERE t.prefix = $1")
                .bind(prefix)
                .fetch_optional(pool)
                .await?;
            let Some(r) = row else { return Ok(None) };
            let role = crate::rows::member_role_from_row!(&r)?;
            let user: Option<Uuid> = r.try_get("user_id")?;
            let project: Option<Uuid> = r.try_get("project_id")?;
            let created_by: Option<Uuid> = r.try_get("created_by")?;
            Ok(Some(TokenAuth {
                id: r.try_get("id")?,
                secret_hash: r.try_get("secret_hash")?,
                org: OrgId(r.try_get("org_id")?),
                org_name: r.try_get("org_name")?,
                user: user.map(UserId),
                user_email: r.try_get("email")?,
                user_name: r.try_get("display_name")?,
                role,
                project: project.map(ProjectId),
                created_by: created_by.map(UserId),
                scopes: r.try_get("scopes")?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: r.try_get("revoked_at")?,
                last_used_at: r.try_get("last_used_at")?,
                last_used_ip: r.try_get("last_used_ip")?,
                policy: SessionPolicy {
                    idle_secs: r.try_get("idle_timeout_secs")?,
                    absolute_secs: r.try_get("absolute_timeout_secs")?,
                },
                ip_allowlist: r.try_get("ip_allowlist")?,
            }))
        })
    }

    pub async fn touch_token(&self, id: Uuid, now: i64, ip: &str) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
                .bind(now)
                .bind(ip)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Live (not revoked, not expired) tokens of the org; only `user`'s personal tokens when given.
    pub async fn list_tokens(
        &self,
        org: OrgId,
        user: Option<UserId>,
        now: i64,
    ) -> Result<Vec<TokenRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(
                "SELECT t.prefix, t.name, u.email, p.slug, t.scopes, c.display_name AS created_by_name, t.created_at, t.expires_at, \
                 t.last_used_at, t.last_used_ip \
                 FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id LEFT JOIN projects p ON p.id = t.project_id \
                 LEFT JOIN users c ON c.id = t.created_by \
                 WHERE t.org_id = $1 AND ($2 IS NULL OR t.user_id = $2) AND t.revoked_at IS NULL AND t.expires_at > $3 \
                 ORDER BY t.created_at DESC")
                .bind(org.0)
                .bind(user.map(|u| u.0))
                .bind(now)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(TokenRow {
                        prefix: r.try_get("prefix")?,
                        name: r.try_get("name")?,
                        user_email: r.try_get("email")?,
                        project_slug: r.try_get("slug")?,
                        scopes: r.try_get("scopes")?,
                        created_by_name: r.try_get("created_by_name")?,
                        created_at: r.try_get("created_at")?,
                        expires_at: r.try_get("expires_at")?,
                        last_used_at: r.try_get("last_used_at")?,
                        last_used_ip: r.try_get("last_used_ip")?,
                    })
                })
                .collect()
        })
    }

    /// Revokes a live token of the org (only `user`'s personal token, when given).
    pub async fn revoke_token(
        &self,
        org: OrgId,
        prefix: &str,
        user: Option<UserId>,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE org_id = $2 AND prefix = $3 AND ($4 IS NULL OR user_id = $4) AND revoked_at IS NULL")
            .bind(now)
            .bind(org.0)
            .bind(prefix)
            .bind(user.map(|u| u.0)));
        Ok(n > 0)
    }

    /// The org a token prefix belongs to (for the operator's `token revoke PREFIX`).
    pub async fn token_org(&self, prefix: &str) -> Result<Option<OrgId>, StoreError> {
        let org: Option<Uuid> = on_db!(self, pool => sqlx::query_scalar("SELECT org_id FROM api_tokens WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(pool)
            .await)?;
        Ok(org.map(OrgId))
    }
}
