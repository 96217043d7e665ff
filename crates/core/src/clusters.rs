//! Failure clusters: failures grouped by their error signature (the message with numbers, ids,
//! paths and timestamps taken out, computed at ingest) across a project's latest runs — one
//! line per underlying problem instead of one per failing test.

use crate::runs::{ResultView, result_view};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::Permission;

#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// The signature, as 16 hex digits (the same as results carry).
    pub signature: String,
    pub failures: i64,
    /// Distinct tests that failed this way.
    pub tests: i64,
    pub first_run: i64,
    pub last_run: i64,
    /// The first line of the latest failure's message (or trace), at most 300 characters.
    pub headline: String,
    pub example_run: i64,
    /// The latest failure, opened.
    pub example: ResultView,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub window_runs: i64,
    pub clusters: Vec<ClusterView>,
}

/// The longest window and list one request reads.
pub const MAX_WINDOW_RUNS: i64 = 1000;
pub const MAX_CLUSTERS: i64 = 500;
const HEADLINE_CHARS: usize = 300;

/// The first non-empty line of the message, else of the trace, cut to `HEADLINE_CHARS`.
fn headline(r: &ResultView) -> String {
    let d = &r.details;
    let text = [d.message.as_deref(), d.trace.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(str::lines)
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut out: String = text.chars().take(HEADLINE_CHARS).collect();
    if text.chars().count() > HEADLINE_CHARS {
        out.push('…');
    }
    out
}

impl Core {
    /// The project's failure clusters over its latest `window_runs` runs, most failures first.
    pub async fn failure_clusters(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        window_runs: i64,
        limit: i64,
    ) -> Result<ClusterReport, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let window_runs = window_runs.clamp(1, MAX_WINDOW_RUNS);
        let rows = self
            .store()
            .failure_clusters(p.org, project, window_runs, limit.clamp(1, MAX_CLUSTERS))
            .await?;
        let key = self.keyring().data_key(self.store(), p.org).await?;
        let org = p.org.to_string();
        let clusters = rows
            .into_iter()
            .map(|c| {
                let example = result_view(&key, &org, c.example_run, c.example)?;
                Ok(ClusterView {
                    signature: format!("{:016x}", u64::from_ne_bytes(c.signature.to_ne_bytes())),
                    failures: c.failures,
                    tests: c.tests,
                    first_run: c.first_run,
                    last_run: c.last_run,
                    headline: headline(&example),
                    example_run: c.example_run_number,
                    example,
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok(ClusterReport {
            window_runs,
            clusters,
        })
    }
}
