//! The one-time first-run setup link. Only its hash is stored; a new one replaces any older one.

use crate::db::on_db;
use crate::{Store, StoreError};

impl Store {
    /// Forgets earlier setup links and remembers this one until `expires_at`.
    pub async fn replace_setup_token(
        &self,
        hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM setup_tokens").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
                .bind(hash)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Whether `hash` is a live setup link (not used, not expired).
    pub async fn setup_token_is_live(&self, hash: &[u8], now: i64) -> Result<bool, StoreError> {
        let n: i64 = on_db!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2")
            .bind(hash)
            .bind(now)
            .fetch_one(pool)
            .await)?;
        Ok(n > 0)
    }
}
