//! Single sign-on: an org's identity-provider connections, the federated identities they sign
//! in (keyed by issuer and subject), sign-ins in flight, and spent SAML assertions.

use crate::db::{on_db, on_org};
use crate::{OwnerSpec, Store, StoreError};
use sqlx::Row;
use testvault_domain::{OrgId, UserId};
use uuid::Uuid;

#[derive(Clone)]
pub struct SsoConnectionRow {
    pub id: Uuid,
    pub org: OrgId,
    /// `oidc` or `saml`.
    pub protocol: String,
    pub preset: String,
    pub name: String,
    pub enabled: bool,
    /// Space-separated email domains; empty allows any.
    pub allowed_domains: String,
    /// The protocol's settings (JSON, in clear).
    pub settings: String,
    /// Its secrets (JSON sealed with the org's key).
    pub secret_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for SsoConnectionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConnectionRow")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("protocol", &self.protocol)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A connection to write: new, or the new state of an existing one.
pub struct SsoConnectionWrite<'a> {
    pub id: Uuid,
    pub org: OrgId,
    pub protocol: &'a str,
    pub preset: &'a str,
    pub name: &'a str,
    pub enabled: bool,
    pub allowed_domains: &'a str,
    pub settings: &'a str,
    pub secret_sealed: Option<&'a [u8]>,
    pub now: i64,
}

/// A sign-in to remember until the provider sends the browser back.
pub struct NewSsoFlow<'a> {
    pub state_hash: &'a [u8],
    pub connection: Uuid,
    pub browser_hash: &'a [u8],
    pub nonce: &'a str,
    pub verifier: &'a str,
    pub link_user: Option<UserId>,
    pub now: i64,
    pub expires_at: i64,
}

/// A spent sign-in flow.
pub struct SsoFlowRow {
    pub connection: Uuid,
    pub nonce: String,
    pub verifier: String,
    pub link_user: Option<UserId>,
}

#[derive(Debug, Clone)]
pub struct SsoIdentityRow {
    pub org: OrgId,
    pub issuer: String,
    pub subject: String,
    pub user: UserId,
    pub email: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// A federated identity to record with the sign-in that met it first: it signs in to `org`
/// only.
pub struct NewSsoIdentity<'a> {
    pub org: OrgId,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: &'a str,
    pub now: i64,
}

/// Inserts a federated identity in the caller's transaction; one that exists is a `Conflict`.
macro_rules! insert_identity {
    ($tx:expr, $identity:expr, $user:expr) => {{
        let identity: &NewSsoIdentity<'_> = $identity;
        sqlx::query("INSERT INTO sso_identities (org_id, issuer, subject, user_id, email, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
            .bind(identity.org.0)
            .bind(identity.issuer)
            .bind(identity.subject)
            .bind($user.0)
            .bind(identity.email)
            .bind(identity.now)
            .execute(&mut *$tx)
            .await
            .map_err(|e| StoreError::unique(e, "an account linked to this identity"))?;
    }};
}

const CONNECTION_COLUMNS: &str = "id, org_id, protocol, preset, name, enabled, allowed_domains, settings, secret_sealed, created_at, updated_at";

macro_rules! connection_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(SsoConnectionRow {
            id: row.try_get("id")?,
            org: OrgId(row.try_get("org_id")?),
            protocol: row.try_get("protocol")?,
            preset: row.try_get("preset")?,
            name: row.try_get("name")?,
            enabled: row.try_get("enabled")?,
            allowed_domains: row.try_get("allowed_domains")?,
            settings: row.try_get("settings")?,
            secret_sealed: row.try_get("secret_sealed")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }};
}

fn select_connections(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM sso_connections {tail}"
    ))
}

impl Store {
    pub async fn create_sso_connection(
        &self,
        c: &SsoConnectionWrite<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "INSERT INTO sso_connections (id, org_id, protocol, preset, name, enabled, allowed_domains, settings, secret_sealed, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
            )
            .bind(c.id)
            .bind(c.org.0)
            .bind(c.protocol)
            .bind(c.preset)
            .bind(c.name)
            .bind(c.enabled)
            .bind(c.allowed_domains)
            .bind(c.settings)
            .bind(c.secret_sealed)
            .bind(c.now)
        );
        Ok(())
    }

    /// Replaces an existing connection's state. Returns whether it exists in this org.
    pub async fn update_sso_connection(
        &self,
        c: &SsoConnectionWrite<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "UPDATE sso_connections SET preset = $1, name = $2, enabled = $3, allowed_domains = $4, \
                 settings = $5, secret_sealed = $6, updated_at = $7 WHERE org_id = $8 AND id = $9"
            )
            .bind(c.preset)
            .bind(c.name)
            .bind(c.enabled)
            .bind(c.allowed_domains)
            .bind(c.settings)
            .bind(c.secret_sealed)
            .bind(c.now)
            .bind(c.org.0)
            .bind(c.id)
        );
        Ok(n > 0)
    }

    pub async fn delete_sso_connection(
        &self,
        org: OrgId,
        id: Uuid,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("DELETE FROM sso_connections WHERE org_id = $1 AND id = $2")
                .bind(org.0)
                .bind(id)
        );
        Ok(n > 0)
    }

    pub async fn list_sso_connections(
        &self,
        org: OrgId,
    ) -> Result<Vec<SsoConnectionRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(select_connections("WHERE org_id = $1 ORDER BY created_at, id"))
                .bind(org.0)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| connection_from_row!(r)).collect()
        })
    }

    /// A connection by id, whatever its org: a sign-in starts from a link or a provider's
    /// answer, before anyone is signed in.
    pub async fn find_sso_connection(
        &self,
        id: Uuid,
    ) -> Result<Option<SsoConnectionRow>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query(select_connections("WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| connection_from_row!(r)).transpose()
        })
    }

    /// Enabled connections that list `domain` among their allowed email domains.
    pub async fn sso_connections_for_domain(
        &self,
        domain: &str,
    ) -> Result<Vec<SsoConnectionRow>, StoreError> {
        let pattern = format!("%{}%", crate::like_escape(domain));
        let rows: Vec<SsoConnectionRow> = on_db!(self, pool => {
            let rows = sqlx::query(select_connections("WHERE enabled = $1 AND allowed_domains LIKE $2 ESCAPE '\\' ORDER BY created_at, id"))
                .bind(true)
                .bind(pattern)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| connection_from_row!(r)).collect::<Result<_, _>>()?
        });
        // LIKE found candidates; the exact word decides.
        Ok(rows
            .into_iter()
            .filter(|c| c.allowed_domains.split_whitespace().any(|d| d == domain))
            .collect())
    }

    pub async fn create_sso_flow(&self, f: &NewSsoFlow<'_>) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO sso_flows (state_hash, connection_id, browser_hash, nonce, verifier, link_user, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(f.state_hash)
                .bind(f.connection)
                .bind(f.browser_hash)
                .bind(f.nonce)
                .bind(f.verifier)
                .bind(f.link_user.map(|u| u.0))
                .bind(f.now)
                .bind(f.expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Spends a live flow presented by the browser that started it: once, even when two
    /// requests race (the row is deleted as it is read).
    pub async fn spend_sso_flow(
        &self,
        state_hash: &[u8],
        browser_hash: &[u8],
        now: i64,
    ) -> Result<Option<SsoFlowRow>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("DELETE FROM sso_flows WHERE state_hash = $1 AND browser_hash = $2 AND expires_at > $3 \
                                   RETURNING connection_id, nonce, verifier, link_user")
                .bind(state_hash)
                .bind(browser_hash)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok::<_, StoreError>(SsoFlowRow {
                    connection: r.try_get("connection_id")?,
                    nonce: r.try_get("nonce")?,
                    verifier: r.try_get("verifier")?,
                    link_user: r.try_get::<Option<Uuid>, _>("link_user")?.map(UserId),
                })
            })
            .transpose()
        })
    }

    /// The user a federated identity of `org` belongs to, noting its use and the address the
    /// provider gives now.
    pub async fn use_sso_identity(
        &self,
        org: OrgId,
        issuer: &str,
        subject: &str,
        email: &str,
        now: i64,
    ) -> Result<Option<UserId>, StoreError> {
        on_org!(self, org, pool => {
            let user: Option<Uuid> = sqlx::query_scalar(
                "UPDATE sso_identities SET last_used_at = $1, email = $2 WHERE org_id = $3 AND issuer = $4 AND subject = $5 RETURNING user_id")
                .bind(now)
                .bind(email)
                .bind(org.0)
                .bind(issuer)
                .bind(subject)
                .fetch_optional(pool)
                .await?;
            Ok(user.map(UserId))
        })
    }

    /// The user's identities that sign in to `org`.
    pub async fn sso_identities_of(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Vec<SsoIdentityRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query("SELECT org_id, issuer, subject, user_id, email, created_at, last_used_at FROM sso_identities \
                                    WHERE org_id = $1 AND user_id = $2 ORDER BY created_at, issuer")
                .bind(org.0)
                .bind(user.0)
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(SsoIdentityRow {
                        org: OrgId(r.try_get("org_id")?),
                        issuer: r.try_get("issuer")?,
                        subject: r.try_get("subject")?,
                        user: UserId(r.try_get("user_id")?),
                        email: r.try_get("email")?,
                        created_at: r.try_get("created_at")?,
                        last_used_at: r.try_get("last_used_at")?,
                    })
                })
                .collect()
        })
    }

    /// How many identities (in any org) can sign the user in.
    pub async fn sso_identity_count(&self, user: UserId) -> Result<i64, StoreError> {
        on_db!(self, pool => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_identities WHERE user_id = $1")
                .bind(user.0)
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }

    /// Links a federated identity to an existing user (who proved both: signed in, then came
    /// back from the provider). `Conflict` when the identity already belongs to someone.
    pub async fn link_sso_identity(
        &self,
        user: UserId,
        identity: &NewSsoIdentity<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            insert_identity!(tx, identity, user);
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets one of a user's federated identities in the audit entry's org. Returns whether
    /// there was one.
    pub async fn unlink_sso_identity(
        &self,
        user: UserId,
        issuer: &str,
        subject: &str,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query(
                "DELETE FROM sso_identities WHERE org_id = $1 AND user_id = $2 AND issuer = $3 AND subject = $4"
            )
            .bind(audit.org.0)
            .bind(user.0)
            .bind(issuer)
            .bind(subject)
        );
        Ok(n > 0)
    }

    /// Just-in-time membership: in one transaction, the user (made when `user` is new), the
    /// identity (when given) and the membership at `role_level` (kept when they are a member
    /// already), with the audit event. Returns the user and whether they joined just now.
    pub async fn join_through_sso(
        &self,
        org: OrgId,
        user: OwnerSpec<'_>,
        identity: Option<&NewSsoIdentity<'_>>,
        role_level: i32,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<(UserId, bool), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            let user_id = match &user {
                OwnerSpec::Existing(id) => *id,
                OwnerSpec::New(u) => crate::users::insert_user!(tx, u, now),
            };
            if let Some(identity) = identity {
                insert_identity!(tx, identity, user_id);
            }
            let joined = sqlx::query("INSERT INTO members (org_id, user_id, role_level, created_at) VALUES ($1, $2, $3, $4) \
                                      ON CONFLICT (org_id, user_id) DO NOTHING")
                .bind(org.0)
                .bind(user_id.0)
                .bind(role_level)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if joined {
                crate::audit::append!(tx, audit, is_pg);
            }
            tx.commit().await?;
            Ok((user_id, joined))
        })
    }

    /// Records a SAML assertion's ID as spent until `expires_at`: `false` when it was already.
    pub async fn spend_saml_assertion(
        &self,
        id_hash: &[u8],
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("INSERT INTO sso_assertions_spent (id_hash, expires_at) VALUES ($1, $2) ON CONFLICT (id_hash) DO NOTHING")
                .bind(id_hash)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Housekeeping: sign-ins never finished, and spent assertions past their expiry.
    pub async fn delete_old_sso_state(&self, now: i64) -> Result<u64, StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            let flows = sqlx::query("DELETE FROM sso_flows WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let spent = sqlx::query("DELETE FROM sso_assertions_spent WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(flows + spent)
        })
    }
}
