//! A test's history: its latest results across runs and branches, and what they say — pass
//! rate, flips between passing and failing, passes that needed a retry, how long it has been
//! failing. The rules are pure (`stats`); `Core::test_history` loads and names.

use crate::runs::outcome_name;
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use testvault_domain::Permission;
use testvault_store::HistoryRow;

/// One result in a test's history (newest first in every list).
#[derive(Debug, Clone, Serialize)]
pub struct HistoryPoint {
    pub run_number: i64,
    pub branch: Option<String>,
    pub created_at: i64,
    pub outcome: &'static str,
    /// Passed on a retry.
    pub flaky: bool,
    pub tries: i32,
    pub duration_ms: Option<i64>,
}

impl From<HistoryRow> for HistoryPoint {
    fn from(r: HistoryRow) -> Self {
        HistoryPoint {
            run_number: r.number,
            branch: r.branch,
            created_at: r.created_at,
            outcome: outcome_name(r.outcome),
            flaky: r.flaky,
            tries: r.attempts,
            duration_ms: r.duration_ms,
        }
    }
}

impl HistoryPoint {
    fn failing(&self) -> bool {
        matches!(self.outcome, "failed" | "errored")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestStats {
    pub results: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Passed only on a retry.
    pub passed_on_retry: usize,
    /// Changes between passing and failing from one result to the next (skips ignored).
    pub flips: usize,
    /// 0–100: flips and passes-on-retry per result that ran. A test that always fails or always
    /// passes scores 0; one that alternates scores near 100.
    pub flakiness: u32,
    /// Per cent of the results that ran (not skipped) that passed.
    pub pass_rate: Option<u32>,
    /// While the newest result that ran fails: the run it started failing in.
    pub failing_since: Option<i64>,
    pub last_pass: Option<i64>,
    pub median_ms: Option<i64>,
}

/// The rules, over a history newest first.
pub fn stats(history: &[HistoryPoint]) -> TestStats {
    let mut s = TestStats {
        results: history.len(),
        ..TestStats::default()
    };
    for p in history {
        match p.outcome {
            "passed" => s.passed += 1,
            "skipped" => s.skipped += 1,
            _ => s.failed += 1,
        }
        if p.flaky && p.outcome == "passed" {
            s.passed_on_retry += 1;
        }
    }
    let ran: Vec<&HistoryPoint> = history.iter().filter(|p| p.outcome != "skipped").collect();
    s.flips = ran
        .windows(2)
        .filter(|w| w[0].failing() != w[1].failing())
        .count();
    if !ran.is_empty() {
        let per_cent = |n: usize| u32::try_from(n * 100 / ran.len()).unwrap_or(100);
        s.flakiness = per_cent(s.flips + s.passed_on_retry).min(100);
        s.pass_rate = Some(per_cent(s.passed));
    }
    if ran.first().is_some_and(|p| p.failing()) {
        s.failing_since = ran
            .iter()
            .take_while(|p| p.failing())
            .last()
            .map(|p| p.run_number);
    }
    s.last_pass = history
        .iter()
        .find(|p| p.outcome == "passed")
        .map(|p| p.run_number);
    let mut durations: Vec<i64> = history.iter().filter_map(|p| p.duration_ms).collect();
    durations.sort_unstable();
    s.median_ms = durations.get(durations.len() / 2).copied();
    s
}

/// A test with its history, as the test page and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct TestView {
    pub id: i64,
    pub key: String,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
    pub stats: TestStats,
    /// Set while the test is quarantined.
    pub quarantine: Option<Quarantine>,
    pub history: Vec<HistoryPoint>,
}

/// Who quarantined a test, when and why.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantine {
    pub since: i64,
    pub by: String,
    pub reason: String,
}

/// The longest quarantine reason.
const MAX_REASON_CHARS: usize = 500;

/// The longest history one request reads.
pub const MAX_HISTORY: i64 = 1000;

impl Core {
    /// A test of the project and its latest `limit` results.
    pub async fn test_history(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        test: i64,
        limit: i64,
    ) -> Result<TestView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let t = self
            .store()
            .get_test(p.org, project, test)
            .await?
            .ok_or(CoreError::NotFound("test"))?;
        let history: Vec<HistoryPoint> = self
            .store()
            .test_history(p.org, t.id, limit.clamp(1, MAX_HISTORY))
            .await?
            .into_iter()
            .map(HistoryPoint::from)
            .collect();
        let quarantine = t.quarantined_at.map(|since| Quarantine {
            since,
            by: t.quarantined_by.unwrap_or_default(),
            reason: t.quarantine_reason.unwrap_or_default(),
        });
        Ok(TestView {
            quarantine,
            id: t.id,
            key: t.identity_key,
            suite: t.suite,
            name: t.name,
            parameters: t.parameters,
            file: t.file,
            stats: stats(&history),
            history,
        })
    }
}

impl Core {
    /// Quarantines a test (with a reason) or releases it (`None`). A quarantined test stays
    /// visible everywhere, flagged, and its failures do not fail the comparison's gate. Needs
    /// `manage_plans` in the project.
    pub async fn set_quarantine(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        test: i64,
        reason: Option<String>,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ManagePlans)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let reason = reason.map(|r| r.trim().to_string());
        if let Some(r) = &reason
            && (r.is_empty() || r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(testvault_domain::DomainError::new(
                "reason",
                "say why, in 1–500 characters",
            )
            .into());
        }
        let by = crate::runs::actor_label(p);
        let change = match &reason {
            Some(r) => crate::audit::Change::new("test.quarantined", "test", test)
                .after(serde_json::json!({ "project": slug, "reason": r })),
            None => crate::audit::Change::new("test.released", "test", test)
                .after(serde_json::json!({ "project": slug })),
        };
        let event = crate::audit::by(p, change);
        let found = self
            .store()
            .set_quarantine(
                project,
                test,
                reason.as_deref().map(|r| (by.as_str(), r)),
                testvault_domain::time::now(),
                &event,
            )
            .await?;
        if found {
            Ok(())
        } else {
            Err(CoreError::NotFound("test"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(outcomes: &[(&'static str, bool)]) -> Vec<HistoryPoint> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, (outcome, flaky))| HistoryPoint {
                run_number: (outcomes.len() - i) as i64,
                branch: None,
                created_at: 0,
                outcome,
                flaky: *flaky,
                tries: 1,
                duration_ms: Some(10 * (i as i64 + 1)),
            })
            .collect()
    }

    #[test]
    fn steady_tests_score_zero_and_alternating_ones_high() {
        let steady = stats(&h(&[("passed", false); 10]));
        assert_eq!((steady.flakiness, steady.pass_rate), (0, Some(100)));
        let broken = stats(&h(&[("failed", false); 10]));
        assert_eq!((broken.flakiness, broken.pass_rate), (0, Some(0)));
        assert_eq!(broken.failing_since, Some(1));
        assert_eq!(broken.last_pass, None);
        let alternating: Vec<(&str, bool)> = (0..10)
            .map(|i| (if i % 2 == 0 { "passed" } else { "failed" }, false))
            .collect();
        let flaky = stats(&h(&alternating));
        assert_eq!(flaky.flips, 9);
        assert_eq!(flaky.flakiness, 90);
    }

    #[test]
    fn retries_count_skips_do_not_and_the_failing_streak_is_dated() {
        // Newest first: runs 6..1.
        let s = stats(&h(&[
            ("failed", false),
            ("skipped", false),
            ("errored", false),
            ("passed", true),
            ("passed", false),
            ("passed", false),
        ]));
        assert_eq!(s.results, 6);
        assert_eq!((s.passed, s.failed, s.skipped), (3, 2, 1));
        assert_eq!(s.passed_on_retry, 1);
        assert_eq!(s.flips, 1, "failed, errored | passed: one flip");
        assert_eq!(s.flakiness, 40, "(1 flip + 1 retry) / 5 results that ran");
        assert_eq!(s.failing_since, Some(4), "errored in run 4, failed in 6");
        assert_eq!(s.last_pass, Some(3));
        assert_eq!(s.median_ms, Some(40));
    }

    #[test]
    fn an_empty_history_says_nothing() {
        let s = stats(&[]);
        assert_eq!(s.pass_rate, None);
        assert_eq!(s.failing_since, None);
        assert_eq!(s.median_ms, None);
    }
}
