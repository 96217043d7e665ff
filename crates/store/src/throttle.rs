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

    /// Counts one attempt on every key, in one transaction, unless one of them is locked (then
    /// nothing changes and the latest `locked_until` comes back as `Err`). The attempt is
    /// counted before it is judged, so requests racing each other cannot pass a limit: each key's
    /// row is locked while it is read and written (PostgreSQL row locks; SQLite's write lock).
    /// `next` gives a key's state after one more attempt, with the key's free attempts.
    pub async fn reserve_throttle(
        &self,
        keys: &[(&[u8], i32)],
        now: i64,
        next: impl Fn(ThrottleState, i64, i32) -> ThrottleState,
    ) -> Result<Result<(), i64>, StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut states = Vec::with_capacity(keys.len());
            for (key, _) in keys {
                // Writes first: the row exists and is locked before it is read.
                sqlx::query("INSERT INTO auth_throttle (key_hash, failures, last_failure, locked_until) VALUES ($1, 0, 0, 0) ON CONFLICT (key_hash) DO NOTHING")
                    .bind(*key)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE auth_throttle SET failures = failures WHERE key_hash = $1")
                    .bind(*key)
                    .execute(&mut *tx)
                    .await?;
                let r = sqlx::query("SELECT failures, last_failure, locked_until FROM auth_throttle WHERE key_hash = $1")
                    .bind(*key)
                    .fetch_one(&mut *tx)
                    .await?;
                states.push(ThrottleState {
                    failures: r.try_get("failures")?,
                    last_failure: r.try_get("last_failure")?,
                    locked_until: r.try_get("locked_until")?,
                });
            }
            let locked = states.iter().map(|s| s.locked_until).max().unwrap_or(0);
            if locked > now {
                tx.rollback().await?;
                return Ok(Err(locked));
            }
            for ((key, free), state) in keys.iter().zip(states) {
                let s = next(state, now, *free);
                sqlx::query("UPDATE auth_throttle SET failures = $1, last_failure = $2, locked_until = $3 WHERE key_hash = $4")
                    .bind(s.failures)
                    .bind(s.last_failure)
                    .bind(s.locked_until)
                    .bind(*key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    /// Takes back one attempt counted by `reserve_throttle` that turned out fine (a right
    /// password from a shared IP), and the lock-out it started, if any.
    pub async fn release_throttle_attempt(&self, key: &[u8], free: i32) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("UPDATE auth_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, \
                         locked_until = CASE WHEN failures - 1 <= $1 THEN 0 ELSE locked_until END WHERE key_hash = $2")
                .bind(free)
                .bind(key)
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
