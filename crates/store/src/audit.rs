//! The audit trail: events appended in the same transaction as the change they record, chained
//! per org by hash. Rows are append-only (database triggers refuse UPDATE and DELETE).

use crate::db::on_org;
use crate::{Store, StoreError};
use sqlx::Row;
use std::borrow::Cow;
use testvault_domain::OrgId;

/// One event to append. Secrets never go in `before`/`after`.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub org: OrgId,
    pub at: i64,
    /// `user`, `token`, `operator` or `anonymous`.
    pub actor_type: Cow<'static, str>,
    pub actor_id: String,
    pub actor_label: String,
    /// `project.created`, `auth.sign_in_failed`, …
    pub action: Cow<'static, str>,
    pub target_type: Cow<'static, str>,
    pub target_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub entry: AuditEntry,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

fn opt(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("1{s}"),
        None => "0".to_string(),
    }
}

impl AuditEntry {
    /// The event's hash given its number and the previous event's hash.
    pub fn chain_hash(&self, seq: i64, prev: &[u8]) -> Vec<u8> {
        let org = self.org.to_string();
        let seq = seq.to_string();
        let at = self.at.to_string();
        let before = opt(&self.before);
        let after = opt(&self.after);
        testvault_crypto::audit::chain_hash(
            prev,
            &[
                &org,
                &seq,
                &at,
                &self.actor_type,
                &self.actor_id,
                &self.actor_label,
                &self.action,
                &self.target_type,
                &self.target_id,
                &before,
                &after,
                &self.ip,
                &self.user_agent,
                &self.request_id,
            ],
        )
    }
}

/// Appends `$entry` inside the open transaction `$tx`. Call it after the change's own
/// statements: on SQLite the transaction then already holds the write lock; on PostgreSQL a
/// per-org advisory lock orders concurrent appends.
macro_rules! append {
    ($tx:expr, $entry:expr, $is_pg:expr) => {{
        let entry: &$crate::AuditEntry = $entry;
        if $is_pg {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind($crate::audit::lock_key(entry.org))
                .execute(&mut *$tx)
                .await?;
        }
        // The newest event, or the anchor left by retention when every event was purged.
        let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, hash FROM audit_events WHERE org_id = $1 \
             UNION ALL SELECT seq, hash FROM audit_anchors WHERE org_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(entry.org.0)
        .fetch_optional(&mut *$tx)
        .await?;
        let (seq, prev) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, testvault_crypto::audit::GENESIS.to_vec()),
        };
        let hash = entry.chain_hash(seq, &prev);
        sqlx::query(
            "INSERT INTO audit_events (org_id, seq, at, actor_type, actor_id, actor_label, action, target_type, target_id, \
             before_json, after_json, ip, user_agent, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
            .bind(entry.org.0)
            .bind(seq)
            .bind(entry.at)
            .bind(entry.actor_type.as_ref())
            .bind(&entry.actor_id)
            .bind(&entry.actor_label)
            .bind(entry.action.as_ref())
            .bind(entry.target_type.as_ref())
            .bind(&entry.target_id)
            .bind(&entry.before)
            .bind(&entry.after)
            .bind(&entry.ip)
            .bind(&entry.user_agent)
            .bind(&entry.request_id)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use append;

/// Runs one UPDATE/DELETE and, when it touched any row, appends `$audit` — in one transaction.
/// Evaluates to the number of rows touched. `$query` is written once and compiled per backend.
macro_rules! change_if_any {
    ($store:expr, $audit:expr, $query:expr) => {
        $crate::audit::change_if_any!($store, $audit, $query, $crate::StoreError::from)
    };
    // `$on_error` turns the statement's error into a `StoreError` (a unique violation into a
    // `Conflict` naming what exists).
    ($store:expr, $audit:expr, $query:expr, $on_error:expr) => {{
        let is_pg = $store.is_pg();
        let audit: &$crate::AuditEntry = $audit;
        $crate::db::on_org!($store, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let n = $query.execute(&mut *tx).await.map_err($on_error)?.rows_affected();
            if n > 0 {
                $crate::audit::append!(tx, $audit, is_pg);
            }
            tx.commit().await?;
            n
        })
    }};
}
pub(crate) use change_if_any;

/// The SQLite half of `purge_audit` (the PostgreSQL half is the `audit_purge` function, same
/// steps). A macro so it type-checks against either backend's transaction.
macro_rules! purge_in_sqlite {
    ($tx:expr, $org:expr) => {{
        let org: OrgId = $org;
        let now = testvault_domain::time::now();
        let days: Option<i64> = sqlx::query_scalar("SELECT audit_retention_days FROM orgs WHERE id = $1")
            .bind(org.0)
            .fetch_optional(&mut *$tx)
            .await?;
        match days {
            None => 0_i64,
            Some(days) => {
                let cutoff = now - days * 86_400;
                let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE org_id = $1 AND at >= $2")
                    .bind(org.0)
                    .bind(cutoff)
                    .fetch_one(&mut *$tx)
                    .await?;
                let last: Option<(i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT seq, hash FROM audit_events WHERE org_id = $1 AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT 1")
                    .bind(org.0)
                    .bind(first_kept)
                    .fetch_optional(&mut *$tx)
                    .await?;
                match last {
                    None => 0,
                    Some((seq, hash)) => {
                        let removed = sqlx::query("DELETE FROM audit_events WHERE org_id = $1 AND seq <= $2")
                            .bind(org.0)
                            .bind(seq)
                            .execute(&mut *$tx)
                            .await?
                            .rows_affected();
                        sqlx::query("INSERT INTO audit_anchors (org_id, seq, hash, purged_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, purged_at = excluded.purged_at")
                            .bind(org.0)
                            .bind(seq)
                            .bind(hash)
                            .bind(now)
                            .execute(&mut *$tx)
                            .await?;
                        i64::try_from(removed).unwrap_or(i64::MAX)
                    }
                }
            }
        }
    }};
}

/// The advisory-lock key for an org's chain.
pub(crate) fn lock_key(org: OrgId) -> i64 {
    let b = org.0.as_bytes();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

macro_rules! audit_from_row {
    ($row:expr) => {{
        let r = $row;
        let actor_type: String = r.try_get("actor_type")?;
        let action: String = r.try_get("action")?;
        let target_type: String = r.try_get("target_type")?;
        Ok::<_, StoreError>(AuditRow {
            seq: r.try_get("seq")?,
            entry: AuditEntry {
                org: OrgId(r.try_get("org_id")?),
                at: r.try_get("at")?,
                actor_type: Cow::Owned(actor_type),
                actor_id: r.try_get("actor_id")?,
                actor_label: r.try_get("actor_label")?,
                action: Cow::Owned(action),
                target_type: Cow::Owned(target_type),
                target_id: r.try_get("target_id")?,
                before: r.try_get("before_json")?,
                after: r.try_get("after_json")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
                request_id: r.try_get("request_id")?,
            },
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }};
}

const COLUMNS: &str = "org_id, seq, at, actor_type, actor_id, actor_label, action, target_type, target_id, \
    before_json, after_json, ip, user_agent, request_id, prev_hash, hash";

impl Store {
    pub(crate) fn is_pg(&self) -> bool {
        self.backend() == crate::Backend::Postgres
    }

    /// Appends one event on its own (for events with no other change, like a failed sign-in).
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        // The append reads the chain's last hash, then writes: on SQLite the transaction takes
        // the write lock first (a read snapshot could not be upgraded under concurrent writes).
        match &self.db {
            crate::db::Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                append!(tx, entry, false);
                tx.commit().await?;
            }
            crate::db::Db::Pg(pool) => {
                let mut tx =
                    crate::db::begin_scoped(pool, crate::db::Scope::Org(entry.org)).await?;
                append!(tx, entry, true);
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// An org's events, newest first, filtered.
    pub async fn list_audit(
        &self,
        org: OrgId,
        f: &AuditFilter,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE org_id = $1 \
             AND ($2 IS NULL OR actor_label = $2 OR actor_id = $2) AND ($3 IS NULL OR action = $3) \
             AND ($4 IS NULL OR target_id = $4 OR target_type = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at <= $6) \
             ORDER BY seq DESC LIMIT $7"
        );
        on_org!(self, org, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(org.0)
                .bind(&f.actor)
                .bind(&f.action)
                .bind(&f.target)
                .bind(f.since)
                .bind(f.until)
                .bind(f.limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| audit_from_row!(r)).collect()
        })
    }

    /// Where an org's chain starts after retention purged its oldest events: the last purged
    /// event's number and hash. `None` while nothing was purged (the chain starts at genesis).
    pub async fn audit_anchor(&self, org: OrgId) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = on_org!(self, org, pool => sqlx::query_as("SELECT seq, hash FROM audit_anchors WHERE org_id = $1")
            .bind(org.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Deletes the oldest run of the org's events older than its retention and moves the
    /// chain's anchor to the last one deleted. Returns how many were deleted. On PostgreSQL this
    /// is the `audit_purge` function: the application role has no DELETE on audit rows.
    pub async fn purge_audit(&self, org: OrgId) -> Result<u64, StoreError> {
        let lock = lock_key(org);
        let removed: i64 = on_org!(self, org, pool => {
            if self.is_pg() {
                sqlx::query_scalar("SELECT audit_purge($1, $2)")
                    .bind(org.0)
                    .bind(lock)
                    .fetch_one(pool)
                    .await?
            } else {
                let mut tx = pool.begin().await?;
                let removed = purge_in_sqlite!(tx, org);
                tx.commit().await?;
                removed
            }
        });
        Ok(u64::try_from(removed).unwrap_or(0))
    }

    /// The whole chain of an org, oldest first (for verification).
    pub async fn audit_chain(&self, org: OrgId) -> Result<Vec<AuditRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE org_id = $1 ORDER BY seq");
        on_org!(self, org, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(org.0)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| audit_from_row!(r)).collect()
        })
    }
}
