//! Solved proof-of-work challenges, so each solution is accepted once.

use crate::db::on_db;
use crate::{Store, StoreError};

impl Store {
    /// Records a solved proof-of-work challenge: `false` when it was solved before (a replay).
    pub async fn spend_pow(&self, challenge: &[u8], expires_at: i64) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("INSERT INTO pow_spent (challenge, expires_at) VALUES ($1, $2) ON CONFLICT (challenge) DO NOTHING")
                .bind(challenge)
                .bind(expires_at)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Housekeeping: solved challenges past their expiry (they cannot be replayed any more).
    pub async fn delete_expired_pow(&self, now: i64) -> Result<u64, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("DELETE FROM pow_spent WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n)
        })
    }
}
