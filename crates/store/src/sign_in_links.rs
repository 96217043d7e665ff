//! Emailed sign-in links: only their hash, the user, the hash of the browser's nonce, and
//! when they expire or were spent.

use crate::db::on_db;
use crate::{Store, StoreError};
use testvault_domain::UserId;

impl Store {
    /// Stores an emailed sign-in link (its hash) for `user`, bound to a browser.
    pub async fn create_sign_in_link(
        &self,
        token_hash: &[u8],
        user: UserId,
        browser_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO sign_in_links (token_hash, user_id, browser_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash)
                .bind(user.0)
                .bind(browser_hash)
                .bind(now)
                .bind(expires_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Spends a live sign-in link presented by the browser it was made for: the user, once.
    pub async fn spend_sign_in_link(
        &self,
        token_hash: &[u8],
        browser_hash: &[u8],
        now: i64,
    ) -> Result<Option<UserId>, StoreError> {
        on_db!(self, pool => {
            let user: Option<uuid::Uuid> = sqlx::query_scalar(
                "UPDATE sign_in_links SET used_at = $1 WHERE token_hash = $2 AND browser_hash = $3 \
                 AND used_at IS NULL AND expires_at > $1 RETURNING user_id")
                .bind(now)
                .bind(token_hash)
                .bind(browser_hash)
                .fetch_optional(pool)
                .await?;
            Ok(user.map(UserId))
        })
    }

    /// Housekeeping: drops spent and expired links.
    pub async fn delete_old_sign_in_links(&self, now: i64) -> Result<u64, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("DELETE FROM sign_in_links WHERE expires_at <= $1 OR used_at IS NOT NULL")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n)
        })
    }
}
