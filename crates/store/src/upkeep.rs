//! Upkeep after ingest, off the request's path.
//!
//! **PostgreSQL**: planner statistics and visibility maps on the tables ingest grows. Without
//! statistics PostgreSQL guesses, and with row-level security in every query its guesses pick
//! nested loops that read a test's whole history (a 10M-result run page took 1.5 s instead of
//! 5 ms); without a visibility map no scan is index-only. Autovacuum keeps both fresh where it is
//! on and keeping up, but it can be off (it is on the reference machine), so Testvault does not
//! rely on it: after ingest has written a tenth of the results table (at least `MIN_ROWS`) since
//! the last pass, one `VACUUM (ANALYZE)` runs in the background.
//!
//! **SQLite**: the write-ahead log is checkpointed into the database file by a background task
//! after each ingest, instead of by the upload's own connection when it commits (SQLite's
//! automatic checkpoint, kept only as a safety net at 64 MiB of log).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, SqlitePool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Rows written before the first pass, and the least between two.
const MIN_ROWS: i64 = 10_000;

const TABLES: &str = "runs, run_suites, tests, results, result_terms";

/// What a pass works on.
enum Target {
    /// The configured login, which owns the tables (the application role may not vacuum them).
    Postgres(Box<PgConnectOptions>),
    Sqlite(SqlitePool),
}

/// Shared by every clone of a store.
pub(crate) struct Upkeep {
    target: Target,
    written: AtomicI64,
    /// Rows in `results` at the last pass: the next one is due after a tenth of that.
    rows_then: AtomicI64,
    running: AtomicBool,
}

impl Upkeep {
    pub(crate) fn postgres(owner: PgConnectOptions) -> Arc<Upkeep> {
        Self::new(Target::Postgres(Box::new(owner)))
    }

    pub(crate) fn sqlite(pool: SqlitePool) -> Arc<Upkeep> {
        Self::new(Target::Sqlite(pool))
    }

    fn new(target: Target) -> Arc<Upkeep> {
        Arc::new(Upkeep {
            target,
            written: AtomicI64::new(0),
            rows_then: AtomicI64::new(0),
            running: AtomicBool::new(false),
        })
    }

    /// Counts rows an ingest committed and starts a pass when one is due (and none runs).
    pub(crate) fn wrote(self: &Arc<Self>, rows: i64) {
        let written = self.written.fetch_add(rows, Ordering::Relaxed) + rows;
        let due = match self.target {
            Target::Postgres(_) => MIN_ROWS.max(self.rows_then.load(Ordering::Relaxed) / 10),
            Target::Sqlite(_) => 1,
        };
        if written < due || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.written.store(0, Ordering::Relaxed);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let done = match &me.target {
                Target::Postgres(owner) => vacuum(owner).await.map(|rows| {
                    me.rows_then.store(rows, Ordering::Relaxed);
                    tracing::info!(
                        results = rows,
                        secs = started.elapsed().as_secs_f64(),
                        "vacuumed and analyzed the result tables"
                    );
                }),
                Target::Sqlite(pool) => checkpoint(pool).await.map(|()| {
                    tracing::debug!(
                        secs = started.elapsed().as_secs_f64(),
                        "checkpointed the write-ahead log"
                    );
                }),
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "database upkeep after ingest failed");
            }
            me.running.store(false, Ordering::Release);
        });
    }
}

/// One `VACUUM (ANALYZE)` on its own connection (it cannot run in a transaction); returns the
/// results table's row estimate afterwards.
async fn vacuum(owner: &PgConnectOptions) -> Result<i64, sqlx::Error> {
    // A pass takes seconds by nature: not a slow statement worth a warning.
    let mut conn = owner.clone().disable_statement_logging().connect().await?;
    conn.execute(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {TABLES}")))
        .await?;
    let rows: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'results'::regclass")
            .fetch_one(&mut conn)
            .await?;
    let _ = conn.close().await;
    Ok(rows.max(0.0) as i64)
}

/// Copies what the log holds into the database file, without waiting for readers (`PASSIVE`).
async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(pool)
        .await
        .map(|_| ())
}
