//! ReportPortal launches in flight (items, logs) and files attached to results. Free text
//! arrives sealed by core.

use crate::db::on_org;
use crate::{Store, StoreError};
use sqlx::Row;
use testvault_domain::{OrgId, RunId};
use uuid::Uuid;

/// An item of a launch's tree.
#[derive(Debug, Clone)]
pub struct ItemRow {
    pub id: Uuid,
    pub run: RunId,
    pub parent: Option<Uuid>,
    pub kind: String,
    pub name: String,
    /// JSON array of names, outermost first.
    pub suite_path: String,
    /// JSON array of `[name, value]`.
    pub parameters: String,
    /// JSON array of `[key, value]`.
    pub attributes: String,
    pub code_ref: Option<String>,
    pub has_stats: bool,
    pub retry: bool,
    pub identity_hash: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: Option<String>,
    pub description: Option<Vec<u8>>,
}

/// A log line of an item (or of the launch), its message sealed.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub id: Uuid,
    pub item: Option<Uuid>,
    pub level: String,
    pub logged_at: i64,
    pub message: Vec<u8>,
}

/// A file attached to a test's result; `content` is sealed (absent in lists).
#[derive(Debug, Clone)]
pub struct ResultFileRow {
    pub id: Uuid,
    pub run: RunId,
    pub identity_hash: i64,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub created_at: i64,
    pub content: Option<Vec<u8>>,
    /// The test it belongs to (`suite › name`), in lists.
    pub test: Option<String>,
}

type LogColumns = (Uuid, Option<Uuid>, String, i64, Vec<u8>);

const ITEM_COLUMNS: &str = "id, run_id, parent_id, kind, name, suite_path, parameters, attributes, code_ref, has_stats, retry, \
     identity_hash, started_at, finished_at, status, description";

macro_rules! item_from_row {
    ($r:expr) => {{
        let r = $r;
        Ok::<_, StoreError>(ItemRow {
            id: r.try_get("id")?,
            run: RunId(r.try_get("run_id")?),
            parent: r.try_get("parent_id")?,
            kind: r.try_get("kind")?,
            name: r.try_get("name")?,
            suite_path: r.try_get("suite_path")?,
            parameters: r.try_get("parameters")?,
            attributes: r.try_get("attributes")?,
            code_ref: r.try_get("code_ref")?,
            has_stats: r.try_get("has_stats")?,
            retry: r.try_get("retry")?,
            identity_hash: r.try_get("identity_hash")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
            status: r.try_get("status")?,
            description: r.try_get("description")?,
        })
    }};
}

impl Store {
    pub async fn insert_reporter_item(&self, org: OrgId, item: &ItemRow) -> Result<(), StoreError> {
        on_org!(self, org, pool => {
            sqlx::query("INSERT INTO reporter_items (id, org_id, run_id, parent_id, kind, name, suite_path, parameters, attributes, \
                 code_ref, has_stats, retry, identity_hash, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                .bind(item.id)
                .bind(org.0)
                .bind(item.run.0)
                .bind(item.parent)
                .bind(&item.kind)
                .bind(&item.name)
                .bind(&item.suite_path)
                .bind(&item.parameters)
                .bind(&item.attributes)
                .bind(&item.code_ref)
                .bind(item.has_stats)
                .bind(item.retry)
                .bind(item.identity_hash)
                .bind(item.started_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn reporter_item(&self, org: OrgId, id: Uuid) -> Result<Option<ItemRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ITEM_COLUMNS} FROM reporter_items WHERE org_id = $1 AND id = $2")))
                .bind(org.0)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| item_from_row!(r)).transpose()
        })
    }

    /// An item's direct children, oldest first.
    pub async fn reporter_children(
        &self,
        org: OrgId,
        parent: Uuid,
    ) -> Result<Vec<ItemRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ITEM_COLUMNS} FROM reporter_items WHERE org_id = $1 AND parent_id = $2 ORDER BY started_at, id")))
                .bind(org.0)
                .bind(parent)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| item_from_row!(r)).collect()
        })
    }

    /// Marks an item finished; false when it already was (a repeated finish changes nothing).
    pub async fn finish_reporter_item(
        &self,
        org: OrgId,
        id: Uuid,
        finished_at: i64,
        status: &str,
        description: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        on_org!(self, org, pool => {
            let n = sqlx::query("UPDATE reporter_items SET finished_at = $1, status = $2, description = $3 \
                 WHERE org_id = $4 AND id = $5 AND finished_at IS NULL")
                .bind(finished_at)
                .bind(status)
                .bind(description)
                .bind(org.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    pub async fn insert_reporter_log(
        &self,
        org: OrgId,
        run: RunId,
        log: &LogRow,
    ) -> Result<(), StoreError> {
        on_org!(self, org, pool => {
            sqlx::query("INSERT INTO reporter_logs (id, org_id, run_id, item_id, level, logged_at, message) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(log.id)
                .bind(org.0)
                .bind(run.0)
                .bind(log.item)
                .bind(&log.level)
                .bind(log.logged_at)
                .bind(&log.message)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The logs of these items, in time order.
    pub async fn reporter_logs(
        &self,
        org: OrgId,
        items: &[Uuid],
    ) -> Result<Vec<LogRow>, StoreError> {
        let mut out = Vec::new();
        for item in items {
            let rows: Vec<LogColumns> = on_org!(self, org, pool => {
                sqlx::query_as("SELECT id, item_id, level, logged_at, message FROM reporter_logs WHERE org_id = $1 AND item_id = $2 ORDER BY logged_at, id")
                    .bind(org.0)
                    .bind(*item)
                    .fetch_all(pool)
                    .await
            })?;
            out.extend(
                rows.into_iter()
                    .map(|(id, item, level, logged_at, message)| LogRow {
                        id,
                        item,
                        level,
                        logged_at,
                        message,
                    }),
            );
        }
        out.sort_by_key(|l| l.logged_at);
        Ok(out)
    }

    /// Stores a file, unless the run already holds `max` of them (`Refused`).
    pub async fn add_result_file(
        &self,
        org: OrgId,
        file: &ResultFileRow,
        max: i64,
    ) -> Result<(), StoreError> {
        let content = file.content.as_deref().unwrap_or_default();
        // One statement (no read-then-write transaction): SQLite never has to upgrade a lock
        // while agents send files and results at once.
        let stored = on_org!(self, org, pool => {
            sqlx::query("INSERT INTO result_files (id, org_id, run_id, identity_hash, name, media_type, size, content, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE (SELECT COUNT(*) FROM result_files WHERE org_id = $2 AND run_id = $3) < $10")
                .bind(file.id)
                .bind(org.0)
                .bind(file.run.0)
                .bind(file.identity_hash)
                .bind(&file.name)
                .bind(&file.media_type)
                .bind(file.size)
                .bind(content)
                .bind(file.created_at)
                .bind(max)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if stored == 0 {
            return Err(StoreError::Refused(
                "this run holds as many files as it may",
            ));
        }
        Ok(())
    }

    /// A run's files (without content), for one test or, with `None`, all of them.
    pub async fn result_files(
        &self,
        org: OrgId,
        run: RunId,
        identity_hash: Option<i64>,
    ) -> Result<Vec<ResultFileRow>, StoreError> {
        on_org!(self, org, pool => {
            // Each file with the name of its test, in one query.
            let rows = sqlx::query("SELECT f.id, f.identity_hash, f.name, f.media_type, f.size, f.created_at, t.suite, t.name AS test_name \
                 FROM result_files f JOIN runs r ON r.id = f.run_id \
                 LEFT JOIN tests t ON t.project_id = r.project_id AND t.identity_hash = f.identity_hash \
                 WHERE f.org_id = $1 AND f.run_id = $2 AND ($3 IS NULL OR f.identity_hash = $3) ORDER BY f.created_at, f.id")
                .bind(org.0)
                .bind(run.0)
                .bind(identity_hash)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(ResultFileRow {
                        id: r.try_get("id")?,
                        run,
                        identity_hash: r.try_get("identity_hash")?,
                        name: r.try_get("name")?,
                        media_type: r.try_get("media_type")?,
                        size: r.try_get("size")?,
                        created_at: r.try_get("created_at")?,
                        content: None,
                        test: match (
                            r.try_get::<Option<String>, _>("suite")?,
                            r.try_get::<Option<String>, _>("test_name")?,
                        ) {
                            (Some(suite), Some(name)) if !suite.is_empty() => {
                                Some(format!("{suite} › {name}"))
                            }
                            (_, name) => name,
                        },
                    })
                })
                .collect()
        })
    }

    /// One file with its sealed content.
    pub async fn result_file(
        &self,
        org: OrgId,
        run: RunId,
        id: Uuid,
    ) -> Result<Option<ResultFileRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query("SELECT id, identity_hash, name, media_type, size, created_at, content FROM result_files \
                 WHERE org_id = $1 AND run_id = $2 AND id = $3")
                .bind(org.0)
                .bind(run.0)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok(ResultFileRow {
                    id: r.try_get("id")?,
                    run,
                    identity_hash: r.try_get("identity_hash")?,
                    name: r.try_get("name")?,
                    media_type: r.try_get("media_type")?,
                    size: r.try_get("size")?,
                    created_at: r.try_get("created_at")?,
                    content: Some(r.try_get("content")?),
                    test: None,
                })
            })
            .transpose()
        })
    }
}
