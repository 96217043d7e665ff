//! PostgreSQL upkeep the report queries depend on: planner statistics and visibility maps on the
//! tables ingest grows. Without statistics PostgreSQL guesses, and with row-level security in
//! every query its guesses pick nested loops that read a test's whole history (a 10M-result run
//! page took 1.5 s instead of 5 ms); without a visibility map no scan is index-only. Autovacuum
//! keeps both fresh where it is on and keeping up, but it can be off (it is on the reference
//! machine), so Testvault does not rely on it: after ingest has written a tenth of the results
//! table (at least `MIN_ROWS`) since the last pass, one `VACUUM (ANALYZE)` runs in the background.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// Rows written before the first pass, and the least between two.
const MIN_ROWS: i64 = 10_000;

const TABLES: &str = "runs, run_suites, tests, results, result_terms";

/// Shared by every clone of a PostgreSQL store.
pub(crate) struct Upkeep {
    /// The configured login, which owns the tables (the application role may not vacuum them).
    owner: PgConnectOptions,
    written: AtomicI64,
    /// Rows in `results` at the last pass: the next one is due after a tenth of that.
    rows_then: AtomicI64,
    running: AtomicBool,
}

impl Upkeep {
    pub(crate) fn new(owner: PgConnectOptions) -> Arc<Upkeep> {
        Arc::new(Upkeep {
            owner,
            written: AtomicI64::new(0),
            rows_then: AtomicI64::new(0),
            running: AtomicBool::new(false),
        })
    }

    /// Counts rows an ingest committed and starts a pass when one is due (and none runs).
    pub(crate) fn wrote(self: &Arc<Self>, rows: i64) {
        let written = self.written.fetch_add(rows, Ordering::Relaxed) + rows;
        let due = MIN_ROWS.max(self.rows_then.load(Ordering::Relaxed) / 10);
        if written < due || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.written.store(0, Ordering::Relaxed);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match me.pass().await {
                Ok(rows) => {
                    me.rows_then.store(rows, Ordering::Relaxed);
                    tracing::info!(
                        results = rows,
                        secs = started.elapsed().as_secs_f64(),
                        "vacuumed and analyzed the result tables"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "vacuuming the result tables failed"),
            }
            me.running.store(false, Ordering::Release);
        });
    }

    /// One `VACUUM (ANALYZE)` on its own connection (it cannot run in a transaction); returns
    /// the results table's row estimate afterwards.
    async fn pass(&self) -> Result<i64, sqlx::Error> {
        // A pass takes seconds by nature: not a slow statement worth a warning.
        let mut conn = self
            .owner
            .clone()
            .disable_statement_logging()
            .connect()
            .await?;
        conn.execute(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {TABLES}")))
            .await?;
        let rows: f32 =
            sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'results'::regclass")
                .fetch_one(&mut conn)
                .await?;
        let _ = conn.close().await;
        Ok(rows.max(0.0) as i64)
    }
}
