//! Connecting to the chosen backend, and the `on_db!` macro that runs one statement text on either.

use crate::Secret;
use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where the data lives.
pub enum DatabaseTarget {
    /// An SQLCipher file, opened with the raw key `key` (`"x'…'"`).
    Sqlite { path: PathBuf, key: Secret },
    /// A PostgreSQL URL (`postgres://…`).
    Postgres { url: Secret },
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseTarget::Sqlite { path, .. } => write!(f, "Sqlite({})", path.display()),
            DatabaseTarget::Postgres { .. } => f.write_str("Postgres(<url redacted>)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
}

/// Runs `$body` with `$pool` bound to whichever pool the store has; the body is compiled once per
/// backend, so the same SQL text and binds serve both.
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Pg($pool) => $body,
        }
    };
}
pub(crate) use on_db;

impl Store {
    /// Opens the database and brings its schema up to date (refusing a newer schema).
    pub async fn connect(target: &DatabaseTarget) -> Result<Store, StoreError> {
        let db = match target {
            DatabaseTarget::Sqlite { path, key } => {
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // sqlx runs `key` before any other pragma, as SQLCipher requires.
                    .pragma("key", key.expose().to_string())
                    .pragma("cipher_memory_security", "ON")
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(opts)
                    .await?;
                Db::Sqlite(pool)
            }
            DatabaseTarget::Postgres { url } => {
                let opts = PgConnectOptions::from_str(url.expose())?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Db::Pg(pool)
            }
        };
        let store = Store { db };
        if let Err(e) = crate::migrate::run(&store).await {
            // Close cleanly rather than leave connections to be torn down behind our back.
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes the pool; on SQLite this checkpoints the WAL.
    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await);
    }
}
