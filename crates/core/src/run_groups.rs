//! A run seen in groups — by suite, by error signature — and one result in full with its test's
//! recent history: what the run page shows besides the result list.

use crate::history::HistoryPoint;
use crate::runs::{ResultView, result_view};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::{Permission, RunId};

/// Groups one request lists at most.
const MAX_GROUPS: i64 = 500;
/// Results the drawer's history strip shows.
const STRIP: i64 = 30;

/// A suite of a run with its counts.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteGroup {
    pub suite: String,
    pub total: i64,
    pub failing: i64,
    pub skipped: i64,
    pub flaky: i64,
    pub duration_ms: i64,
}

/// A run's failures that share an error signature.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorGroup {
    pub signature: String,
    pub failures: i64,
    /// The failure cluster's triage label, when someone set one.
    pub label: Option<String>,
    /// The latest of these failures.
    pub example: ResultView,
}

/// One result in full, with its test's latest results (newest first) for the history strip.
#[derive(Debug, Clone, Serialize)]
pub struct ResultDrawer {
    pub result: ResultView,
    pub history: Vec<HistoryPoint>,
}

impl Core {
    /// A run's suites, failing ones first (counted at ingest: no result is read).
    pub async fn run_suites(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
    ) -> Result<Vec<SuiteGroup>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let rows = self
            .store()
            .run_suite_counts(p.org, run, MAX_GROUPS)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| SuiteGroup {
                suite: r.suite,
                total: r.total,
                failing: r.failing,
                skipped: r.skipped,
                flaky: r.flaky,
                duration_ms: r.duration_ms,
            })
            .collect())
    }

    /// A run's failures grouped by error signature, most first.
    pub async fn run_errors(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
    ) -> Result<Vec<ErrorGroup>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let rows = self
            .store()
            .run_errors(p.org, project, run, MAX_GROUPS)
            .await?;
        let key = self.keyring().data_key(self.store(), p.org).await?;
        let org = p.org.to_string();
        rows.into_iter()
            .map(|r| {
                let example = result_view(&key, &org, run, r.example)?;
                Ok(ErrorGroup {
                    signature: example.signature.clone().unwrap_or_default(),
                    failures: r.failures,
                    label: r.label,
                    example,
                })
            })
            .collect()
    }

    /// One result of a run in full, with its test's history strip.
    pub async fn run_result(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        result: i64,
    ) -> Result<ResultDrawer, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let row = self
            .store()
            .run_result(p.org, run, result)
            .await?
            .ok_or(CoreError::NotFound("result"))?;
        let history = self
            .store()
            .test_history(p.org, row.test_id, STRIP)
            .await?
            .into_iter()
            .map(HistoryPoint::from)
            .collect();
        let key = self.keyring().data_key(self.store(), p.org).await?;
        Ok(ResultDrawer {
            result: result_view(&key, &p.org.to_string(), run, row)?,
            history,
        })
    }
}
