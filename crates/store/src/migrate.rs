//! Forward-only schema migrations, paired by version for SQLite and PostgreSQL and embedded in the
//! binary. Applied at start; a database whose schema is newer than the binary is refused.

use crate::db::on_pool;
use crate::{Backend, Store, StoreError};

/// One schema change, in both dialects.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../../../migrations/postgres/", $file, ".sql")),
        }
    };
}

/// Every migration this binary knows, oldest first. Never edit one that has shipped: add another.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation"),
    migration!(2, "0002_api_tokens"),
    migration!(3, "0003_ip_allowlist"),
    migration!(4, "0004_audit_events"),
    migration!(5, "0005_roles_and_grants"),
    migration!(6, "0006_audit_retention_and_row_security"),
    migration!(7, "0007_runs_and_results"),
    migration!(8, "0008_test_quarantine"),
    migration!(9, "0009_cluster_labels"),
    migration!(10, "0010_report_precomputation"),
    migration!(11, "0011_test_cases"),
    migration!(12, "0012_plans_and_manual_runs"),
    migration!(13, "0013_shared_steps"),
    migration!(14, "0014_verdict_files"),
    migration!(15, "0015_reporters"),
    migration!(16, "0016_second_factor"),
    migration!(17, "0017_sign_in_links"),
    migration!(18, "0018_proof_of_work"),
    migration!(19, "0019_second_factor_attempts"),
    migration!(20, "0020_single_sign_on"),
    migration!(21, "0021_passkeys"),
    migration!(22, "0022_leaner_test_rows"),
    migration!(23, "0023_one_index_less_per_result"),
    migration!(24, "0024_run_index_by_id"),
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL)";

pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    on_pool!(store, pool => sqlx::query(CREATE_TABLE).execute(pool).await.map(|_| ()))?;
    let current = current_version(store).await?;
    if current > latest_version() {
        return Err(StoreError::SchemaTooNew {
            db: current,
            binary: latest_version(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        apply(store, m).await?;
    }
    check_prerelease_schema(store).await
}

/// Migration 7 changed before any release (tests became keyed by `identity_hash`). A database
/// made by a build of that time has version 7 without the column: say so plainly instead of
/// failing on the first upload.
async fn check_prerelease_schema(store: &Store) -> Result<(), StoreError> {
    let probe = on_pool!(store, pool => sqlx::query("SELECT identity_hash FROM tests WHERE 1 = 0")
        .execute(pool)
        .await
        .map(|_| ()));
    probe.map_err(|_| StoreError::PrereleaseSchema)
}

/// The highest applied version (0 on an empty database).
pub async fn current_version(store: &Store) -> Result<i64, StoreError> {
    let v: i64 = on_pool!(store, pool => sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(pool)
        .await)?;
    Ok(v)
}

async fn apply(store: &Store, m: &Migration) -> Result<(), StoreError> {
    let fail = |source| StoreError::Migration {
        version: m.version,
        name: m.name,
        source,
    };
    let (sql, is_pg) = match store.backend() {
        Backend::Sqlite => (m.sqlite, false),
        Backend::Postgres => (m.postgres, true),
    };
    on_pool!(store, pool => {
        let mut tx = pool.begin().await?;
        if is_pg {
            // Several instances may start at once: one migrates, the others wait, then see it done.
            sqlx::query("SELECT pg_advisory_xact_lock(7400417)").execute(&mut *tx).await?;
        }
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(testvault_domain::time::now())
                .execute(&mut *tx)
                .await?;
            tracing::info!(migration.version = m.version, migration.name = m.name, "applied schema migration");
        }
        tx.commit().await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn files(dialect: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(dialect);
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn sqlite_and_postgres_migrations_are_paired() {
        let sqlite = files("sqlite");
        let postgres = files("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "every migration needs both dialects, same file name"
        );
        let embedded: BTreeSet<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(
            embedded, sqlite,
            "every migration file must be listed in MIGRATIONS"
        );
    }

    #[test]
    fn versions_increase_and_match_file_names() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
