//! Runs and their results. Results arrive in batches inside one `IngestTx` per upload (or per
//! appended batch): nothing is visible until it commits, and a rejected upload stores nothing.
//! Bulk statements differ per backend (multi-row VALUES on SQLite, UNNEST arrays on PostgreSQL),
//! so this module matches on the backend where the shared `on_org!` text would cost round trips.

use crate::db::{Db, Scope, begin_scoped, on_org};
use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;
use testvault_domain::{OrgId, ProjectId, RunId};

/// A run to create.
pub struct NewRun<'a> {
    pub id: RunId,
    pub org: OrgId,
    pub project: ProjectId,
    pub title: &'a str,
    pub branch: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub build_url: Option<&'a str>,
    pub build_name: Option<&'a str>,
    /// JSON object of environment facts.
    pub environment: &'a str,
    /// Space-separated.
    pub tags: &'a str,
    pub shards_expected: Option<i32>,
    /// Who created it: a user's email or `tvt_<prefix>`.
    pub created_by: &'a str,
    pub now: i64,
}

/// How many results a run (or a batch) holds, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub errored: i64,
    pub skipped: i64,
    pub flaky: i64,
    pub duration_ms: i64,
}

impl RunCounts {
    /// Takes a stored result back out (a reporter's repeated report replaces it).
    fn remove(&mut self, r: &StoredResult) {
        self.total -= 1;
        match r.outcome {
            0 => self.passed -= 1,
            1 => self.failed -= 1,
            2 => self.errored -= 1,
            _ => self.skipped -= 1,
        }
        if r.flaky {
            self.flaky -= 1;
        }
        self.duration_ms = self.duration_ms.saturating_sub(r.duration_ms.unwrap_or(0));
    }

    fn add(&mut self, row: &ResultRow) {
        self.total += 1;
        match row.outcome {
            0 => self.passed += 1,
            1 => self.failed += 1,
            2 => self.errored += 1,
            _ => self.skipped += 1,
        }
        if row.flaky {
            self.flaky += 1;
        }
        self.duration_ms = self
            .duration_ms
            .saturating_add(row.duration_ms.unwrap_or(0));
    }
}

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: RunId,
    pub project: ProjectId,
    pub number: i64,
    pub title: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub build_url: Option<String>,
    pub build_name: Option<String>,
    pub environment: String,
    pub tags: String,
    pub finished: bool,
    pub shards_expected: Option<i32>,
    pub shards_finished: i64,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub counts: RunCounts,
}

/// One result ready to store: identity in clear, free text already sealed by core.
#[derive(Debug, Clone)]
pub struct ResultRow {
    /// `TestIdentity::hash64()`: the key of the identity cache and of the store's lookups.
    pub identity_hash: u64,
    pub identity_key: String,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
    /// 0 passed, 1 failed, 2 errored, 3 skipped.
    pub outcome: i16,
    pub flaky: bool,
    pub attempts: i32,
    pub duration_ms: Option<i64>,
    pub signature: Option<i64>,
    pub details: Option<Vec<u8>>,
    /// Keyed hashes of the failure message's words (the blind index).
    pub terms: Vec<Vec<u8>>,
}

/// Which of a project's runs to list (every field optional: `None` lets all through).
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub branch: Option<String>,
    pub status: Option<RunStatus>,
    /// One tag the run carries.
    pub tag: Option<String>,
    /// Created at or after (Unix seconds).
    pub since: Option<i64>,
    /// Created before (Unix seconds).
    pub until: Option<i64>,
    /// Part of the title or the commit, case-insensitive.
    pub text: Option<String>,
    /// A `LIKE` pattern over the environment's JSON text (`core` builds it from `key=value`).
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    /// Finished with no failed or errored result.
    Passed,
    /// At least one failed or errored result.
    Failed,
    /// At least one flaky result.
    Flaky,
}

impl RunStatus {
    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "passed" => RunStatus::Passed,
            "failed" => RunStatus::Failed,
            "flaky" => RunStatus::Flaky,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Flaky => "flaky",
        }
    }
}

/// `text` for a LIKE pattern with `\` as the escape: its `%`, `_` and `\` match themselves.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which of a run's results to list, and in what order (failures first by default).
#[derive(Debug, Clone, Default)]
pub struct ResultPage {
    pub outcome: Option<i16>,
    /// Part of the test's name or suite, case-insensitive…
    pub name: Option<String>,
    /// …or, as well, failure text holding every one of these keyed words (the blind index).
    pub error_terms: Vec<Vec<u8>>,
    /// Exactly this suite.
    pub suite: Option<String>,
    /// Exactly this error signature.
    pub signature: Option<i64>,
    pub slowest_first: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A run's counts for one suite (counted at ingest).
#[derive(Debug, Clone)]
pub struct SuiteCountRow {
    pub suite: String,
    pub total: i64,
    pub failing: i64,
    pub skipped: i64,
    pub flaky: i64,
    pub duration_ms: i64,
}

/// A run's failures that share an error signature.
#[derive(Debug, Clone)]
pub struct RunErrorRow {
    pub signature: i64,
    pub failures: i64,
    pub label: Option<String>,
    /// The latest of them.
    pub example: StoredResult,
}

/// How report pages name a test.
#[derive(Debug, Clone, Default)]
pub struct TestName {
    pub id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub quarantined: bool,
}

/// A test's identity as stored.
#[derive(Debug, Clone)]
pub struct TestRow {
    pub id: i64,
    pub identity_key: String,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
    /// Set while the test is quarantined.
    pub quarantined_at: Option<i64>,
    pub quarantined_by: Option<String>,
    pub quarantine_reason: Option<String>,
}

/// Failures that share an error signature.
#[derive(Debug, Clone)]
pub struct ClusterRow {
    pub signature: i64,
    pub failures: i64,
    /// Distinct tests.
    pub tests: i64,
    pub first_run: i64,
    pub last_run: i64,
    pub example_run: RunId,
    pub example_run_number: i64,
    pub label: Option<String>,
    pub note: Option<String>,
    pub example: StoredResult,
}

/// One result in a test's history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub number: i64,
    pub branch: Option<String>,
    pub created_at: i64,
    pub outcome: i16,
    pub flaky: bool,
    pub attempts: i32,
    pub duration_ms: Option<i64>,
}

/// One result as a run's page lists it.
#[derive(Debug, Clone)]
pub struct StoredResult {
    pub id: i64,
    pub test_id: i64,
    pub identity_key: String,
    /// The test's identity hash: part of what its sealed details are bound to.
    pub identity_hash: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
    pub outcome: i16,
    pub flaky: bool,
    pub attempts: i32,
    pub duration_ms: Option<i64>,
    pub signature: Option<i64>,
    pub details: Option<Vec<u8>>,
}

/// A test's identity key as stored: empty when it is just `suite › name` (or `name` without a
/// suite), as most are — the key would otherwise repeat the row's longest texts, a third of
/// what storing a new test writes. `$t` is the table's alias with its dot (or empty).
macro_rules! test_key {
    ($t:literal) => {
        concat!(
            "CASE WHEN ",
            $t,
            "identity_key <> '' THEN ",
            $t,
            "identity_key WHEN ",
            $t,
            "suite = '' THEN ",
            $t,
            "name ELSE ",
            $t,
            "suite || ' › ' || ",
            $t,
            "name END"
        )
    };
}

/// Whether `key` is what an empty stored key stands for (see `test_key!`).
fn key_is_plain(key: &str, suite: &str, name: &str) -> bool {
    if suite.is_empty() {
        return key == name;
    }
    key.strip_prefix(suite)
        .and_then(|rest| rest.strip_prefix(" › "))
        .is_some_and(|rest| rest == name)
}

/// The key column to store for a new test.
fn stored_key(row: &ResultRow) -> &str {
    if key_is_plain(&row.identity_key, &row.suite, &row.name) {
        ""
    } else {
        &row.identity_key
    }
}

/// The columns `stored_result!` reads (`results r` joined with `tests t`).
macro_rules! result_columns {
    () => {
        concat!("r.id, r.test_id, ", test_key!("t."), " AS identity_key, t.identity_hash, t.suite, t.name, t.parameters, t.file, r.outcome, r.flaky, \
         r.attempts, r.duration_ms, r.signature, r.details")
    };
}

/// `WITH w AS (…) `: the project's latest `$3` runs (`$1` org, `$2` project) with their number
/// and `results_from`, to be followed by `, more AS (…)` common table expressions or the query. A
/// `LIMIT` tells PostgreSQL's planner how few they are (it guessed a third of all runs for a
/// `number >` bound, and read every result).
macro_rules! recent_window {
    () => {
        "WITH w AS MATERIALIZED (SELECT id, number, results_from FROM runs WHERE org_id = $1 AND project_id = $2 \
             ORDER BY number DESC LIMIT $3) "
    };
}

/// One run's results (`$1` org, `$2` run).
macro_rules! select_results {
    () => {
        concat!(
            "SELECT ",
            result_columns!(),
            " FROM results r JOIN tests t ON t.id = r.test_id WHERE r.org_id = $1 AND r.run_id = $2"
        )
    };
}

/// Decodes a `results ⨝ tests` row as the result queries select it.
macro_rules! stored_result {
    ($row:expr) => {{
        let r = $row;
        Ok::<_, StoreError>(StoredResult {
            id: r.try_get("id")?,
            test_id: r.try_get("test_id")?,
            identity_key: r.try_get("identity_key")?,
            identity_hash: r.try_get("identity_hash")?,
            suite: r.try_get("suite")?,
            name: r.try_get("name")?,
            parameters: r.try_get("parameters")?,
            file: r.try_get("file")?,
            outcome: r.try_get("outcome")?,
            flaky: r.try_get("flaky")?,
            attempts: r.try_get("attempts")?,
            duration_ms: r.try_get("duration_ms")?,
            signature: r.try_get("signature")?,
            details: r.try_get("details")?,
        })
    }};
}

macro_rules! run_from_row {
    ($row:expr) => {{
        let r = $row;
        let status: String = r.try_get("status")?;
        Ok::<_, StoreError>(RunRow {
            id: RunId(r.try_get("id")?),
            project: ProjectId(r.try_get("project_id")?),
            number: r.try_get("number")?,
            title: r.try_get("title")?,
            branch: r.try_get("branch")?,
            commit: r.try_get("commit_sha")?,
            build_url: r.try_get("build_url")?,
            build_name: r.try_get("build_name")?,
            environment: r.try_get("environment")?,
            tags: r.try_get("tags")?,
            finished: status == "finished",
            shards_expected: r.try_get("shards_expected")?,
            shards_finished: r.try_get("shards_finished")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            finished_at: r.try_get("finished_at")?,
            counts: RunCounts {
                total: r.try_get("total")?,
                passed: r.try_get("passed")?,
                failed: r.try_get("failed")?,
                errored: r.try_get("errored")?,
                skipped: r.try_get("skipped")?,
                flaky: r.try_get("flaky")?,
                duration_ms: r.try_get("duration_ms")?,
            },
        })
    }};
}

/// Inserts `$run` with the project's next number inside the open transaction `$tx`; evaluates
/// to the number. On PostgreSQL a per-project advisory lock orders concurrent creations.
macro_rules! insert_run {
    ($tx:expr, $run:expr, $is_pg:expr) => {{
        let run: &NewRun<'_> = $run;
        if $is_pg {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(crate::audit::lock_key(testvault_domain::OrgId(run.project.0)))
                .execute(&mut *$tx)
                .await?;
        }
        let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE project_id = $1")
            .bind(run.project.0)
            .fetch_one(&mut *$tx)
            .await?;
        sqlx::query(
            "INSERT INTO runs (id, org_id, project_id, number, title, branch, commit_sha, build_url, build_name, environment, tags, status, shards_expected, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13, $14)")
            .bind(run.id.0)
            .bind(run.org.0)
            .bind(run.project.0)
            .bind(number)
            .bind(run.title)
            .bind(run.branch)
            .bind(run.commit)
            .bind(run.build_url)
            .bind(run.build_name)
            .bind(run.environment)
            .bind(run.tags)
            .bind(run.shards_expected)
            .bind(run.created_by)
            .bind(run.now)
            .execute(&mut *$tx)
            .await?;
        number
    }};
}
pub(crate) use insert_run;

macro_rules! select_runs {
    () => {
        "SELECT r.id, r.project_id, r.number, r.title, r.branch, r.commit_sha, r.build_url, r.build_name, \
         r.environment, r.tags, r.status, r.shards_expected, r.created_by, r.created_at, r.finished_at, \
         r.total, r.passed, r.failed, r.errored, r.skipped, r.flaky, r.duration_ms, \
         (SELECT COUNT(*) FROM run_shards s WHERE s.run_id = r.id AND s.finished_at IS NOT NULL) AS shards_finished \
         FROM runs r WHERE r.org_id = $1"
    };
}

impl Store {
    /// Creates a run with the project's next number.
    pub async fn create_run(
        &self,
        run: NewRun<'_>,
        audit: &crate::AuditEntry,
    ) -> Result<i64, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, run.org, pool => {
            let mut tx = pool.begin().await?;
            let number = insert_run!(tx, &run, is_pg);
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(number)
        })
    }

    pub async fn get_run(&self, org: OrgId, run: RunId) -> Result<Option<RunRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_runs!(), " AND r.id = $2"))
                .bind(org.0)
                .bind(run.0)
                .fetch_optional(pool)
                .await?;
            row.map(|r| run_from_row!(r)).transpose()
        })
    }

    pub async fn find_run_by_number(
        &self,
        org: OrgId,
        project: ProjectId,
        number: i64,
    ) -> Result<Option<RunRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_runs!(), " AND r.project_id = $2 AND r.number = $3"))
                .bind(org.0)
                .bind(project.0)
                .bind(number)
                .fetch_optional(pool)
                .await?;
            row.map(|r| run_from_row!(r)).transpose()
        })
    }

    /// The newest run of a project with this title and tag, started at or after `since`: the
    /// run that parallel reporter processes of one CI build share (finished or not: the first
    /// process may be done before the last starts).
    pub async fn find_run_titled(
        &self,
        org: OrgId,
        project: ProjectId,
        title: &str,
        tag: &str,
        since: i64,
    ) -> Result<Option<RunRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_runs!(), " AND r.project_id = $2 AND r.title = $3 AND r.created_at >= $4 \
                 AND (' ' || r.tags || ' ') LIKE $5 ESCAPE '\\' ORDER BY r.number DESC LIMIT 1"))
                .bind(org.0)
                .bind(project.0)
                .bind(title)
                .bind(since)
                .bind(format!("% {} %", like_escape(tag)))
                .fetch_optional(pool)
                .await?;
            row.map(|r| run_from_row!(r)).transpose()
        })
    }

    /// A project's runs that pass `filter`, newest first; `before` (a run number) pages back.
    pub async fn list_runs(
        &self,
        org: OrgId,
        project: ProjectId,
        filter: &RunFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RunRow>, StoreError> {
        let tag = filter
            .tag
            .as_deref()
            .map(|t| format!("% {} %", like_escape(t)));
        let text = filter
            .text
            .as_deref()
            .map(|t| format!("%{}%", like_escape(&t.to_lowercase())));
        on_org!(self, org, pool => {
            let rows = sqlx::query(concat!(select_runs!(), " AND r.project_id = $2 AND ($3 IS NULL OR r.number < $3) \
                 AND ($5 IS NULL OR r.branch = $5) \
                 AND ($6 IS NULL OR (' ' || r.tags || ' ') LIKE $6 ESCAPE '\\') \
                 AND ($7 IS NULL OR r.created_at >= $7) AND ($8 IS NULL OR r.created_at < $8) \
                 AND ($9 IS NULL OR LOWER(r.title) LIKE $9 ESCAPE '\\' OR LOWER(COALESCE(r.commit_sha, '')) LIKE $9 ESCAPE '\\') \
                 AND ($10 IS NULL OR ($10 = 'running' AND r.status = 'running') \
                      OR ($10 = 'failed' AND r.failed + r.errored > 0) \
                      OR ($10 = 'passed' AND r.status = 'finished' AND r.failed + r.errored = 0) \
                      OR ($10 = 'flaky' AND r.flaky > 0)) \
                 AND ($11 IS NULL OR LOWER(r.environment) LIKE $11 ESCAPE '\\') \
                 ORDER BY r.number DESC LIMIT $4"))
                .bind(org.0)
                .bind(project.0)
                .bind(before)
                .bind(limit)
                .bind(filter.branch.as_deref())
                .bind(tag.as_deref())
                .bind(filter.since)
                .bind(filter.until)
                .bind(text.as_deref())
                .bind(filter.status.map(RunStatus::as_str))
                .bind(filter.environment.as_deref())
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| run_from_row!(r)).collect()
        })
    }

    /// How many of the project's runs started at or after `since` (Unix seconds).
    pub async fn count_runs_since(
        &self,
        org: OrgId,
        project: ProjectId,
        since: i64,
    ) -> Result<i64, StoreError> {
        let n: i64 = on_org!(self, org, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE org_id = $1 AND project_id = $2 AND created_at >= $3")
            .bind(org.0)
            .bind(project.0)
            .bind(since)
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }

    /// The latest finished run on `branch` numbered below `before`: the default base a run is
    /// compared with.
    pub async fn latest_finished_on(
        &self,
        org: OrgId,
        project: ProjectId,
        branch: &str,
        before: i64,
    ) -> Result<Option<RunRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_runs!(), " AND r.project_id = $2 AND r.branch = $3 AND r.number < $4 AND r.status = 'finished' ORDER BY r.number DESC LIMIT 1"))
                .bind(org.0)
                .bind(project.0)
                .bind(branch)
                .bind(before)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| run_from_row!(r)).transpose()
        })
    }

    /// Every result of a run reduced to what comparing runs needs: `(test_id, outcome,
    /// duration_ms)`. One index range, no sealed details.
    pub async fn run_outline(
        &self,
        org: OrgId,
        run: RunId,
    ) -> Result<Vec<(i64, i16, Option<i64>)>, StoreError> {
        let rows: Vec<(i64, i16, Option<i64>)> = on_org!(self, org, pool => sqlx::query_as(
            "SELECT test_id, outcome, duration_ms FROM results WHERE org_id = $1 AND run_id = $2")
            .bind(org.0)
            .bind(run.0)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// The project's tests among `ids`: how report pages name them, and whether each is quarantined.
    pub async fn tests_named(
        &self,
        org: OrgId,
        project: ProjectId,
        ids: &[i64],
    ) -> Result<Vec<TestName>, StoreError> {
        let mut named = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<(i64, String, String, String, bool)> = match &self.db {
                Db::Sqlite(pool) => {
                    let sql = format!(
                        "SELECT id, suite, name, parameters, quarantined_at IS NOT NULL FROM tests WHERE id IN ({}) AND org_id = ? AND project_id = ?",
                        vec!["?"; chunk.len()].join(", ")
                    );
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.bind(org.0).bind(project.0).fetch_all(pool).await?
                }
                Db::Pg(pool) => {
                    let mut tx = begin_scoped(pool, Scope::Org(org)).await?;
                    let rows = sqlx::query_as(
                        "SELECT id, suite, name, parameters, quarantined_at IS NOT NULL FROM tests WHERE id = ANY($1) AND org_id = $2 AND project_id = $3")
                        .bind(chunk)
                        .bind(org.0)
                        .bind(project.0)
                        .fetch_all(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    rows
                }
            };
            named.extend(
                rows.into_iter()
                    .map(|(id, suite, name, parameters, quarantined)| TestName {
                        id,
                        suite,
                        name,
                        parameters,
                        quarantined,
                    }),
            );
        }
        Ok(named)
    }

    /// Quarantines a test (`Some((by, reason))`) or releases it (`None`), with its audit event.
    /// Returns whether the test exists in the project.
    pub async fn set_quarantine(
        &self,
        project: ProjectId,
        test: i64,
        quarantine: Option<(&str, &str)>,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let (by, reason) = match quarantine {
            Some((by, reason)) => (Some(by), Some(reason)),
            None => (None, None),
        };
        let n =
            crate::audit::change_if_any!(self, audit, sqlx::query(
            "UPDATE tests SET quarantined_at = $1, quarantined_by = $2, quarantine_reason = $3 \
             WHERE org_id = $4 AND project_id = $5 AND id = $6")
            .bind(quarantine.map(|_| now))
            .bind(by)
            .bind(reason)
            .bind(audit.org.0)
            .bind(project.0)
            .bind(test));
        Ok(n > 0)
    }

    /// A test of the project.
    pub async fn get_test(
        &self,
        org: OrgId,
        project: ProjectId,
        test: i64,
    ) -> Result<Option<TestRow>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(
            "SELECT id, ", test_key!(""), " AS identity_key, suite, name, parameters, file, quarantined_at, quarantined_by, quarantine_reason \
             FROM tests WHERE org_id = $1 AND project_id = $2 AND id = $3"))
            .bind(org.0)
            .bind(project.0)
            .bind(test)
            .fetch_optional(pool)
            .await?;
        row.map(|r| {
            Ok::<_, StoreError>(TestRow {
                id: r.try_get("id")?,
                identity_key: r.try_get("identity_key")?,
                suite: r.try_get("suite")?,
                name: r.try_get("name")?,
                parameters: r.try_get("parameters")?,
                file: r.try_get("file")?,
                quarantined_at: r.try_get("quarantined_at")?,
                quarantined_by: r.try_get("quarantined_by")?,
                quarantine_reason: r.try_get("quarantine_reason")?,
            })
        })
        .transpose()
        })
    }

    /// A test's latest `limit` results, newest first, with their runs (one range of the
    /// `(test_id, id)` index).
    pub async fn test_history(
        &self,
        org: OrgId,
        test: i64,
        limit: i64,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        type Columns = (i64, Option<String>, i64, i16, bool, i32, Option<i64>);
        let rows: Vec<Columns> = on_org!(self, org, pool => sqlx::query_as(
            "SELECT u.number, u.branch, u.created_at, r.outcome, r.flaky, r.attempts, r.duration_ms \
             FROM results r JOIN runs u ON u.id = r.run_id \
             WHERE r.org_id = $1 AND r.test_id = $2 ORDER BY r.id DESC LIMIT $3")
            .bind(org.0)
            .bind(test)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(number, branch, created_at, outcome, flaky, attempts, duration_ms)| HistoryRow {
                    number,
                    branch,
                    created_at,
                    outcome,
                    flaky,
                    attempts,
                    duration_ms,
                },
            )
            .collect())
    }

    /// `(test_id, run number, outcome, flaky)` of the results in the project's latest `runs`
    /// runs of every test that failed or passed on a retry there (any other test scores zero
    /// for flakiness), by test and newest run first: what flaky detection reads. Those tests
    /// come from the small attention index; their results are one range each of the
    /// `(test_id, id)` index, from the window's `results_from`.
    pub async fn recent_outcomes(
        &self,
        org: OrgId,
        project: ProjectId,
        runs: i64,
    ) -> Result<Vec<(i64, i64, i16, bool)>, StoreError> {
        // SQLite is told the plan: the attention index for the candidates (its planner, without
        // statistics, prefers the run index and reads every result), then each candidate's
        // range of the covering test index, and only then the run (`CROSS JOIN` fixes the order).
        let sql = if self.is_pg() {
            // PostgreSQL would rather hash-join every result since the window's start; the
            // lateral subquery (kept apart by `OFFSET 0`) reads each candidate's index range.
            concat!(
                recent_window!(),
                ", cand AS MATERIALIZED (SELECT DISTINCT r.test_id FROM w JOIN results r ON r.run_id = w.id \
                     WHERE (r.outcome IN (1, 2) OR r.flaky)), \
                 b AS MATERIALIZED (SELECT COALESCE(MIN(results_from), 0) AS lo FROM w) \
                 SELECT c.test_id, u.number, x.outcome, x.flaky FROM cand c CROSS JOIN b \
                 JOIN LATERAL (SELECT r.run_id, r.outcome, r.flaky FROM results r \
                     WHERE r.test_id = c.test_id AND r.id >= b.lo OFFSET 0) x ON true \
                 JOIN w u ON u.id = x.run_id \
                 ORDER BY c.test_id, u.number DESC"
            )
        } else {
            concat!(
                recent_window!(),
                ", cand AS (SELECT DISTINCT r.test_id FROM w JOIN results r INDEXED BY ix_results_attention \
                     ON r.run_id = w.id WHERE (r.outcome IN (1, 2) OR r.flaky)) \
                 SELECT r.test_id, u.number, r.outcome, r.flaky FROM cand \
                 CROSS JOIN results r ON r.test_id = cand.test_id CROSS JOIN runs u ON u.id = r.run_id \
                 WHERE r.id >= (SELECT COALESCE(MIN(results_from), 0) FROM w) AND r.run_id IN (SELECT id FROM w) \
                 ORDER BY r.test_id, u.number DESC"
            )
        };
        let rows: Vec<(i64, i64, i16, bool)> = on_org!(self, org, pool => sqlx::query_as(sql)
            .bind(org.0)
            .bind(project.0)
            .bind(runs)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Marks a run (or one shard of it) finished. With `shards_expected`, the run finishes when
    /// that many distinct shards have. Returns whether the run exists.
    pub async fn finish_run(
        &self,
        org: OrgId,
        run: RunId,
        shard: Option<&str>,
        force: bool,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let is_pg = self.is_pg();
        on_org!(self, org, pool => {
            let mut tx = pool.begin().await?;
            let expected: Option<Option<i32>> = sqlx::query_scalar("SELECT shards_expected FROM runs WHERE org_id = $1 AND id = $2")
                .bind(org.0)
                .bind(run.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(expected) = expected else { return Ok(false) };
            if let Some(shard) = shard {
                sqlx::query("INSERT INTO run_shards (run_id, org_id, shard, finished_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run_id, shard) DO UPDATE SET finished_at = excluded.finished_at")
                    .bind(run.0)
                    .bind(org.0)
                    .bind(shard)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM run_shards WHERE run_id = $1 AND finished_at IS NOT NULL")
                .bind(run.0)
                .fetch_one(&mut *tx)
                .await?;
            let all_done = force || match expected {
                Some(n) => done >= i64::from(n),
                None => true,
            };
            if all_done {
                sqlx::query("UPDATE runs SET status = 'finished', finished_at = COALESCE(finished_at, $1) WHERE org_id = $2 AND id = $3")
                    .bind(now)
                    .bind(org.0)
                    .bind(run.0)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::audit::append!(tx, audit, is_pg);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A run's results, failures first, then by suite and name.
    pub async fn run_results(
        &self,
        org: OrgId,
        run: RunId,
        page: &ResultPage,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let text = page
            .name
            .as_deref()
            .map(|t| format!("%{}%", like_escape(&t.to_lowercase())));
        // The error words, when given, widen the name match: `$10` is how many there are.
        let by_error = if page.error_terms.is_empty() {
            String::new()
        } else {
            let params: Vec<String> = (0..page.error_terms.len())
                .map(|i| format!("${}", i + 11))
                .collect();
            format!(
                " OR r.test_id IN (SELECT test_id FROM result_terms WHERE org_id = $1 AND run_id = $2 AND term IN ({}) \
                 GROUP BY test_id HAVING COUNT(DISTINCT term) = $10)",
                params.join(", ")
            )
        };
        let sql = format!(
            "{} AND ($3 IS NULL OR r.outcome = $3) AND ($8 IS NULL OR t.suite = $8) AND ($9 IS NULL OR r.signature = $9) \
             AND ($6 IS NULL OR LOWER(t.name) LIKE $6 ESCAPE '\\' OR LOWER(t.suite) LIKE $6 ESCAPE '\\'{by_error}) \
             ORDER BY CASE WHEN $7 THEN -COALESCE(r.duration_ms, -1) ELSE 0 END, \
               CASE r.outcome WHEN 1 THEN 0 WHEN 2 THEN 0 ELSE 1 END, t.suite, t.name, r.id LIMIT $4 OFFSET $5",
            select_results!()
        );
        let terms = i64::try_from(page.error_terms.len()).unwrap_or(i64::MAX);
        on_org!(self, org, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(org.0)
                .bind(run.0)
                .bind(page.outcome)
                .bind(page.limit)
                .bind(page.offset)
                .bind(text.as_deref())
                .bind(page.slowest_first)
                .bind(page.suite.as_deref())
                .bind(page.signature)
                .bind(terms);
            for term in &page.error_terms {
                q = q.bind(term);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter().map(|r| stored_result!(r)).collect()
        })
    }

    /// One result of a run.
    pub async fn run_result(
        &self,
        org: OrgId,
        run: RunId,
        result: i64,
    ) -> Result<Option<StoredResult>, StoreError> {
        on_org!(self, org, pool => {
            let row = sqlx::query(concat!(select_results!(), " AND r.id = $3"))
                .bind(org.0)
                .bind(run.0)
                .bind(result)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| stored_result!(r)).transpose()
        })
    }

    /// A run's suites with their counts, failing suites first (read from `run_suites`, counted
    /// at ingest: no result is read).
    pub async fn run_suite_counts(
        &self,
        org: OrgId,
        run: RunId,
        limit: i64,
    ) -> Result<Vec<SuiteCountRow>, StoreError> {
        type Columns = (String, i64, i64, i64, i64, i64);
        let rows: Vec<Columns> = on_org!(self, org, pool => sqlx::query_as(
            "SELECT suite, total, failing, skipped, flaky, duration_ms FROM run_suites \
             WHERE org_id = $1 AND run_id = $2 ORDER BY failing DESC, suite LIMIT $3")
            .bind(org.0)
            .bind(run.0)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(suite, total, failing, skipped, flaky, duration_ms)| SuiteCountRow {
                    suite,
                    total,
                    failing,
                    skipped,
                    flaky,
                    duration_ms,
                },
            )
            .collect())
    }

    /// A run's failures grouped by error signature, most failures first, each with its
    /// cluster label and its latest failure as the example. Failures are found through
    /// `ix_results_attention` (the query repeats its condition); the example is opened by its
    /// run and id.
    pub async fn run_errors(
        &self,
        org: OrgId,
        project: ProjectId,
        run: RunId,
        limit: i64,
    ) -> Result<Vec<RunErrorRow>, StoreError> {
        // SQLite is told the attention index (without statistics it would read the whole run
        // through the run index) and opens the example by its rowid; PostgreSQL by its key.
        macro_rules! sql {
            ($attention:literal, $example:literal) => {
                concat!(
                    "WITH c AS ( \
                       SELECT r.signature AS sig, COUNT(*) AS failures, MAX(r.id) AS example FROM results r ",
                    $attention,
                    " WHERE r.org_id = $1 AND r.run_id = $2 AND (r.outcome IN (1, 2) OR r.flaky) AND r.outcome IN (1, 2) AND r.signature IS NOT NULL \
                       GROUP BY r.signature ORDER BY failures DESC, sig LIMIT $4) \
                     SELECT c.sig, c.failures, l.label AS cluster_label, ",
                    result_columns!(),
                    " FROM c JOIN results r ON ",
                    $example,
                    " JOIN tests t ON t.id = r.test_id \
                     LEFT JOIN cluster_labels l ON l.project_id = $3 AND l.signature = c.sig \
                     ORDER BY c.failures DESC, c.sig"
                )
            };
        }
        let sql = if self.is_pg() {
            sql!("", "r.run_id = $2 AND r.id = c.example")
        } else {
            sql!("INDEXED BY ix_results_attention", "r.id = c.example")
        };
        on_org!(self, org, pool => {
            let rows = sqlx::query(sql)
                .bind(org.0)
                .bind(run.0)
                .bind(project.0)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(RunErrorRow {
                        signature: r.try_get("sig")?,
                        failures: r.try_get("failures")?,
                        label: r.try_get("cluster_label")?,
                        example: stored_result!(r)?,
                    })
                })
                .collect()
        })
    }

    /// Failed results whose failure message holds every term (keyed hashes), newest runs
    /// first, each with its run's id and number. Terms are read run by run through the
    /// `(run_id, term)` index, the only one `result_terms` keeps (an org-wide one cost every
    /// stored failure word a second index entry), in windows of `SEARCH_WINDOW` runs from the
    /// newest: a common word fills the page from the first window, and only a rare one reads
    /// the project's whole history.
    pub async fn search_results(
        &self,
        org: OrgId,
        project: ProjectId,
        terms: &[Vec<u8>],
        limit: i64,
    ) -> Result<Vec<(RunId, i64, StoredResult)>, StoreError> {
        if terms.is_empty() || limit <= 0 {
            return Ok(Vec::new());
        }
        let span: (Option<i64>, Option<i64>) = on_org!(self, org, pool => sqlx::query_as(
            "SELECT MIN(number), MAX(number) FROM runs WHERE org_id = $1 AND project_id = $2")
            .bind(org.0)
            .bind(project.0)
            .fetch_one(pool)
            .await)?;
        let (Some(oldest), Some(newest)) = span else {
            return Ok(Vec::new());
        };
        let term_params: Vec<String> = (0..terms.len()).map(|i| format!("${}", i + 7)).collect();
        let sql = format!(
            "SELECT ru.id AS found_run, ru.number AS run_number, {} \
             FROM results r JOIN tests t ON t.id = r.test_id JOIN runs ru ON ru.id = r.run_id \
             WHERE r.org_id = $1 AND ru.project_id = $2 AND ru.number > $5 AND ru.number <= $6 \
               AND (r.outcome IN (1, 2) OR r.flaky) AND r.outcome IN (1, 2) AND (r.run_id, r.test_id) IN ( \
               SELECT m.run_id, m.test_id FROM runs x CROSS JOIN result_terms m \
               WHERE x.org_id = $1 AND x.project_id = $2 AND x.number > $5 AND x.number <= $6 \
                 AND m.run_id = x.id AND m.term IN ({}) \
               GROUP BY m.run_id, m.test_id HAVING COUNT(DISTINCT m.term) = $3) \
             ORDER BY ru.number DESC, t.suite, t.name LIMIT $4",
            result_columns!(),
            term_params.join(", ")
        );
        let wanted = i64::try_from(terms.len()).unwrap_or(i64::MAX);
        let mut found = Vec::new();
        let mut newer_than = newest;
        while newer_than >= oldest {
            let left = limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
            if left <= 0 {
                break;
            }
            let from = newer_than.saturating_sub(SEARCH_WINDOW);
            let rows: Vec<(RunId, i64, StoredResult)> = on_org!(self, org, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(org.0)
                    .bind(project.0)
                    .bind(wanted)
                    .bind(left)
                    .bind(from)
                    .bind(newer_than);
                for term in terms {
                    q = q.bind(term);
                }
                let rows = q.fetch_all(pool).await?;
                rows.iter()
                    .map(|r| Ok((RunId(r.try_get("found_run")?), r.try_get("run_number")?, stored_result!(r)?)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })?;
            found.extend(rows);
            newer_than = from;
        }
        Ok(found)
    }

    /// Failures grouped by error signature over the project's latest `runs` runs, most
    /// failures first: each with its counts, the runs it was first and last seen in, and its
    /// latest failure as the example. One query; the example is opened by run and id (the
    /// results key on PostgreSQL), one probe per window run.
    pub async fn failure_clusters(
        &self,
        org: OrgId,
        project: ProjectId,
        runs: i64,
        limit: i64,
    ) -> Result<Vec<ClusterRow>, StoreError> {
        // As in `run_errors`: SQLite is told the attention index and opens the example by its
        // rowid; PostgreSQL opens it by its key, one probe per window run.
        macro_rules! sql {
            ($attention:literal, $example:literal) => {
                concat!(
                    recent_window!(),
                    ", c AS ( \
                       SELECT r.signature AS sig, COUNT(*) AS failures, COUNT(DISTINCT r.test_id) AS tests, \
                              MIN(u.number) AS first_run, MAX(u.number) AS last_run, MAX(r.id) AS example \
                       FROM w u CROSS JOIN results r ",
                    $attention,
                    " WHERE r.run_id = u.id AND (r.outcome IN (1, 2) OR r.flaky) AND r.signature IS NOT NULL \
                       GROUP BY r.signature ORDER BY failures DESC, last_run DESC LIMIT $4) \
                     SELECT c.sig, c.failures, c.tests, c.first_run, c.last_run, ru.id AS found_run, ru.number AS run_number, \
                            l.label AS cluster_label, l.note AS cluster_note, ",
                    result_columns!(),
                    " FROM ",
                    $example,
                    " JOIN tests t ON t.id = r.test_id JOIN runs ru ON ru.id = r.run_id \
                     LEFT JOIN cluster_labels l ON l.project_id = $2 AND l.signature = c.sig \
                     ORDER BY c.failures DESC, c.last_run DESC"
                )
            };
        }
        let sql = if self.is_pg() {
            sql!(
                "",
                "c CROSS JOIN w x JOIN results r ON r.run_id = x.id AND r.id = c.example"
            )
        } else {
            sql!(
                "INDEXED BY ix_results_attention",
                "c JOIN results r ON r.id = c.example"
            )
        };
        on_org!(self, org, pool => {
            let rows = sqlx::query(sql)
                .bind(org.0)
                .bind(project.0)
                .bind(runs)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(ClusterRow {
                        signature: r.try_get("sig")?,
                        failures: r.try_get("failures")?,
                        tests: r.try_get("tests")?,
                        first_run: r.try_get("first_run")?,
                        last_run: r.try_get("last_run")?,
                        example_run: RunId(r.try_get("found_run")?),
                        example_run_number: r.try_get("run_number")?,
                        label: r.try_get("cluster_label")?,
                        note: r.try_get("cluster_note")?,
                        example: stored_result!(r)?,
                    })
                })
                .collect()
        })
    }

    /// `(test_id, mean duration ms, results)` of the project's slowest tests (by mean duration)
    /// over its latest `runs` runs.
    pub async fn slowest_tests(
        &self,
        org: OrgId,
        project: ProjectId,
        runs: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows: Vec<(i64, f64, i64)> = on_org!(self, org, pool => sqlx::query_as(concat!(
            recent_window!(),
            "SELECT r.test_id, CAST(AVG(r.duration_ms) AS DOUBLE PRECISION) AS mean, COUNT(*) AS n \
             FROM w u CROSS JOIN results r WHERE r.run_id = u.id AND r.duration_ms IS NOT NULL \
             GROUP BY r.test_id ORDER BY mean DESC LIMIT $4"))
            .bind(org.0)
            .bind(project.0)
            .bind(runs)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(t, mean, n)| (t, mean.round() as i64, n))
            .collect())
    }

    /// `(suite, run number, results, failing results)` for every suite and run of the project's
    /// latest `runs` runs: the heat map's cells (counted at ingest, in `run_suites`).
    pub async fn suite_heat(
        &self,
        org: OrgId,
        project: ProjectId,
        runs: i64,
    ) -> Result<Vec<(String, i64, i64, i64)>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = on_org!(self, org, pool => sqlx::query_as(concat!(
            recent_window!(),
            "SELECT s.suite, u.number, s.total, s.failing FROM w u CROSS JOIN run_suites s WHERE s.run_id = u.id"))
            .bind(org.0)
            .bind(project.0)
            .bind(runs)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// `(test, run number, 1, failing 0 or 1)` for every result that ran (not skipped) in the
    /// project's latest `runs` runs, of the `limit` tests that failed most there: the tests ×
    /// runs heat map's cells. Failures are found through `ix_results_attention`.
    pub async fn test_heat(
        &self,
        org: OrgId,
        project: ProjectId,
        runs: i64,
        limit: i64,
    ) -> Result<Vec<(i64, i64, i64, i64)>, StoreError> {
        // `CROSS JOIN` (valid in both databases) makes SQLite's planner keep the order written:
        // the window's failures first, then the top tests' ranges of the covering test index.
        let rows: Vec<(i64, i64, i64, i64)> = on_org!(self, org, pool => sqlx::query_as(concat!(
            recent_window!(),
            ", top AS (SELECT r.test_id FROM w CROSS JOIN results r \
                 WHERE r.run_id = w.id AND (r.outcome IN (1, 2) OR r.flaky) AND r.outcome IN (1, 2) \
                 GROUP BY r.test_id ORDER BY COUNT(*) DESC, r.test_id LIMIT $4) \
             SELECT r.test_id, u.number, CAST(1 AS BIGINT), CAST(CASE WHEN r.outcome IN (1, 2) THEN 1 ELSE 0 END AS BIGINT) \
             FROM top CROSS JOIN results r CROSS JOIN runs u \
             WHERE r.test_id = top.test_id AND u.id = r.run_id AND r.outcome <> 3 \
               AND r.id >= (SELECT COALESCE(MIN(results_from), 0) FROM w) AND r.run_id IN (SELECT id FROM w)"))
            .bind(org.0)
            .bind(project.0)
            .bind(runs)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Labels a failure cluster (`Some((label, note, by))`) or clears its label, with the audit
    /// event. Returns whether anything changed.
    pub async fn set_cluster_label(
        &self,
        project: ProjectId,
        signature: i64,
        label: Option<(&str, &str, &str)>,
        now: i64,
        audit: &crate::AuditEntry,
    ) -> Result<bool, StoreError> {
        let n = match label {
            Some((label, note, by)) => crate::audit::change_if_any!(self, audit, sqlx::query(
                "INSERT INTO cluster_labels (org_id, project_id, signature, label, note, set_by, set_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (project_id, signature) DO UPDATE SET label = excluded.label, note = excluded.note, \
                 set_by = excluded.set_by, set_at = excluded.set_at")
                .bind(audit.org.0)
                .bind(project.0)
                .bind(signature)
                .bind(label)
                .bind(note)
                .bind(by)
                .bind(now)),
            None => crate::audit::change_if_any!(self, audit, sqlx::query(
                "DELETE FROM cluster_labels WHERE org_id = $1 AND project_id = $2 AND signature = $3")
                .bind(audit.org.0)
                .bind(project.0)
                .bind(signature)),
        };
        Ok(n > 0)
    }

    /// Opens the transaction an upload (or one appended batch) is stored in. `None` when this
    /// idempotency key was already stored for the run (a retry: store nothing, answer as before).
    /// With `IngestInto::NewRun`, the run itself is created in the same transaction (a one-shot
    /// upload: refused, it leaves no run behind).
    pub async fn begin_ingest(
        &self,
        org: OrgId,
        project: ProjectId,
        run: RunId,
        into: IngestInto<'_>,
        idempotency_key: &str,
        now: i64,
    ) -> Result<Option<IngestTx>, StoreError> {
        let (new_run, into_finished) = match into {
            IngestInto::NewRun(new) => (Some(new), false),
            IngestInto::Running => (None, false),
            IngestInto::AnyStatus => (None, true),
        };
        let mut tx = match &self.db {
            Db::Sqlite(pool) => {
                IngestConn::Sqlite(SqliteIngest::begin(self.writer.as_ref().unwrap_or(pool)).await?)
            }
            Db::Pg(pool) => IngestConn::Pg(begin_scoped(pool, Scope::Org(org)).await?),
        };
        let mut number = None;
        if let Some(new) = new_run {
            number = Some(match &mut tx {
                IngestConn::Sqlite(c) => insert_run!(*c, new, false),
                IngestConn::Pg(c) => insert_run!(*c, new, true),
            });
        }
        let status: Option<(String, Option<i64>)> = ingest_conn!(tx, c => sqlx::query_as("SELECT status, finished_at FROM runs WHERE org_id = $1 AND id = $2 AND project_id = $3")
            .bind(org.0)
            .bind(run.0)
            .bind(project.0)
            .fetch_optional(&mut **c)
            .await)?;
        match status {
            None => return Err(StoreError::Stale("no such run")),
            Some((s, _)) if s == "finished" && !into_finished => {
                return Err(StoreError::Refused(
                    "this run has finished; start a new run",
                ));
            }
            // Reporters' late results are taken for a while after the finish, not for ever:
            // a finished run's history stays as it was.
            Some((s, finished_at))
                if s == "finished" && finished_at.is_some_and(|t| t < now - LATE_RESULTS_SECS) =>
            {
                return Err(StoreError::Refused(
                    "this run finished over an hour ago; start a new run",
                ));
            }
            _ => {}
        }
        let fresh = ingest_conn!(tx, c => sqlx::query(
            "INSERT INTO ingest_batches (run_id, org_id, idempotency_key, results, created_at) VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (run_id, idempotency_key) DO NOTHING")
            .bind(run.0)
            .bind(org.0)
            .bind(idempotency_key)
            .bind(now)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected()))?;
        if fresh == 0 {
            return Ok(None);
        }
        Ok(Some(IngestTx {
            conn: tx,
            org,
            project,
            run,
            number,
            idempotency_key: idempotency_key.to_string(),
            now,
            test_ids: HashMap::new(),
            counts: RunCounts::default(),
            suites: HashMap::new(),
            first_id: None,
            next_test_id: None,
            expect_new: false,
            preloaded: false,
            into_finished,
        }))
    }

    /// How many results an earlier batch with this key stored (to answer a retry).
    pub async fn ingested_batch(
        &self,
        org: OrgId,
        run: RunId,
        idempotency_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        let n: Option<i64> = on_org!(self, org, pool => sqlx::query_scalar(
            "SELECT results FROM ingest_batches WHERE org_id = $1 AND run_id = $2 AND idempotency_key = $3")
            .bind(org.0)
            .bind(run.0)
            .bind(idempotency_key)
            .fetch_optional(pool)
            .await)?;
        Ok(n)
    }
}

/// Runs searched per query by `search_results`, newest first.
const SEARCH_WINDOW: i64 = 250;

/// How long after its finish a run still takes a reporter's late results.
const LATE_RESULTS_SECS: i64 = 3600;

/// Which run an upload goes into.
#[derive(Clone, Copy)]
pub enum IngestInto<'a> {
    /// A run this upload creates (and finishes).
    NewRun(&'a NewRun<'a>),
    /// An existing run that has not finished.
    Running,
    /// An existing run, finished or not (reporters send late results: up to an hour after
    /// the finish).
    AnyStatus,
}

enum IngestConn {
    Sqlite(SqliteIngest),
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// SQLite's side of an upload: the writer connection (`Store::writer`) in a `BEGIN IMMEDIATE`
/// transaction (the write lock from the start) with foreign-key checks off. Every row an upload
/// writes points at its run and tests, checked or made under that same lock, so the checks — a
/// parent lookup per row and per foreign key, a third of the store's time — prove nothing;
/// cascades on delete run on other connections, where the checks are on. The connection goes
/// back to its pool only after `COMMIT` and the checks are on again; an upload dropped on the
/// way closes it (SQLite rolls back), so no connection is ever left without them.
struct SqliteIngest {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    committed: bool,
}

impl SqliteIngest {
    async fn begin(pool: &sqlx::SqlitePool) -> Result<SqliteIngest, StoreError> {
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await?;
        let mut ingest = SqliteIngest {
            conn,
            committed: false,
        };
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *ingest.conn)
            .await?;
        Ok(ingest)
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::query("COMMIT").execute(&mut *self.conn).await?;
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *self.conn)
            .await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for SqliteIngest {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for SqliteIngest {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for SqliteIngest {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// Runs `$body` with `$c` bound to the open ingest transaction of either backend.
macro_rules! ingest_conn {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx {
            IngestConn::Sqlite($c) => $body,
            IngestConn::Pg($c) => $body,
        }
    };
}
use ingest_conn;

/// An upload being stored. Dropping it without `commit` rolls everything back.
pub struct IngestTx {
    conn: IngestConn,
    org: OrgId,
    project: ProjectId,
    run: RunId,
    /// The number of a run created by this transaction.
    number: Option<i64>,
    idempotency_key: String,
    now: i64,
    /// Identity hash → test id, for identities this upload has met (memory grows with distinct
    /// tests, never with results).
    test_ids: HashMap<u64, i64>,
    counts: RunCounts,
    /// The same counts per suite (few: memory grows with suites, not results).
    suites: HashMap<String, RunCounts>,
    /// A lower bound of the ids this upload's results get (`runs.results_from`).
    first_id: Option<i64>,
    /// SQLite: the next free test id (the store gives new tests their ids under the write
    /// lock).
    next_test_id: Option<i64>,
    /// The last batch's tests were all new: insert before looking up.
    expect_new: bool,
    /// The project's identities were loaded in one scan.
    preloaded: bool,
    /// Results may land in a finished run (reporters that send a test after finishing).
    into_finished: bool,
}

const HASH_COLLISION: StoreError = StoreError::Refused(
    "two different tests in this project have the same identity hash; rename one of them",
);

/// A first batch this big and ≥ 90 % known makes the store load the project's identities.
const PRELOAD_AFTER: usize = 500;
/// The most identities loaded at once (≈ 32 MB of map).
const PRELOAD_MAX: i64 = 1_000_000;

/// Rows per multi-row INSERT on SQLite (9 binds each stays far below its 32,766 limit).
const SQLITE_CHUNK: usize = 500;

impl IngestTx {
    /// Stores one batch of results (inside the upload's transaction).
    pub async fn insert(&mut self, batch: &[ResultRow]) -> Result<(), StoreError> {
        self.resolve_tests(batch).await?;
        let mut ids = Vec::with_capacity(batch.len());
        for row in batch {
            let id = self
                .test_ids
                .get(&row.identity_hash)
                .copied()
                .ok_or_else(|| StoreError::Corrupt("a test identity was not resolved".into()))?;
            ids.push(id);
            self.count(row);
        }
        match &mut self.conn {
            IngestConn::Sqlite(c) => {
                if self.first_id.is_none() && !batch.is_empty() {
                    // The write lock is held: the next rows get ids above the largest.
                    let next: i64 =
                        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM results")
                            .fetch_one(&mut **c)
                            .await?;
                    self.first_id = Some(next);
                }
                for (rows, ids) in batch.chunks(SQLITE_CHUNK).zip(ids.chunks(SQLITE_CHUNK)) {
                    insert_results_sqlite(c, self.org, self.run, rows, ids).await?;
                }
                insert_terms_sqlite(c, self.org, self.run, &batch_terms(batch, &ids)).await?;
            }
            IngestConn::Pg(c) => {
                if self.first_id.is_none() && !batch.is_empty() {
                    // Identity values only grow: one drawn now is below every id this upload's
                    // results get (cheaper than returning each batch's ids to find the least).
                    let next: i64 = sqlx::query_scalar(
                        "SELECT nextval(pg_get_serial_sequence('results', 'id'))",
                    )
                    .fetch_one(&mut **c)
                    .await?;
                    self.first_id = Some(next);
                }
                insert_results_pg(c, self.org, self.run, batch, &ids).await?;
            }
        }
        Ok(())
    }

    /// This run's results of one test (oldest first), read inside the transaction: what a
    /// reporter's repeated report of the test replaces.
    pub async fn results_of(
        &mut self,
        identity_hash: u64,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let (org, run, project) = (self.org, self.run, self.project);
        if let IngestConn::Pg(c) = &mut self.conn {
            // Two reports of one test at once (an agent finishing a retry while the first try
            // finishes) take turns, so the second sees the first. SQLite's write lock already
            // serialises uploads.
            let run_bits = run.0.as_u64_pair().0 as i64;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(run_bits ^ identity_hash as i64)
                .execute(&mut **c)
                .await?;
        }
        ingest_conn!(self.conn, c => {
            let rows = sqlx::query(concat!(select_results!(), " AND t.project_id = $3 AND t.identity_hash = $4 ORDER BY r.id"))
                .bind(org.0)
                .bind(run.0)
                .bind(project.0)
                .bind(identity_hash as i64)
                .fetch_all(&mut **c)
                .await?;
            rows.iter().map(|r| stored_result!(r)).collect()
        })
    }

    /// Whether another finished ReportPortal item of the same test in this run started after
    /// `started_at` (the item finishing now is then an earlier try, whatever order the
    /// finishes came in). Read inside the transaction, after `results_of` took its turn.
    pub async fn later_try_finished(
        &mut self,
        item: uuid::Uuid,
        identity_hash: u64,
        started_at: i64,
    ) -> Result<bool, StoreError> {
        let (org, run) = (self.org, self.run);
        let n: i64 = ingest_conn!(self.conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM reporter_items WHERE org_id = $1 AND run_id = $2 \
             AND identity_hash = $3 AND id <> $4 AND finished_at IS NOT NULL AND started_at > $5")
            .bind(org.0)
            .bind(run.0)
            .bind(identity_hash as i64)
            .bind(item)
            .bind(started_at)
            .fetch_one(&mut **c)
            .await)?;
        Ok(n > 0)
    }

    /// Deletes a result of this run that a new report replaces, and takes it out of the run's
    /// and its suite's counts (committed with the rest of the upload, or not at all).
    pub async fn retract(&mut self, old: &StoredResult) -> Result<(), StoreError> {
        let (org, run) = (self.org, self.run);
        let deleted = ingest_conn!(self.conn, c => sqlx::query("DELETE FROM results WHERE org_id = $1 AND run_id = $2 AND id = $3")
            .bind(org.0)
            .bind(run.0)
            .bind(old.id)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected()))?;
        if deleted == 1 {
            self.counts.remove(old);
            self.suites
                .entry(old.suite.clone())
                .or_default()
                .remove(old);
        }
        Ok(())
    }

    fn count(&mut self, row: &ResultRow) {
        self.counts.add(row);
        match self.suites.get_mut(&row.suite) {
            Some(c) => c.add(row),
            None => {
                let mut c = RunCounts::default();
                c.add(row);
                self.suites.insert(row.suite.clone(), c);
            }
        }
    }

    /// Makes sure every identity in the batch has a test id (inserting new tests). Tests are
    /// looked up by their identity hash (an integer index); the stored key is compared with the
    /// batch's, so two different tests that share a hash are refused, never merged.
    async fn resolve_tests(&mut self, batch: &[ResultRow]) -> Result<(), StoreError> {
        let mut unknown: Vec<&ResultRow> = Vec::new();
        let mut keys: HashMap<u64, &str> = HashMap::new();
        for row in batch {
            if self.test_ids.contains_key(&row.identity_hash) {
                continue;
            }
            match keys.entry(row.identity_hash) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if *e.get() != row.identity_key {
                        return Err(HASH_COLLISION);
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(&row.identity_key);
                    unknown.push(row);
                }
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        // A suite met for the first time is new test after new test: then inserting first and
        // looking up only the conflicts saves a lookup per test.
        let mut found_any = false;
        if !self.expect_new {
            let found = self.select_tests(&unknown).await?;
            found_any = !found.is_empty();
            let mostly_known = found.len() * 10 >= unknown.len() * 9;
            self.remember(&keys, found)?;
            if !self.preloaded && mostly_known && unknown.len() >= PRELOAD_AFTER {
                // A big upload of a suite seen before: one scan of the project's identities
                // (an index-only range) costs far less than looking them up batch by batch.
                self.preloaded = true;
                self.preload().await?;
            }
        }
        let missing: Vec<&ResultRow> = unknown
            .into_iter()
            .filter(|r| !self.test_ids.contains_key(&r.identity_hash))
            .collect();
        if missing.is_empty() {
            self.expect_new = false;
            return Ok(());
        }
        let inserted = self.insert_tests(&missing).await?;
        for (id, hash) in inserted {
            self.test_ids.insert(hash as u64, id);
        }
        // Conflicts: tests that exist already (or that a concurrent upload just inserted).
        let conflicted: Vec<&ResultRow> = missing
            .into_iter()
            .filter(|r| !self.test_ids.contains_key(&r.identity_hash))
            .collect();
        self.expect_new = !found_any && conflicted.is_empty();
        if !conflicted.is_empty() {
            let found = self.select_tests(&conflicted).await?;
            self.remember(&keys, found)?;
            if conflicted
                .iter()
                .any(|r| !self.test_ids.contains_key(&r.identity_hash))
            {
                return Err(StoreError::Corrupt(
                    "a test identity was not resolved".into(),
                ));
            }
        }
        Ok(())
    }

    /// Keeps the ids of found tests, refusing one whose stored key is not the batch's.
    fn remember(
        &mut self,
        keys: &HashMap<u64, &str>,
        found: Vec<(i64, i64, String)>,
    ) -> Result<(), StoreError> {
        for (id, hash, key) in found {
            let hash = hash as u64;
            if keys.get(&hash).is_some_and(|k| *k != key) {
                return Err(HASH_COLLISION);
            }
            self.test_ids.insert(hash, id);
        }
        Ok(())
    }

    /// Every test id of the project (at most `PRELOAD_MAX`), by identity hash. The map is sized
    /// once from a count (growing a map this big doubles it, briefly holding both copies) and
    /// filled as rows stream in (collecting them first would hold the identities twice): at a
    /// million tests that is 50 MB less at the peak.
    async fn preload(&mut self) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let project = self.project;
        let count: i64 = ingest_conn!(self.conn, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM tests WHERE project_id = $1")
            .bind(project.0)
            .fetch_one(&mut **c)
            .await)?;
        let wanted = usize::try_from(count.clamp(0, PRELOAD_MAX)).unwrap_or(0);
        self.test_ids
            .reserve(wanted.saturating_sub(self.test_ids.len()));
        let test_ids = &mut self.test_ids;
        ingest_conn!(self.conn, c => {
            let mut rows = sqlx::query_as::<_, (i64, i64)>(
                "SELECT identity_hash, id FROM tests WHERE project_id = $1 LIMIT $2")
                .bind(project.0)
                .bind(PRELOAD_MAX)
                .fetch(&mut **c);
            while let Some((hash, id)) = rows.try_next().await? {
                test_ids.insert(hash as u64, id);
            }
        });
        Ok(())
    }

    /// `(id, identity_hash, identity_key)` of the rows' tests that exist.
    async fn select_tests(
        &mut self,
        rows: &[&ResultRow],
    ) -> Result<Vec<(i64, i64, String)>, StoreError> {
        match &mut self.conn {
            IngestConn::Sqlite(c) => {
                let mut found = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(SQLITE_CHUNK) {
                    let sql = format!(
                        concat!(
                            "SELECT id, identity_hash, ",
                            test_key!(""),
                            " FROM tests WHERE identity_hash IN ({}) AND project_id = ?{}"
                        ),
                        vec!["?"; chunk.len()].join(", "),
                        chunk.len() + 1
                    );
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for row in chunk {
                        q = q.bind(row.identity_hash as i64);
                    }
                    found.extend(q.bind(self.project.0).fetch_all(&mut **c).await?);
                }
                Ok(found)
            }
            IngestConn::Pg(c) => {
                let hashes: Vec<i64> = rows.iter().map(|r| r.identity_hash as i64).collect();
                Ok(sqlx::query_as(concat!(
                    "SELECT id, identity_hash, ",
                    test_key!(""),
                    " FROM tests WHERE project_id = $1 AND identity_hash = ANY($2)"
                ))
                .bind(self.project.0)
                .bind(&hashes)
                .fetch_all(&mut **c)
                .await?)
            }
        }
    }

    /// Inserts the rows' tests; `(id, identity_hash)` of those inserted (not of conflicts).
    async fn insert_tests(&mut self, rows: &[&ResultRow]) -> Result<Vec<(i64, i64)>, StoreError> {
        match &mut self.conn {
            IngestConn::Sqlite(c) => {
                // The write lock is held since `BEGIN IMMEDIATE`: ids above the largest are
                // free, so the store gives them itself instead of reading a row back per new
                // test (`RETURNING`).
                let mut next = match self.next_test_id {
                    Some(next) => next,
                    None => {
                        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM tests")
                            .fetch_one(&mut **c)
                            .await?
                    }
                };
                let mut inserted = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(SQLITE_CHUNK) {
                    // Rows as anonymous parameters, then org, project and time numbered after
                    // them (see `insert_results_sqlite`). `WHERE true` keeps SQLite from reading
                    // `ON CONFLICT` as a join clause.
                    let n = chunk.len() * 7;
                    let sql = format!(
                        "WITH v (i, k, h, s, n, p, f) AS (VALUES {}) \
                         INSERT INTO tests (id, org_id, project_id, identity_key, identity_hash, suite, name, parameters, file, created_at) \
                         SELECT i, ?{}, ?{}, k, h, s, n, p, f, ?{} FROM v WHERE true \
                         ON CONFLICT (project_id, identity_hash) DO NOTHING",
                        placeholders(chunk.len(), 7),
                        n + 1,
                        n + 2,
                        n + 3
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (offset, row) in (0i64..).zip(chunk) {
                        q = q
                            .bind(next + offset)
                            .bind(stored_key(row))
                            .bind(row.identity_hash as i64)
                            .bind(&row.suite)
                            .bind(&row.name)
                            .bind(&row.parameters)
                            .bind(&row.file);
                    }
                    let q = q.bind(self.org.0).bind(self.project.0).bind(self.now);
                    let stored = q.execute(&mut **c).await?.rows_affected();
                    // Every row stored: each has the id it was given. Otherwise some existed
                    // and which rows took their ids is unknown: the caller looks up the whole
                    // chunk as conflicts.
                    if usize::try_from(stored).is_ok_and(|s| s == chunk.len()) {
                        inserted.extend(
                            (0i64..)
                                .zip(chunk)
                                .map(|(offset, row)| (next + offset, row.identity_hash as i64)),
                        );
                    }
                    next += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
                }
                self.next_test_id = Some(next);
                Ok(inserted)
            }
            IngestConn::Pg(c) => {
                let keys: Vec<&str> = rows.iter().map(|r| stored_key(r)).collect();
                let hashes: Vec<i64> = rows.iter().map(|r| r.identity_hash as i64).collect();
                let suites: Vec<&str> = rows.iter().map(|r| r.suite.as_str()).collect();
                let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
                let params: Vec<&str> = rows.iter().map(|r| r.parameters.as_str()).collect();
                let files: Vec<Option<&str>> = rows.iter().map(|r| r.file.as_deref()).collect();
                // A concurrent upload inserting the same tests: the conflict waits for it.
                Ok(sqlx::query_as(
                    "INSERT INTO tests (org_id, project_id, identity_key, identity_hash, suite, name, parameters, file, created_at) \
                     SELECT $1, $2, unnest($4::text[]), unnest($5::bigint[]), unnest($6::text[]), unnest($7::text[]), unnest($8::text[]), unnest($9::text[]), $3 \
                     ON CONFLICT (project_id, identity_hash) DO NOTHING RETURNING id, identity_hash")
                    .bind(self.org.0)
                    .bind(self.project.0)
                    .bind(self.now)
                    .bind(&keys)
                    .bind(&hashes)
                    .bind(&suites)
                    .bind(&names)
                    .bind(&params)
                    .bind(&files)
                    .fetch_all(&mut **c)
                    .await?)
            }
        }
    }

    /// The number of the run this transaction created, if it did.
    pub fn new_run_number(&self) -> Option<i64> {
        self.number
    }

    /// Adds this upload's counts to the run, records the batch and commits: only now is
    /// anything visible (and acknowledged). With `finish`, the run is finished in the same
    /// commit (a one-shot upload). Returns what was stored.
    pub async fn commit(
        mut self,
        audit: &crate::AuditEntry,
        finish: bool,
    ) -> Result<RunCounts, StoreError> {
        let c = self.counts;
        let updated = ingest_conn!(self.conn, tx => sqlx::query(
            "UPDATE runs SET total = total + $1, passed = passed + $2, failed = failed + $3, errored = errored + $4, \
             skipped = skipped + $5, flaky = flaky + $6, duration_ms = duration_ms + $7, \
             results_from = CASE WHEN $10 IS NULL OR (results_from IS NOT NULL AND results_from <= $10) THEN results_from ELSE $10 END \
             WHERE org_id = $8 AND id = $9 AND (status = 'running' OR $11)")
            .bind(c.total)
            .bind(c.passed)
            .bind(c.failed)
            .bind(c.errored)
            .bind(c.skipped)
            .bind(c.flaky)
            .bind(c.duration_ms)
            .bind(self.org.0)
            .bind(self.run.0)
            .bind(self.first_id)
            .bind(self.into_finished)
            .execute(&mut **tx)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(StoreError::Refused(
                "this run finished while the upload was being stored",
            ));
        }
        if finish {
            ingest_conn!(self.conn, tx => sqlx::query("UPDATE runs SET status = 'finished', finished_at = $1 WHERE org_id = $2 AND id = $3")
                .bind(self.now)
                .bind(self.org.0)
                .bind(self.run.0)
                .execute(&mut **tx)
                .await
                .map(|_| ()))?;
        }
        let suites: Vec<(&String, &RunCounts)> = self.suites.iter().collect();
        match &mut self.conn {
            IngestConn::Sqlite(c) => {
                for chunk in suites.chunks(SQLITE_CHUNK / 5) {
                    add_suite_counts_sqlite(c, self.org, self.run, chunk).await?;
                }
            }
            IngestConn::Pg(c) => add_suite_counts_pg(c, self.org, self.run, &suites).await?,
        }
        ingest_conn!(self.conn, tx => sqlx::query("UPDATE ingest_batches SET results = $1 WHERE run_id = $2 AND idempotency_key = $3")
            .bind(c.total)
            .bind(self.run.0)
            .bind(&self.idempotency_key)
            .execute(&mut **tx)
            .await
            .map(|_| ()))?;
        match self.conn {
            IngestConn::Sqlite(mut tx) => {
                crate::audit::append!(tx, audit, false);
                tx.commit().await?;
            }
            IngestConn::Pg(mut tx) => {
                crate::audit::append!(tx, audit, true);
                tx.commit().await?;
            }
        }
        Ok(c)
    }

    pub fn counts(&self) -> RunCounts {
        self.counts
    }
}

/// `(?, ?, …), (?, ?, …)`: `rows` groups of `width` anonymous placeholders. Anonymous `?`
/// matter: sqlx looks up every named (`$n`) parameter by name, quadratic in a long statement.
fn placeholders(rows: usize, width: usize) -> String {
    let group = format!("({})", vec!["?"; width].join(", "));
    vec![group; rows].join(", ")
}

/// A batch's search terms with the test each belongs to.
fn batch_terms<'a>(batch: &'a [ResultRow], ids: &[i64]) -> Vec<(&'a [u8], i64)> {
    let mut terms = Vec::new();
    for (row, id) in batch.iter().zip(ids) {
        for t in &row.terms {
            terms.push((t.as_slice(), *id));
        }
    }
    terms
}

async fn insert_terms_sqlite(
    c: &mut SqliteIngest,
    org: OrgId,
    run: RunId,
    terms: &[(&[u8], i64)],
) -> Result<(), StoreError> {
    for chunk in terms.chunks(SQLITE_CHUNK * 2) {
        let sql = format!(
            "INSERT INTO result_terms (org_id, term, run_id, test_id) VALUES {}",
            placeholders(chunk.len(), 4)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (term, id) in chunk {
            q = q.bind(org.0).bind(*term).bind(run.0).bind(*id);
        }
        q.execute(&mut **c).await?;
    }
    Ok(())
}

async fn insert_results_sqlite(
    c: &mut SqliteIngest,
    org: OrgId,
    run: RunId,
    rows: &[ResultRow],
    ids: &[i64],
) -> Result<(), StoreError> {
    // The rows as anonymous parameters first, then the org and run once, numbered after them
    // (sqlx counts anonymous parameters itself, so numbered ones must come last).
    let n = rows.len() * 7;
    let sql = format!(
        "WITH v (t, o, f, a, d, s, x) AS (VALUES {}) \
         INSERT INTO results (org_id, run_id, test_id, outcome, flaky, attempts, duration_ms, signature, details) \
         SELECT ?{}, ?{}, t, o, f, a, d, s, x FROM v",
        placeholders(rows.len(), 7),
        n + 1,
        n + 2
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (row, id) in rows.iter().zip(ids) {
        q = q
            .bind(*id)
            .bind(row.outcome)
            .bind(row.flaky)
            .bind(row.attempts)
            .bind(row.duration_ms)
            .bind(row.signature)
            .bind(row.details.as_deref());
    }
    let q = q.bind(org.0).bind(run.0);
    q.execute(&mut **c).await?;
    Ok(())
}

/// Adds an upload's per-suite counts to its run's (an appended batch adds to what is there).
async fn add_suite_counts_sqlite(
    c: &mut SqliteIngest,
    org: OrgId,
    run: RunId,
    suites: &[(&String, &RunCounts)],
) -> Result<(), StoreError> {
    if suites.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO run_suites (run_id, org_id, suite, total, failing, skipped, flaky, duration_ms) VALUES {} \
         ON CONFLICT (run_id, suite) DO UPDATE SET total = total + excluded.total, \
         failing = failing + excluded.failing, skipped = skipped + excluded.skipped, \
         flaky = flaky + excluded.flaky, duration_ms = duration_ms + excluded.duration_ms",
        placeholders(suites.len(), 8)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (suite, n) in suites {
        q = q
            .bind(run.0)
            .bind(org.0)
            .bind(suite.as_str())
            .bind(n.total)
            .bind(n.failed + n.errored)
            .bind(n.skipped)
            .bind(n.flaky)
            .bind(n.duration_ms);
    }
    q.execute(&mut **c).await?;
    Ok(())
}

async fn add_suite_counts_pg(
    c: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    org: OrgId,
    run: RunId,
    suites: &[(&String, &RunCounts)],
) -> Result<(), StoreError> {
    if suites.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = suites.iter().map(|(s, _)| s.as_str()).collect();
    let column =
        |f: fn(&RunCounts) -> i64| -> Vec<i64> { suites.iter().map(|(_, n)| f(n)).collect() };
    sqlx::query(
        "INSERT INTO run_suites (run_id, org_id, suite, total, failing, skipped, flaky, duration_ms) \
         SELECT $1, $2, s, t, f, k, l, d FROM UNNEST($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) \
         AS u(s, t, f, k, l, d) \
         ON CONFLICT (run_id, suite) DO UPDATE SET total = run_suites.total + excluded.total, \
         failing = run_suites.failing + excluded.failing, skipped = run_suites.skipped + excluded.skipped, \
         flaky = run_suites.flaky + excluded.flaky, duration_ms = run_suites.duration_ms + excluded.duration_ms")
        .bind(run.0)
        .bind(org.0)
        .bind(&names)
        .bind(column(|n| n.total))
        .bind(column(|n| n.failed + n.errored))
        .bind(column(|n| n.skipped))
        .bind(column(|n| n.flaky))
        .bind(column(|n| n.duration_ms))
        .execute(&mut **c)
        .await?;
    Ok(())
}

async fn insert_results_pg(
    c: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    org: OrgId,
    run: RunId,
    rows: &[ResultRow],
    ids: &[i64],
) -> Result<(), StoreError> {
    let outcomes: Vec<i16> = rows.iter().map(|r| r.outcome).collect();
    let flaky: Vec<bool> = rows.iter().map(|r| r.flaky).collect();
    let attempts: Vec<i32> = rows.iter().map(|r| r.attempts).collect();
    let durations: Vec<Option<i64>> = rows.iter().map(|r| r.duration_ms).collect();
    let signatures: Vec<Option<i64>> = rows.iter().map(|r| r.signature).collect();
    let details: Vec<Option<&[u8]>> = rows.iter().map(|r| r.details.as_deref()).collect();
    let (terms, term_tests): (Vec<&[u8]>, Vec<i64>) = batch_terms(rows, ids).into_iter().unzip();
    // The search terms go in the same statement: a round trip less per batch. `unnest` in the
    // select list streams the arrays in step; `FROM UNNEST(…)` would first copy every row into
    // a tuple store.
    sqlx::query(
        "WITH terms AS (INSERT INTO result_terms (org_id, term, run_id, test_id) SELECT $1, unnest($10::bytea[]), $2, unnest($11::bigint[])) \
         INSERT INTO results (org_id, run_id, test_id, outcome, flaky, attempts, duration_ms, signature, details) \
         SELECT $1, $2, unnest($3::bigint[]), unnest($4::smallint[]), unnest($5::bool[]), unnest($6::int[]), unnest($7::bigint[]), unnest($8::bigint[]), unnest($9::bytea[])")
        .bind(org.0)
        .bind(run.0)
        .bind(ids)
        .bind(&outcomes)
        .bind(&flaky)
        .bind(&attempts)
        .bind(&durations)
        .bind(&signatures)
        .bind(&details)
        .bind(&terms)
        .bind(&term_tests)
        .execute(&mut **c)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::key_is_plain;

    #[test]
    fn only_a_key_that_is_suite_and_name_goes_unstored() {
        assert!(key_is_plain("shop.Cart › adds", "shop.Cart", "adds"));
        assert!(key_is_plain("adds", "", "adds"));
        // The key escapes separators inside parts, and carries parameters: stored whole.
        assert!(!key_is_plain("shop.Cart › a \\› b", "shop.Cart", "a › b"));
        assert!(!key_is_plain("shop.Cart › adds[n=1]", "shop.Cart", "adds"));
        assert!(!key_is_plain("shop.Cart › adds", "shop", "Cart › adds"));
        assert!(!key_is_plain("shop.Cart › adds", "", "adds"));
    }
}
