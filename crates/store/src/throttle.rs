//! Failed sign-in counters per account and per IP, kept in the database so that every instance
//! sees the same count. Keys are keyed hashes: the table holds no email or IP in clear.

use crate::db::on_db;
use crate::{Store, StoreError};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    pub failures: i32,
    pub last_failure: i64,
    pub locked_until: i64,
}

impl Store {
    pub async fn throttle_state(&self, key: &[u8]) -> Result<ThrottleState, StoreError> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT failures, last_failure, locked_until FROM auth_throttle WHERE key_hash = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => Ok(ThrottleState {
                    failures: r.try_get("failures")?,
                    last_failure: r.try_get("last_failure")?,
                    locked_until: r.try_get("locked_until")?,
                }),
                None => Ok(ThrottleState::default()),
            }
        })
    }

    pub async fn save_throttle_state(
        &self,
        key: &[u8],
        s: ThrottleState,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO auth_throttle (key_hash, failures, last_failure, locked_until) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key_hash) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure, locked_until = excluded.locked_until")
                .bind(key)
                .bind(s.failures)
                .bind(s.last_failure)
                .bind(s.locked_until)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn clear_throttle(&self, key: &[u8]) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM auth_throttle WHERE key_hash = $1").bind(key).execute(pool).await?;
        });
        Ok(())
    }
}
