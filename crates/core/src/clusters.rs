//! Failure clusters: failures grouped by their error signature (the message with numbers, ids,
//! paths and timestamps taken out, computed at ingest) across a project's latest runs — one
//! line per underlying problem instead of one per failing test.

use crate::runs::{ResultView, result_view};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::{DomainError, Permission};

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
    /// The triage label, when one was set (it applies to every failure with this signature).
    pub label: Option<String>,
    pub note: Option<String>,
    /// The latest failure, opened.
    pub example: ResultView,
}

/// The triage labels a cluster can carry.
pub const LABELS: [&str; 6] = [
    "product_bug",
    "test_bug",
    "environment",
    "infrastructure",
    "investigating",
    "wont_fix",
];
const MAX_NOTE_CHARS: usize = 500;

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
    /// The project's failure clusters over `window`, most failures first.
    pub async fn failure_clusters(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        window: crate::flaky::Window,
        limit: i64,
    ) -> Result<ClusterReport, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let window_runs = self
            .window_runs(p.org, project, window)
            .await?
            .clamp(1, MAX_WINDOW_RUNS);
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
                    label: c.label,
                    note: c.note,
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

impl Core {
    /// Labels a failure cluster (`Some((label, note))`, label one of `LABELS`) or clears its
    /// label (`None`). Needs `comment` in the project; audited.
    pub async fn label_cluster(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        signature: &str,
        label: Option<(String, String)>,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::Comment)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let sig = u64::from_str_radix(signature, 16)
            .ok()
            .filter(|_| signature.len() == 16)
            .map(|v| i64::from_ne_bytes(v.to_ne_bytes()))
            .ok_or(CoreError::NotFound("cluster"))?;
        if let Some((l, note)) = &label {
            if !LABELS.contains(&l.as_str()) {
                return Err(DomainError::new(
                    "label",
                    format!("must be one of {}", LABELS.join(", ")),
                )
                .into());
            }
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(DomainError::new("note", "must be at most 500 characters").into());
            }
        }
        let by = crate::runs::actor_label(p);
        let change = match &label {
            Some((l, note)) => crate::audit::Change::new("cluster.labelled", "cluster", signature)
                .after(serde_json::json!({ "project": slug, "label": l, "note": note })),
            None => crate::audit::Change::new("cluster.unlabelled", "cluster", signature)
                .after(serde_json::json!({ "project": slug })),
        };
        let event = crate::audit::by(p, change);
        self.store()
            .set_cluster_label(
                project,
                sig,
                label
                    .as_ref()
                    .map(|(l, n)| (l.as_str(), n.trim(), by.as_str())),
                testvault_domain::time::now(),
                &event,
            )
            .await?;
        Ok(())
    }
}
