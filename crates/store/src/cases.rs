//! The manual test repository: suites (a tree per project), cases and their versions. Core builds
//! every value written here (validation, JSON, search text, sealing); this module only stores
//! and reads rows, always scoped by org and project.

use crate::db::on_org;
use crate::{AuditEntry, Store, StoreError};
use sqlx::Row;
use testvault_domain::{OrgId, ProjectId, UserId};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SuiteRow {
    pub id: Uuid,
    pub parent: Option<Uuid>,
    pub name: String,
    pub position: i64,
}

/// The columns of a case that an edit writes (everything but identity, version and authorship).
#[derive(Debug, Clone)]
pub struct CaseWrite {
    pub suite: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub preconditions: String,
    /// JSON array of steps.
    pub steps: String,
    /// Space-separated with a space on each side (` smoke login `), or empty.
    pub tags: String,
    pub priority: String,
    pub kind: String,
    pub status: String,
    pub owner: Option<UserId>,
    /// JSON object: custom field id -> value.
    pub fields: String,
    /// `import-tests`' identity of the test: file, suite path and name.
    pub code_ref: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub source_sealed: Option<Vec<u8>>,
    pub removed_at: Option<i64>,
    pub search_text: String,
}

/// A version to record with a write.
#[derive(Debug, Clone)]
pub struct VersionWrite {
    /// JSON of the editable content.
    pub snapshot: String,
    pub summary: String,
    pub author: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: Uuid,
    pub key: String,
    pub position: i64,
    pub write: CaseWrite,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct CaseVersionRow {
    pub version: i64,
    pub snapshot: String,
    pub summary: String,
    pub author: String,
    pub created_at: i64,
}

/// What a case list selects; empty parts select everything.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases in these suites (core expands a suite to its descendants). `Some(empty)` with
    /// `unfiled` selects only cases outside any suite.
    pub suites: Option<Vec<Uuid>>,
    pub unfiled: bool,
    /// Each word must occur in the search text (lowercase, LIKE-escaped by the store).
    pub words: Vec<String>,
    /// Each tag must be on the case.
    pub tags: Vec<String>,
    pub priority: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub owner: Option<UserId>,
    pub include_removed: bool,
    pub keys: Vec<String>,
    /// Only cases imported from code.
    pub from_code: bool,
}

const CASE_COLUMNS: &str = "id, key, suite_id, position, title, description, preconditions, steps, tags, priority, kind, status, owner_id, fields, \
     code_ref, file, line, source_sealed, removed_at, search_text, version, created_by, created_at, updated_by, updated_at";

macro_rules! case_from_row {
    ($row:expr) => {{
        let r = $row;
        Ok::<_, StoreError>(CaseRow {
            id: r.try_get("id")?,
            key: r.try_get("key")?,
            position: r.try_get("position")?,
            write: CaseWrite {
                suite: r.try_get("suite_id")?,
                title: r.try_get("title")?,
                description: r.try_get("description")?,
                preconditions: r.try_get("preconditions")?,
                steps: r.try_get("steps")?,
                tags: r.try_get("tags")?,
                priority: r.try_get("priority")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                owner: r.try_get::<Option<Uuid>, _>("owner_id")?.map(UserId),
                fields: r.try_get("fields")?,
                code_ref: r.try_get("code_ref")?,
                file: r.try_get("file")?,
                line: r.try_get("line")?,
                source_sealed: r.try_get("source_sealed")?,
                removed_at: r.try_get("removed_at")?,
                search_text: r.try_get("search_text")?,
            },
            version: r.try_get("version")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            updated_by: r.try_get("updated_by")?,
            updated_at: r.try_get("updated_at")?,
        })
    }};
}

/// Inserts one version row inside the caller's transaction.
macro_rules! insert_version {
    ($tx:expr, $org:expr, $case:expr, $number:expr, $v:expr) => {{
        let v: &VersionWrite = $v;
        sqlx::query("INSERT INTO case_versions (case_id, version, org_id, snapshot, summary, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind($case)
            .bind($number)
            .bind($org)
            .bind(&v.snapshot)
            .bind(&v.summary)
            .bind(&v.author)
            .bind(v.at)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Renumbers `ids` 1.. in their order (a sibling list after a move).
macro_rules! renumber {
    ($tx:expr, $table:literal, $ids:expr) => {{
        for (i, id) in $ids.iter().enumerate() {
            sqlx::query(concat!(
                "UPDATE ",
                $table,
                " SET position = $1 WHERE id = $2"
            ))
            .bind(i as i64 + 1)
            .bind(*id)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Where an imported case's test is now.
#[derive(Debug, Clone)]
pub struct CaseCode {
    pub id: Uuid,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub source_sealed: Option<Vec<u8>>,
    pub removed_at: Option<i64>,
}

/// Moves row `$id` of `$table` under `$parent` (column `$parent_col`) at 1-based `$position`
/// among its new siblings (past the end: last) and renumbers them, in one transaction with the
/// audit event. A suite and a case are placed the same way.
macro_rules! place_among_siblings {
    ($store:expr, $audit:expr, $table:literal, $parent_col:literal, $tie:literal, $project:expr, $id:expr, $parent:expr, $position:expr, $what:literal) => {{
        let is_pg = $store.is_pg();
        let audit: &AuditEntry = $audit;
        let (project, id, parent, position): (ProjectId, Uuid, Option<Uuid>, i64) = ($project, $id, $parent, $position);
        on_org!($store, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let mut siblings: Vec<Uuid> = sqlx::query_scalar(concat!(
                "SELECT id FROM ", $table, " WHERE project_id = $1 AND (", $parent_col, " = $2 OR (", $parent_col,
                " IS NULL AND $2 IS NULL)) AND id <> $3 ORDER BY position, ", $tie))
                .bind(project.0)
                .bind(parent)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let at = usize::try_from(position.max(1) - 1).unwrap_or(0).min(siblings.len());
            siblings.insert(at, id);
            let n = sqlx::query(concat!("UPDATE ", $table, " SET ", $parent_col, " = $1 WHERE org_id = $2 AND project_id = $3 AND id = $4"))
                .bind(parent)
                .bind(audit.org.0)
                .bind(project.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, concat!("a ", $what, " with this name there")))?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::Stale(concat!("the ", $what, " no longer exists")));
            }
            renumber!(tx, $table, siblings);
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }};
}

/// A new case with its first version.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: Uuid,
    pub key: String,
    pub write: CaseWrite,
    pub version: VersionWrite,
}

/// One case's edit: written only if the case is still at `expected_version`.
#[derive(Debug, Clone)]
pub struct CaseUpdate {
    pub id: Uuid,
    pub expected_version: i64,
    pub write: CaseWrite,
    pub version: VersionWrite,
}

impl Store {
    pub async fn list_suites(
        &self,
        org: OrgId,
        project: ProjectId,
    ) -> Result<Vec<SuiteRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(Uuid, Option<Uuid>, String, i64)> = sqlx::query_as(
                "SELECT id, parent_id, name, position FROM case_suites WHERE org_id = $1 AND project_id = $2 ORDER BY position, name")
                .bind(org.0)
                .bind(project.0)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, parent, name, position)| SuiteRow { id, parent, name, position })
                .collect())
        })
    }

    /// Adds suites in order (each may be the parent of a later one), each last among its
    /// siblings; one audit event for all.
    pub async fn create_suites(
        &self,
        org: OrgId,
        project: ProjectId,
        suites: &[(Uuid, Option<Uuid>, String)],
        now: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            for (id, parent, name) in suites {
                let next: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(position), 0) + 1 FROM case_suites WHERE project_id = $1 AND (parent_id = $2 OR (parent_id IS NULL AND $2 IS NULL))")
                    .bind(project.0)
                    .bind(*parent)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO case_suites (id, org_id, project_id, parent_id, name, position, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(*id)
                    .bind(org.0)
                    .bind(project.0)
                    .bind(*parent)
                    .bind(name)
                    .bind(next)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::unique(e, "a suite with this name here"))?;
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn rename_suite(
        &self,
        project: ProjectId,
        suite: Uuid,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let n =
            crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE case_suites SET name = $1 WHERE org_id = $2 AND project_id = $3 AND id = $4")
            .bind(name)
            .bind(audit.org.0)
            .bind(project.0)
            .bind(suite), |e| StoreError::unique(e, "a suite with this name here"));
        Ok(n > 0)
    }

    /// Puts a suite under `parent` at `position` (1-based among its new siblings; past the end
    /// means last). Core has checked that `parent` is not the suite or one of its descendants.
    pub async fn move_suite(
        &self,
        project: ProjectId,
        suite: Uuid,
        parent: Option<Uuid>,
        position: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        place_among_siblings!(
            self,
            audit,
            "case_suites",
            "parent_id",
            "name",
            project,
            suite,
            parent,
            position,
            "suite"
        )
    }

    /// Deletes an empty suite (no cases, no sub-suites); `Refused` otherwise.
    pub async fn delete_suite(
        &self,
        project: ProjectId,
        suite: Uuid,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, audit.org, pool => {
            let mut tx = pool.begin().await?;
            let used: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM cases WHERE project_id = $1 AND suite_id = $2) + (SELECT COUNT(*) FROM case_suites WHERE project_id = $1 AND parent_id = $2)")
                .bind(project.0)
                .bind(suite)
                .fetch_one(&mut *tx)
                .await?;
            if used > 0 {
                return Err(StoreError::Refused("the suite still holds cases or suites: move or delete them first"));
            }
            let n = sqlx::query("DELETE FROM case_suites WHERE org_id = $1 AND project_id = $2 AND id = $3")
                .bind(audit.org.0)
                .bind(project.0)
                .bind(suite)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                crate::audit::append!(tx, audit, is_pg);
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Creates cases, each last in its suite, with version 1; all or none.
    pub async fn create_cases(
        &self,
        org: OrgId,
        project: ProjectId,
        cases: &[NewCase],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            for c in cases {
                let w = &c.write;
                let next: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(position), 0) + 1 FROM cases WHERE project_id = $1 AND (suite_id = $2 OR (suite_id IS NULL AND $2 IS NULL))")
                    .bind(project.0)
                    .bind(w.suite)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO cases (id, org_id, project_id, key, suite_id, position, title, description, preconditions, steps, tags, priority, kind, status, owner_id, fields, \
                     code_ref, file, line, source_sealed, removed_at, search_text, version, created_by, created_at, updated_by, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $24, $17, $18, $19, $20, $21, 1, $22, $23, $22, $23)")
                    .bind(c.id)
                    .bind(org.0)
                    .bind(project.0)
                    .bind(&c.key)
                    .bind(w.suite)
                    .bind(next)
                    .bind(&w.title)
                    .bind(&w.description)
                    .bind(&w.preconditions)
                    .bind(&w.steps)
                    .bind(&w.tags)
                    .bind(&w.priority)
                    .bind(&w.kind)
                    .bind(&w.status)
                    .bind(w.owner.map(|u| u.0))
                    .bind(&w.fields)
                    .bind(&w.file)
                    .bind(w.line)
                    .bind(&w.source_sealed)
                    .bind(w.removed_at)
                    .bind(&w.search_text)
                    .bind(&c.version.author)
                    .bind(c.version.at)
                    .bind(&w.code_ref)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::unique(e, "a case with this id or test"))?;
                insert_version!(tx, org.0, c.id, 1_i64, &c.version);
            }
            for a in audit {
                crate::audit::append!(tx, a, is_pg);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Writes edits to cases, each as a new version; all or none. A case changed since its
    /// `expected_version` was read refuses the whole write (`Stale`).
    pub async fn update_cases(
        &self,
        org: OrgId,
        project: ProjectId,
        updates: &[CaseUpdate],
        audit: &[AuditEntry],
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            for u in updates {
                let w = &u.write;
                let next = u.expected_version + 1;
                let n = sqlx::query(
                    "UPDATE cases SET suite_id = $1, title = $2, description = $3, preconditions = $4, steps = $5, tags = $6, priority = $7, kind = $8, status = $9, \
                     owner_id = $10, fields = $11, file = $12, line = $13, source_sealed = $14, removed_at = $15, search_text = $16, version = $17, \
                     updated_by = $18, updated_at = $19, code_ref = $24, \
                     position = CASE WHEN suite_id = $1 OR (suite_id IS NULL AND $1 IS NULL) THEN position \
                       ELSE (SELECT COALESCE(MAX(c2.position), 0) + 1 FROM cases c2 WHERE c2.project_id = $21 AND (c2.suite_id = $1 OR (c2.suite_id IS NULL AND $1 IS NULL))) END \
                     WHERE org_id = $20 AND project_id = $21 AND id = $22 AND version = $23")
                    .bind(w.suite)
                    .bind(&w.title)
                    .bind(&w.description)
                    .bind(&w.preconditions)
                    .bind(&w.steps)
                    .bind(&w.tags)
                    .bind(&w.priority)
                    .bind(&w.kind)
                    .bind(&w.status)
                    .bind(w.owner.map(|u| u.0))
                    .bind(&w.fields)
                    .bind(&w.file)
                    .bind(w.line)
                    .bind(&w.source_sealed)
                    .bind(w.removed_at)
                    .bind(&w.search_text)
                    .bind(next)
                    .bind(&u.version.author)
                    .bind(u.version.at)
                    .bind(org.0)
                    .bind(project.0)
                    .bind(u.id)
                    .bind(u.expected_version)
                    .bind(&w.code_ref)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::Stale(
                        "the case was changed by someone else since you opened it: reload it and edit again",
                    ));
                }
                insert_version!(tx, org.0, u.id, next, &u.version);
            }
            for a in audit {
                crate::audit::append!(tx, a, is_pg);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Puts a case at `position` (1-based) in `suite` without a new version: order is
    /// organisation, not content.
    pub async fn place_case(
        &self,
        project: ProjectId,
        case: Uuid,
        suite: Option<Uuid>,
        position: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        place_among_siblings!(
            self, audit, "cases", "suite_id", "key", project, case, suite, position, "case"
        )
    }

    pub async fn get_case(
        &self,
        org: OrgId,
        project: ProjectId,
        key: &str,
    ) -> Result<Option<CaseRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE org_id = $1 AND project_id = $2 AND key = $3")))
                .bind(org.0)
                .bind(project.0)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            row.map(|r| case_from_row!(r)).transpose()
        })
    }

    /// Cases matching `filter`, in suite and position order, at most `limit`.
    pub async fn list_cases(
        &self,
        org: OrgId,
        project: ProjectId,
        filter: &CaseFilter,
        limit: i64,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let mut sql =
            format!("SELECT {CASE_COLUMNS} FROM cases WHERE org_id = $1 AND project_id = $2");
        let mut n = 2;
        let mut next = || {
            n += 1;
            n
        };
        let suites = filter.suites.clone().unwrap_or_default();
        if filter.suites.is_some() {
            let parts: Vec<String> = suites.iter().map(|_| format!("${}", next())).collect();
            let mut any: Vec<String> = Vec::new();
            if !parts.is_empty() {
                any.push(format!("suite_id IN ({})", parts.join(", ")));
            }
            if filter.unfiled {
                any.push("suite_id IS NULL".into());
            }
            if any.is_empty() {
                any.push("1 = 0".into());
            }
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        for _ in &filter.words {
            sql.push_str(&format!(" AND search_text LIKE ${} ESCAPE '\\'", next()));
        }
        for _ in &filter.tags {
            sql.push_str(&format!(" AND tags LIKE ${} ESCAPE '\\'", next()));
        }
        for (value, column) in [
            (&filter.priority, "priority"),
            (&filter.kind, "kind"),
            (&filter.status, "status"),
        ] {
            if value.is_some() {
                sql.push_str(&format!(" AND {column} = ${}", next()));
            }
        }
        if filter.owner.is_some() {
            sql.push_str(&format!(" AND owner_id = ${}", next()));
        }
        if !filter.keys.is_empty() {
            let parts: Vec<String> = filter.keys.iter().map(|_| format!("${}", next())).collect();
            sql.push_str(&format!(" AND key IN ({})", parts.join(", ")));
        }
        if filter.from_code {
            sql.push_str(" AND code_ref IS NOT NULL");
        }
        if !filter.include_removed {
            sql.push_str(" AND removed_at IS NULL");
        }
        sql.push_str(&format!(" ORDER BY position, key LIMIT ${}", next()));
        on_org!(self, org, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(org.0).bind(project.0);
            for s in &suites {
                q = q.bind(*s);
            }
            for w in &filter.words {
                q = q.bind(format!("%{}%", crate::like_escape(w)));
            }
            for t in &filter.tags {
                q = q.bind(format!("% {} %", crate::like_escape(t)));
            }
            for value in [&filter.priority, &filter.kind, &filter.status].into_iter().flatten() {
                q = q.bind(value.clone());
            }
            if let Some(owner) = filter.owner {
                q = q.bind(owner.0);
            }
            for k in &filter.keys {
                q = q.bind(k.clone());
            }
            let rows = q.bind(limit).fetch_all(pool).await?;
            rows.into_iter().map(|r| case_from_row!(r)).collect()
        })
    }

    /// Records where imported tests now are (file, line, sealed source) and which are gone from
    /// the code, without new versions: the case's content did not change.
    pub async fn update_case_code(
        &self,
        org: OrgId,
        project: ProjectId,
        code: &[CaseCode],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            for c in code {
                sqlx::query("UPDATE cases SET file = $1, line = $2, source_sealed = $3, removed_at = $4 WHERE org_id = $5 AND project_id = $6 AND id = $7")
                    .bind(&c.file)
                    .bind(c.line)
                    .bind(&c.source_sealed)
                    .bind(c.removed_at)
                    .bind(org.0)
                    .bind(project.0)
                    .bind(c.id)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn case_versions(
        &self,
        org: OrgId,
        case: Uuid,
    ) -> Result<Vec<CaseVersionRow>, StoreError> {
        on_org!(self, org, pool => {
            let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
                "SELECT version, snapshot, summary, author, created_at FROM case_versions WHERE org_id = $1 AND case_id = $2 ORDER BY version DESC")
                .bind(org.0)
                .bind(case)
                .fetch_all(pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(version, snapshot, summary, author, created_at)| CaseVersionRow { version, snapshot, summary, author, created_at })
                .collect())
        })
    }
}
