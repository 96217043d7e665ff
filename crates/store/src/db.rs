//! Connecting to the chosen backend, and the `on_db!` macro that runs one statement text on either.

use crate::Secret;
use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The PostgreSQL role the application acts as (created by migration 0006).
pub const APP_ROLE: &str = "testvault_app";
const SET_APP_ROLE: &str = "SET ROLE testvault_app";

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
    /// SQLite only: the one connection uploads are stored through. SQLite takes one writer at
    /// a time anyway; giving uploads a connection of their own keeps one page cache and one
    /// worker thread's heap warm for them, instead of whichever pooled connection came free
    /// (each then grew a cache and a heap of its own: peak memory for a 1M upload varied
    /// between 147 and 185 MB with that choice).
    pub(crate) writer: Option<SqlitePool>,
    /// PostgreSQL only: statistics and visibility maps kept fresh after ingest.
    pub(crate) upkeep: Option<std::sync::Arc<crate::upkeep::Upkeep>>,
}

/// Which org's rows a statement may see on PostgreSQL, where row-level security enforces it:
/// every tenant table's policy reads `app.org_id` / `app.all_orgs`, set per transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// Lookups that must cross orgs: a session by its cookie hash, a token by its prefix,
    /// a user's memberships, background jobs, migrations.
    AllOrgs,
    /// Everything done for one org: a statement that forgets its org filter still sees only
    /// this org's rows.
    Org(testvault_domain::OrgId),
}

/// Begins a PostgreSQL transaction with the row-security scope set for its duration only
/// (`set_config(…, true)`), so a pooled connection never carries one request's org to another.
pub(crate) async fn begin_scoped(
    pool: &PgPool,
    scope: Scope,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (org, all) = match scope {
        Scope::AllOrgs => (String::new(), "on"),
        Scope::Org(org) => (org.to_string(), "off"),
    };
    sqlx::query("SELECT set_config('app.org_id', $1, true), set_config('app.all_orgs', $2, true)")
        .bind(org)
        .bind(all)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Runs `$body` with `$pool` bound to whichever backend the store has; the body is compiled once
/// per backend, so the same SQL text and binds serve both. On PostgreSQL the body runs inside a
/// transaction scoped by `$scope` (its own `pool.begin()` becomes a savepoint); an early
/// `return` from the body rolls that transaction back.
macro_rules! scoped {
    ($store:expr, $scope:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Pg(pg_pool) => {
                #[allow(unused_imports)]
                use sqlx::Connection as _;
                let mut scoped_tx = $crate::db::begin_scoped(pg_pool, $scope).await?;
                let out = {
                    let $pool = &mut *scoped_tx;
                    $body
                };
                scoped_tx.commit().await?;
                out
            }
        }
    };
}
pub(crate) use scoped;

/// Runs `$body` on the bare pool, outside any scope: pool management and migrations only.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Pg($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A statement that may cross orgs (see `Scope::AllOrgs`).
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        $crate::db::scoped!($store, $crate::db::Scope::AllOrgs, $pool => $body)
    };
}
pub(crate) use on_db;

/// A statement for one org: on PostgreSQL, row-level security hides every other org's rows.
macro_rules! on_org {
    ($store:expr, $org:expr, $pool:ident => $body:expr) => {
        $crate::db::scoped!($store, $crate::db::Scope::Org($org), $pool => $body)
    };
}
pub(crate) use on_org;

/// Opens the SQLite pool. SQLCipher's codec setup fails now and then when several databases
/// are opened at the same moment in one process (seen in the test suite, which starts many
/// servers at once: "An error occurred with PRAGMA key or rekey" on a brand-new file); that
/// error, and only that one, is retried a few times. A wrong key fails differently ("file is
/// not a database") and is not retried.
async fn open_sqlite(
    opts: SqliteConnectOptions,
    connections: u32,
) -> Result<SqlitePool, StoreError> {
    let mut attempt = 0;
    loop {
        match SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(opts.clone())
            .await
        {
            Ok(pool) => return Ok(pool),
            Err(sqlx::Error::Database(e))
                if attempt < 3 && e.message().contains("error occurred with PRAGMA key") =>
            {
                attempt += 1;
                tracing::warn!(attempt, "SQLCipher could not set the key up; retrying");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Tells the store an ingest committed `rows` results: on SQLite a background checkpoint
    /// follows; on PostgreSQL, enough of them start a background `VACUUM (ANALYZE)` of the result
    /// tables (see `upkeep`).
    pub fn wrote_results(&self, rows: i64) {
        if let Some(upkeep) = &self.upkeep {
            upkeep.wrote(rows);
        }
    }

    /// Opens the database and brings its schema up to date (refusing a newer schema).
    pub async fn connect(target: &DatabaseTarget) -> Result<Store, StoreError> {
        let (db, opts) = match target {
            DatabaseTarget::Sqlite { path, key } => {
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // sqlx runs `key` before any other pragma, as SQLCipher requires.
                    .pragma("key", key.expose().to_string())
                    // SQLCipher's default since 4.5: memory locking and wiping of every
                    // allocation (`ON`) cost two thirds of ingest throughput (an mlock and
                    // munlock per allocation). See docs/PERFORMANCE.md.
                    .pragma("cipher_memory_security", "OFF")
                    // A 16 MiB page cache per connection (8 pooled and the writer): ingest
                    // writes touch index pages all over; more costs memory, not speed.
                    .pragma("cache_size", "-16384")
                    // Checkpoints run in the background after ingest (`upkeep`); SQLite's own,
                    // by whichever connection commits, only once the log reaches 64 MiB.
                    .pragma("wal_autocheckpoint", "16384")
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                (Db::Sqlite(open_sqlite(opts.clone(), 8).await?), opts)
            }
            DatabaseTarget::Postgres { url } => return Store::connect_postgres(url).await,
        };
        let upkeep = match &db {
            Db::Sqlite(pool) => Some(crate::upkeep::Upkeep::sqlite(pool.clone())),
            Db::Pg(_) => None,
        };
        let mut store = Store {
            db,
            writer: None,
            upkeep,
        };
        if let Err(e) = crate::migrate::run(&store).await {
            // Close cleanly rather than leave connections to be torn down behind our back.
            store.close().await;
            return Err(e);
        }
        match open_sqlite(opts, 1).await {
            Ok(writer) => store.writer = Some(writer),
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        }
        Ok(store)
    }

    /// PostgreSQL: migrations run as the configured login (which owns the schema); then every
    /// application connection switches to `APP_ROLE`, which row-level security confines and
    /// which cannot change or delete audit rows.
    async fn connect_postgres(url: &Secret) -> Result<Store, StoreError> {
        let opts = PgConnectOptions::from_str(url.expose())?;
        let migrator = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        let owner = Store {
            db: Db::Pg(migrator),
            writer: None,
            upkeep: None,
        };
        let migrated = crate::migrate::run(&owner).await;
        owner.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query(SET_APP_ROLE).execute(&mut *conn).await?;
                    // Plan every execution with its parameters: most queries have optional
                    // filters (`$n IS NULL OR …`) and row-level security in every one, and the
                    // generic plan PostgreSQL switches to after five runs of a statement guessed
                    // one row where there were a thousand (a run page took 0.5–1.6 s, not 5 ms).
                    sqlx::query("SET plan_cache_mode = force_custom_plan")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(opts.clone())
            .await?;
        Ok(Store {
            db: Db::Pg(pool),
            writer: None,
            upkeep: Some(crate::upkeep::Upkeep::postgres(opts)),
        })
    }

    /// The database role statements run as (`testvault_app` on PostgreSQL; SQLite has none).
    pub async fn database_role(&self) -> Result<Option<String>, StoreError> {
        match &self.db {
            Db::Sqlite(_) => Ok(None),
            Db::Pg(pool) => Ok(Some(
                sqlx::query_scalar("SELECT current_user::TEXT")
                    .fetch_one(pool)
                    .await?,
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// SQLite: whether every pooled connection checks foreign keys (ingest turns the checks off
    /// on its own connection and must never give one back that way). Holds as many connections
    /// as the pool may have at once, to look at each. `true` on PostgreSQL.
    pub async fn foreign_keys_enforced_everywhere(&self) -> Result<bool, StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(true);
        };
        let mut held = Vec::new();
        let mut all_on = true;
        // Every connection each pool may hold (idle ones come first, new ones are fresh).
        for pool in std::iter::once(pool).chain(&self.writer) {
            for _ in 0..pool.options().get_max_connections() {
                let mut conn = pool.acquire().await?;
                let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                    .fetch_one(&mut *conn)
                    .await?;
                all_on &= on == 1;
                held.push(conn);
            }
        }
        Ok(all_on)
    }

    /// Closes the pool; on SQLite this checkpoints the WAL.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        on_pool!(self, pool => pool.close().await);
    }
}
