//! Passkeys (WebAuthn credentials) and the state of ceremonies in flight.

use crate::db::on_db;
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::UserId;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub user: UserId,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// webauthn-rs's `Passkey`, JSON.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewPasskey<'a> {
    pub id: Uuid,
    pub user: UserId,
    pub credential_id: &'a [u8],
    pub name: &'a str,
    pub credential: &'a str,
    pub now: i64,
}

macro_rules! passkey_from_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, StoreError>(PasskeyRow {
            id: row.try_get("id")?,
            user: UserId(row.try_get("user_id")?),
            credential_id: row.try_get("credential_id")?,
            name: row.try_get("name")?,
            credential: row.try_get("credential")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }};
}

impl Store {
    /// Adds a passkey; `Conflict` when the credential is registered already (to anyone).
    pub async fn add_passkey(
        &self,
        p: &NewPasskey<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(p.id)
                .bind(p.user.0)
                .bind(p.credential_id)
                .bind(p.name)
                .bind(p.credential)
                .bind(p.now),
            |e| StoreError::unique(e, "this passkey")
        );
        Ok(())
    }

    pub async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyRow>, StoreError> {
        on_db!(self, pool => {
            let rows = sqlx::query("SELECT id, user_id, credential_id, name, credential, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at, id")
                .bind(user.0)
                .fetch_all(pool)
                .await?;
            rows.into_iter().map(|r| passkey_from_row!(r)).collect()
        })
    }

    pub async fn passkey_count(&self, user: UserId) -> Result<i64, StoreError> {
        on_db!(self, pool => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
                .bind(user.0)
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }

    /// Records a use: the credential's new state (its signature counter) and the time.
    pub async fn passkey_used(
        &self,
        id: Uuid,
        credential: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3")
                .bind(credential)
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes one of the user's passkeys. Returns whether there was one.
    pub async fn delete_passkey(
        &self,
        user: UserId,
        id: Uuid,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = crate::audit::change_if_any!(
            self,
            audit,
            sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
                .bind(user.0)
                .bind(id)
        );
        Ok(n > 0)
    }

    pub async fn create_ceremony(
        &self,
        id_hash: &[u8],
        user: Option<UserId>,
        kind: &str,
        state: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO webauthn_ceremonies (id_hash, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id_hash)
                .bind(user.map(|u| u.0))
                .bind(kind)
                .bind(state)
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Spends a live ceremony of `kind`: its user and state, once.
    pub async fn spend_ceremony(
        &self,
        id_hash: &[u8],
        kind: &str,
        now: i64,
    ) -> Result<Option<(Option<UserId>, String)>, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("DELETE FROM webauthn_ceremonies WHERE id_hash = $1 AND kind = $2 AND expires_at > $3 RETURNING user_id, state")
                .bind(id_hash)
                .bind(kind)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok::<_, StoreError>((
                    r.try_get::<Option<Uuid>, _>("user_id")?.map(UserId),
                    r.try_get("state")?,
                ))
            })
            .transpose()
        })
    }

    pub async fn delete_expired_ceremonies(&self, now: i64) -> Result<u64, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n)
        })
    }
}
