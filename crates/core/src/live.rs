//! Results that reporters send a test at a time (the Testomat.io and ReportPortal clients):
//! stored and acknowledged at once like any batch, but a test reported again in the same run
//! replaces its earlier result there — which becomes an earlier attempt (a retry) unless the
//! reporter asked to overwrite it. So a retried test is one result with its tries, never two.

use crate::audit::{self, Change};
use crate::runs::{RowMaker, outcome_of, result_view};
use crate::{Core, CoreError, Principal};
use serde_json::json;
use testvault_domain::{ProjectId, RunId, time};
use testvault_ingest::{Attempt, TestResult};
use testvault_store::{IngestInto, RunCounts};

/// Earlier attempts kept on one result (the oldest go first): a test reported thousands of
/// times in one run must not grow one row without end.
const MAX_ATTEMPTS: usize = 20;

/// What a repeated report of a test in the same run means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A new try: the earlier result becomes an attempt of this one.
    Retry,
    /// A correction: the earlier result is dropped.
    Overwrite,
    /// Another execution kept beside the earlier one (the same test in another browser).
    Keep,
    /// An earlier try that arrives after the later one: the stored result stays final and
    /// this one becomes its attempt.
    Earlier,
    /// A ReportPortal item: `Earlier` when another try of the same test that started later
    /// has finished, else `Retry` — decided inside the transaction, where reports of one test
    /// take turns, so finishes that cross on the wire still come out in start order.
    ByStart { item: uuid::Uuid, started_at: i64 },
}

/// One reported test and what to do when the run already holds it.
#[derive(Debug, Clone)]
pub struct LiveResult {
    pub result: TestResult,
    pub repeat: Repeat,
}

impl Core {
    /// Stores reported tests in `run` (which may have finished: reporters send late results)
    /// in one transaction under `key`; a retried request with the same key stores nothing.
    pub(crate) async fn store_live(
        &self,
        p: &Principal,
        project: ProjectId,
        run: RunId,
        key: &str,
        results: Vec<LiveResult>,
    ) -> Result<RunCounts, CoreError> {
        let org = p.org;
        let Some(mut tx) = self
            .store()
            .begin_ingest(org, project, run, IngestInto::AnyStatus, key, time::now())
            .await?
        else {
            return Ok(RunCounts::default());
        };
        let data_key = self.keyring().data_key(self.store(), org).await?;
        let org_text = org.to_string();
        let mut maker = RowMaker::new(org, run, &data_key)?;
        for live in results {
            let mut result = live.result;
            if live.repeat != Repeat::Keep {
                let hash = result.identity.hash64();
                let earlier = tx.results_of(hash).await?;
                let repeat = match live.repeat {
                    Repeat::ByStart { item, started_at } => {
                        if tx.later_try_finished(item, hash, started_at).await? {
                            Repeat::Earlier
                        } else {
                            Repeat::Retry
                        }
                    }
                    other => other,
                };
                if let Some(last) = earlier.into_iter().last() {
                    let view = result_view(&data_key, &org_text, run, last.clone())?;
                    let tried = |outcome, duration: Option<i64>, message, trace| Attempt {
                        outcome,
                        duration_ms: duration.and_then(|d| u64::try_from(d).ok()),
                        message,
                        trace,
                    };
                    match repeat {
                        Repeat::Retry => {
                            let mut attempts = view.details.attempts;
                            attempts.push(tried(
                                outcome_of(last.outcome),
                                last.duration_ms,
                                view.details.message,
                                view.details.trace,
                            ));
                            attempts.append(&mut result.attempts);
                            result.attempts = attempts;
                        }
                        Repeat::Earlier => {
                            let mut attempts = result.attempts;
                            attempts.push(tried(
                                result.outcome,
                                result.duration_ms.and_then(|d| i64::try_from(d).ok()),
                                result.message,
                                result.trace,
                            ));
                            let d = view.details;
                            attempts.extend(d.attempts);
                            result = TestResult {
                                identity: result.identity,
                                outcome: outcome_of(last.outcome),
                                duration_ms: last.duration_ms.and_then(|d| u64::try_from(d).ok()),
                                message: d.message,
                                trace: d.trace,
                                stdout: d.stdout,
                                stderr: d.stderr,
                                attempts,
                                marked_flaky: false,
                                file: last.file.clone(),
                                line: d.line,
                                labels: d.labels,
                            };
                        }
                        Repeat::Overwrite | Repeat::Keep | Repeat::ByStart { .. } => {}
                    }
                    tx.retract(&last).await?;
                }
            }
            if result.attempts.len() > MAX_ATTEMPTS {
                let extra = result.attempts.len() - MAX_ATTEMPTS;
                result.attempts.drain(..extra);
            }
            // One row at a time: the next report of the same test must find this one.
            let row = maker.row(result)?;
            tx.insert(std::slice::from_ref(&row)).await?;
        }
        let counts = tx.counts();
        let event = audit::by(
            p,
            Change::new("run.results_reported", "run", run).after(json!({
                "results": counts.total, "idempotency_key": key, "new_run": false, "tool": "reporter",
            })),
        );
        let stored = tx.commit(&event, false).await?;
        self.store().wrote_results(stored.total.max(0));
        let named = maker.case_ids();
        if !named.is_empty()
            && let Err(e) = self.link_by_property(p, project, named).await
        {
            tracing::warn!(error = %e, "tests naming their case in a property were not linked");
        }
        Ok(stored)
    }
}
