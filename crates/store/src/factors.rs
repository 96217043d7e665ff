//! Users' TOTP second factors (the secret sealed by core) and their recovery codes (hashed).
//! A user's, not an org's: one factor serves every org they belong to.

use crate::db::on_db;
use crate::{Store, StoreError};
use testvault_domain::UserId;

/// Deletes a user's recovery codes and inserts new ones inside transaction `$tx`.
macro_rules! replace_codes {
    ($tx:ident, $user:expr, $hashes:expr) => {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind($user.0)
            .execute(&mut *$tx)
            .await?;
        for h in $hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind($user.0)
                .bind(h.as_slice())
                .execute(&mut *$tx)
                .await?;
        }
    };
}

#[derive(Debug, Clone)]
pub struct FactorRow {
    pub secret: Vec<u8>,
    pub confirmed_at: Option<i64>,
    pub last_step: Option<i64>,
}

impl Store {
    pub async fn user_factor(&self, user: UserId) -> Result<Option<FactorRow>, StoreError> {
        on_db!(self, pool => {
            let row: Option<(Vec<u8>, Option<i64>, Option<i64>)> = sqlx::query_as(
                "SELECT secret, confirmed_at, last_step FROM user_factors WHERE user_id = $1")
                .bind(user.0)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|(secret, confirmed_at, last_step)| FactorRow { secret, confirmed_at, last_step }))
        })
    }

    /// Stores a new, unconfirmed secret (replacing an unconfirmed one); `false` when the user
    /// already has a confirmed factor (it must be turned off first).
    pub async fn start_factor(
        &self,
        user: UserId,
        secret: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM user_factors WHERE user_id = $1 AND confirmed_at IS NULL")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("INSERT INTO user_factors (user_id, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING")
                .bind(user.0)
                .bind(secret)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Confirms the factor, spends the step its code was for, and replaces the recovery codes.
    pub async fn confirm_factor(
        &self,
        user: UserId,
        step: i64,
        now: i64,
        recovery_hashes: &[Vec<u8>],
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        crate::db::on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE user_factors SET confirmed_at = $1, last_step = $2 WHERE user_id = $3 AND confirmed_at IS NULL")
                .bind(now)
                .bind(step)
                .bind(user.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            replace_codes!(tx, user, recovery_hashes);
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Reserves one code attempt, atomically: `Ok(None)` when one is free (the code may be
    /// checked), `Ok(Some(locked_until))` when the user is locked out. At most `free` attempts
    /// are reserved between successes, however many requests race; the one that finds them
    /// used up starts the next, growing, lock-out (`lock_secs(strikes)`).
    pub async fn reserve_code_attempt(
        &self,
        user: UserId,
        free: i32,
        now: i64,
        lock_secs: impl Fn(i32) -> i64,
    ) -> Result<Option<i64>, StoreError> {
        on_db!(self, pool => {
            // Writes first: on SQLite the transaction takes the write lock at once.
            let mut tx = pool.begin().await?;
            let reserved = sqlx::query("UPDATE user_factors SET attempts = attempts + 1 \
                 WHERE user_id = $1 AND locked_until <= $2 AND attempts < $3")
                .bind(user.0)
                .bind(now)
                .bind(free)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let verdict = if reserved == 1 {
                None
            } else {
                let strikes: i32 = sqlx::query_scalar("SELECT strikes FROM user_factors WHERE user_id = $1")
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?
                    .unwrap_or(0);
                // Used up and not locked yet: lock once (racing requests agree on the row).
                sqlx::query("UPDATE user_factors SET locked_until = $1, strikes = strikes + 1, attempts = 0 \
                     WHERE user_id = $2 AND locked_until <= $3 AND attempts >= $4")
                    .bind(now + lock_secs(strikes))
                    .bind(user.0)
                    .bind(now)
                    .bind(free)
                    .execute(&mut *tx)
                    .await?;
                let locked: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM user_factors WHERE user_id = $1")
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                Some(locked.unwrap_or(now + 1).max(now + 1))
            };
            tx.commit().await?;
            Ok(verdict)
        })
    }

    /// A right code: the attempts and strikes start again.
    pub async fn clear_code_attempts(&self, user: UserId) -> Result<(), StoreError> {
        on_db!(self, pool => {
            sqlx::query("UPDATE user_factors SET attempts = 0, strikes = 0, locked_until = 0 WHERE user_id = $1")
                .bind(user.0)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Spends a time step: `true` only when it is later than the last one spent (a code is
    /// usable once, even by two requests at the same moment).
    pub async fn spend_factor_step(&self, user: UserId, step: i64) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("UPDATE user_factors SET last_step = $1 WHERE user_id = $2 AND confirmed_at IS NOT NULL \
                 AND (last_step IS NULL OR last_step < $1)")
                .bind(step)
                .bind(user.0)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Spends a recovery code: `true` when it was the user's and unused.
    pub async fn spend_recovery_code(
        &self,
        user: UserId,
        hash: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        on_db!(self, pool => {
            let n = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
                .bind(now)
                .bind(user.0)
                .bind(hash)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    pub async fn unused_recovery_codes(&self, user: UserId) -> Result<i64, StoreError> {
        on_db!(self, pool => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user.0)
                .fetch_one(pool)
                .await?;
            Ok(n)
        })
    }

    /// Replaces the recovery codes (the old ones stop working).
    pub async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[Vec<u8>],
        audit: &crate::AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        crate::db::on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            replace_codes!(tx, user, hashes);
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes the factor and its recovery codes.
    pub async fn delete_factor(
        &self,
        user: UserId,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        crate::db::on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM user_factors WHERE user_id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}
