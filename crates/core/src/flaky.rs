//! Flaky tests: across every branch of a project's latest runs, the tests that flip between
//! passing and failing or pass only on a retry, scored by `history::stats`.

use crate::history::{HistoryPoint, stats};
use crate::runs::outcome_name;
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::Permission;

#[derive(Debug, Clone, Serialize)]
pub struct FlakyTest {
    pub test_id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    /// 0–100 (see `TestStats::flakiness`).
    pub flakiness: u32,
    pub flips: usize,
    pub passed_on_retry: usize,
    pub results: usize,
    pub pass_rate: Option<u32>,
    /// The newest result's outcome.
    pub last_outcome: &'static str,
    pub quarantined: bool,
    /// The flakiness of the newer half of the window against the older half: `rising`,
    /// `falling` or `steady` (within 10 points).
    pub trend: &'static str,
}

/// Compares the flakiness of the newer and the older half of a history (newest first).
pub fn trend(history: &[HistoryPoint]) -> &'static str {
    let half = history.len() / 2;
    if half < 2 {
        return "steady";
    }
    let newer = stats(&history[..half]).flakiness;
    let older = stats(&history[half..]).flakiness;
    if newer > older + 10 {
        "rising"
    } else if older > newer + 10 {
        "falling"
    } else {
        "steady"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FlakyReport {
    /// How many of the latest runs were read.
    pub window_runs: i64,
    /// Flaky tests found (the list holds the first `limit`, flakiest first).
    pub total: usize,
    pub tests: Vec<FlakyTest>,
}

/// The longest window one request reads.
pub const MAX_WINDOW_RUNS: i64 = 1000;
/// The longest window in days.
const MAX_WINDOW_DAYS: i64 = 3650;

/// Which runs a report reads: the latest `runs` (default 200), or, given `days`, those started
/// in the last `days` days.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct Window {
    #[serde(default)]
    pub runs: Option<i64>,
    #[serde(default)]
    pub days: Option<i64>,
}

/// The window when none is asked for.
pub const DEFAULT_WINDOW_RUNS: i64 = 200;

impl Core {
    /// How many of the project's latest runs `window` covers (runs are numbered in the order
    /// they start, so the last `days` days are the latest that many runs; at least one).
    pub(crate) async fn window_runs(
        &self,
        org: testvault_domain::OrgId,
        project: testvault_domain::ProjectId,
        window: Window,
    ) -> Result<i64, CoreError> {
        let Some(days) = window.days else {
            return Ok(window.runs.unwrap_or(DEFAULT_WINDOW_RUNS));
        };
        if !(1..=MAX_WINDOW_DAYS).contains(&days) {
            return Err(testvault_domain::DomainError::new("days", "must be 1 to 3650").into());
        }
        let since = testvault_domain::time::now() - days * 86_400;
        Ok(self
            .store()
            .count_runs_since(org, project, since)
            .await?
            .max(1))
    }

    /// The project's flaky tests over `window`, flakiest first.
    pub async fn flaky_tests(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        window: Window,
        limit: usize,
    ) -> Result<FlakyReport, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let window_runs = self
            .window_runs(p.org, project, window)
            .await?
            .clamp(2, MAX_WINDOW_RUNS);
        let rows = self
            .store()
            .recent_outcomes(p.org, project, window_runs)
            .await?;
        let mut found: Vec<(i64, crate::history::TestStats, &'static str, &'static str)> =
            Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let test = rows[start].0;
            let end = rows[start..]
                .iter()
                .position(|r| r.0 != test)
                .map_or(rows.len(), |n| start + n);
            let history: Vec<HistoryPoint> = rows[start..end]
                .iter()
                .map(|(_, number, outcome, flaky)| HistoryPoint {
                    run_number: *number,
                    branch: None,
                    created_at: 0,
                    outcome: outcome_name(*outcome),
                    flaky: *flaky,
                    tries: 1,
                    duration_ms: None,
                })
                .collect();
            let s = stats(&history);
            if s.flakiness > 0 {
                found.push((test, s, history[0].outcome, trend(&history)));
            }
            start = end;
        }
        found.sort_by(|a, b| {
            b.1.flakiness
                .cmp(&a.1.flakiness)
                .then(b.1.flips.cmp(&a.1.flips))
                .then(a.0.cmp(&b.0))
        });
        let total = found.len();
        found.truncate(limit);
        let ids: Vec<i64> = found.iter().map(|f| f.0).collect();
        let names = self.test_names(p.org, project, &ids).await?;
        let tests = found
            .into_iter()
            .map(|(test_id, s, last_outcome, trend)| {
                let t = names.get(&test_id).cloned().unwrap_or_default();
                FlakyTest {
                    test_id,
                    suite: t.suite,
                    name: t.name,
                    parameters: t.parameters,
                    flakiness: s.flakiness,
                    flips: s.flips,
                    passed_on_retry: s.passed_on_retry,
                    results: s.results,
                    pass_rate: s.pass_rate,
                    last_outcome,
                    quarantined: t.quarantined,
                    trend,
                }
            })
            .collect();
        Ok(FlakyReport {
            window_runs,
            total,
            tests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(outcomes: &[&'static str]) -> Vec<HistoryPoint> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, outcome)| HistoryPoint {
                run_number: (outcomes.len() - i) as i64,
                branch: None,
                created_at: 0,
                outcome,
                flaky: false,
                tries: 1,
                duration_ms: None,
            })
            .collect()
    }

    #[test]
    fn the_trend_compares_the_newer_half_with_the_older() {
        // Newest first: flipping lately, steady before.
        let lately = h(&[
            "passed", "failed", "passed", "failed", "passed", "passed", "passed", "passed",
        ]);
        assert_eq!(trend(&lately), "rising");
        let calmer = h(&[
            "passed", "passed", "passed", "passed", "failed", "passed", "failed", "passed",
        ]);
        assert_eq!(trend(&calmer), "falling");
        assert_eq!(
            trend(&h(&["passed", "failed", "passed"])),
            "steady",
            "too short to tell"
        );
    }
}
