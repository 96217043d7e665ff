//! Comparing two runs: what a change broke, fixed, added, removed or slowed down — and the quality
//! gate CI asks ("did this run bring new failures?"). The rules are pure (`compare`); `Core`
//! loads the two runs' outlines and names the tests that changed.

use crate::runs::{RunView, outcome_name};
use crate::{Allowed, Core, CoreError};
use serde::Serialize;
use std::collections::HashMap;
use testvault_domain::{DomainError, Permission, RunId};

/// A test's result in one run, reduced to what comparing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outline {
    /// `passed`, `failed`, `errored` or `skipped`.
    pub outcome: &'static str,
    pub duration_ms: Option<i64>,
}

impl Outline {
    fn failing(&self) -> bool {
        matches!(self.outcome, "failed" | "errored")
    }
}

/// When a test counts as slower: its duration grew by at least `percent` % *and* by at least
/// `min_ms` (a 2 ms test taking 5 ms is noise, not a slowdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlowerRule {
    pub percent: i64,
    pub min_ms: i64,
}

impl Default for SlowerRule {
    fn default() -> Self {
        SlowerRule {
            percent: 50,
            min_ms: 100,
        }
    }
}

/// Test ids per category. A test is in at most one of the first three; `added`/`removed` may
/// overlap `new_failures` (a new test that fails is both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Failing now; passed or skipped in the base, or absent from it.
    pub new_failures: Vec<i64>,
    /// Failing in the base, passing now.
    pub fixed: Vec<i64>,
    pub still_failing: Vec<i64>,
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
    /// Passed in both, and slower by the rule.
    pub slower: Vec<i64>,
}

/// One outline per test: a test reported several times in a run (shards, a re-upload) counts as
/// failing if any report failed, and as its longest duration.
pub fn outlines(rows: impl IntoIterator<Item = (i64, i16, Option<i64>)>) -> HashMap<i64, Outline> {
    let mut map: HashMap<i64, Outline> = HashMap::new();
    for (test, code, duration_ms) in rows {
        let next = Outline {
            outcome: outcome_name(code),
            duration_ms,
        };
        map.entry(test)
            .and_modify(|o| {
                if next.failing() && !o.failing() {
                    o.outcome = next.outcome;
                }
                o.duration_ms = o.duration_ms.max(next.duration_ms);
            })
            .or_insert(next);
    }
    map
}

/// The rules. Lists come out sorted by test id (stable output for CI logs and tests).
pub fn compare(
    base: &HashMap<i64, Outline>,
    head: &HashMap<i64, Outline>,
    rule: SlowerRule,
) -> Comparison {
    let mut c = Comparison::default();
    for (test, now) in head {
        match base.get(test) {
            None => {
                c.added.push(*test);
                if now.failing() {
                    c.new_failures.push(*test);
                }
            }
            Some(before) => match (before.failing(), now.failing()) {
                (false, true) => c.new_failures.push(*test),
                (true, true) => c.still_failing.push(*test),
                (true, false) if now.outcome == "passed" => c.fixed.push(*test),
                (false, false) if before.outcome == "passed" && now.outcome == "passed" => {
                    if let (Some(b), Some(n)) = (before.duration_ms, now.duration_ms)
                        && n - b >= rule.min_ms
                        && n * 100 >= b * (100 + rule.percent)
                    {
                        c.slower.push(*test);
                    }
                }
                _ => {}
            },
        }
    }
    c.removed = base
        .keys()
        .filter(|t| !head.contains_key(t))
        .copied()
        .collect();
    for list in [
        &mut c.new_failures,
        &mut c.fixed,
        &mut c.still_failing,
        &mut c.added,
        &mut c.removed,
        &mut c.slower,
    ] {
        list.sort_unstable();
    }
    c
}

/// A test that changed between the runs, named.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedTest {
    pub test_id: i64,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub base: Option<Outline>,
    pub head: Option<Outline>,
    /// Quarantined: listed, but its failure does not fail the gate.
    pub quarantined: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ComparisonCounts {
    pub new_failures: usize,
    pub fixed: usize,
    pub still_failing: usize,
    pub added: usize,
    pub removed: usize,
    pub slower: usize,
}

/// Two runs compared, as the API and the page show it. Each list holds at most `LIST_LIMIT`
/// tests; `counts` has the full numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonView {
    pub base: RunView,
    pub head: RunView,
    pub slower_rule: SlowerRule,
    pub counts: ComparisonCounts,
    /// `passed` when the head brought no new failures (quarantined tests aside), else `failed`.
    pub gate: &'static str,
    /// New failures of tests that are not quarantined: what the gate counts.
    pub gate_failures: usize,
    pub new_failures: Vec<ChangedTest>,
    pub fixed: Vec<ChangedTest>,
    pub still_failing: Vec<ChangedTest>,
    pub added: Vec<ChangedTest>,
    pub removed: Vec<ChangedTest>,
    pub slower: Vec<ChangedTest>,
}

/// Tests listed per category (the counts are always complete).
pub const LIST_LIMIT: usize = 500;

/// Which run to compare with.
#[derive(Debug, Clone)]
pub enum Base {
    Run(RunId),
    Number(i64),
    /// The latest finished run on this branch before the head.
    LatestOn(String),
}

/// The report pages' tests, by id.
pub(crate) type TestNames = HashMap<i64, testvault_store::TestName>;

impl Core {
    /// The names of the project's tests among `ids` (the report pages list tests by id).
    pub(crate) async fn test_names(
        &self,
        org: testvault_domain::OrgId,
        project: testvault_domain::ProjectId,
        ids: &[i64],
    ) -> Result<TestNames, CoreError> {
        Ok(self
            .store()
            .tests_named(org, project, ids)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect())
    }

    /// Compares `head` with `base`. Fails with 404 when the base branch has no finished run
    /// before the head.
    pub async fn compare_runs(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        head: RunId,
        base: Base,
        rule: SlowerRule,
    ) -> Result<ComparisonView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        if rule.percent < 0 || rule.min_ms < 0 {
            return Err(DomainError::new("slower_pct", "must not be negative").into());
        }
        let head_run = self.run_in(p.org, project, head).await?;
        let base_run = match base {
            Base::Run(id) => self.run_in(p.org, project, id).await?,
            Base::Number(n) => self
                .store()
                .find_run_by_number(p.org, project, n)
                .await?
                .ok_or(CoreError::NotFound("base run"))?,
            Base::LatestOn(branch) => self
                .store()
                .latest_finished_on(p.org, project, &branch, head_run.number)
                .await?
                .ok_or(CoreError::NotFound(
                    "finished run on the base branch before this one",
                ))?,
        };
        let base_outline = outlines(self.store().run_outline(p.org, base_run.id).await?);
        let head_outline = outlines(self.store().run_outline(p.org, head_run.id).await?);
        let c = compare(&base_outline, &head_outline, rule);
        let counts = ComparisonCounts {
            new_failures: c.new_failures.len(),
            fixed: c.fixed.len(),
            still_failing: c.still_failing.len(),
            added: c.added.len(),
            removed: c.removed.len(),
            slower: c.slower.len(),
        };
        let shown = |ids: &[i64]| ids.iter().take(LIST_LIMIT).copied().collect::<Vec<_>>();
        let mut wanted: Vec<i64> = [
            &c.new_failures,
            &c.fixed,
            &c.still_failing,
            &c.added,
            &c.removed,
            &c.slower,
        ]
        .iter()
        .flat_map(|ids| shown(ids))
        // Every new failure, listed or not: the gate needs to know which are quarantined.
        .chain(c.new_failures.iter().copied())
        .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let names = self.test_names(p.org, project, &wanted).await?;
        let quarantined = |id: &i64| names.get(id).is_some_and(|t| t.quarantined);
        let gate_failures = c.new_failures.iter().filter(|t| !quarantined(t)).count();
        let named = |ids: &[i64]| -> Vec<ChangedTest> {
            shown(ids)
                .into_iter()
                .map(|id| {
                    let t = names.get(&id).cloned().unwrap_or_default();
                    ChangedTest {
                        test_id: id,
                        suite: t.suite,
                        name: t.name,
                        parameters: t.parameters,
                        base: base_outline.get(&id).copied(),
                        head: head_outline.get(&id).copied(),
                        quarantined: t.quarantined,
                    }
                })
                .collect()
        };
        Ok(ComparisonView {
            gate: if gate_failures == 0 {
                "passed"
            } else {
                "failed"
            },
            gate_failures,
            new_failures: named(&c.new_failures),
            fixed: named(&c.fixed),
            still_failing: named(&c.still_failing),
            added: named(&c.added),
            removed: named(&c.removed),
            slower: named(&c.slower),
            counts,
            slower_rule: rule,
            base: base_run.into(),
            head: head_run.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rows: &[(i64, i16, Option<i64>)]) -> HashMap<i64, Outline> {
        outlines(rows.iter().copied())
    }

    #[test]
    fn each_change_lands_in_its_category() {
        let base = run(&[
            (1, 0, Some(100)), // passes, then fails: new failure
            (2, 1, Some(10)),  // fails, then passes: fixed
            (3, 2, Some(10)),  // errors, then fails: still failing
            (4, 0, Some(100)), // slower: +150 ms, +150 %
            (5, 0, Some(100)), // +40 %: not slower
            (6, 0, Some(1)),   // +400 % but +4 ms: noise
            (7, 0, None),      // removed
            (8, 3, None),      // skipped, then failing: new failure
            (9, 1, None),      // failing, then skipped: neither fixed nor failing
        ]);
        let head = run(&[
            (1, 1, Some(100)),
            (2, 0, Some(10)),
            (3, 1, Some(10)),
            (4, 0, Some(250)),
            (5, 0, Some(140)),
            (6, 0, Some(5)),
            (8, 2, None),
            (9, 3, None),
            (10, 1, None), // new test that fails: added and a new failure
            (11, 0, None), // new test that passes
        ]);
        let c = compare(&base, &head, SlowerRule::default());
        assert_eq!(c.new_failures, vec![1, 8, 10]);
        assert_eq!(c.fixed, vec![2]);
        assert_eq!(c.still_failing, vec![3]);
        assert_eq!(c.slower, vec![4]);
        assert_eq!(c.added, vec![10, 11]);
        assert_eq!(c.removed, vec![7]);
    }

    #[test]
    fn a_test_reported_twice_fails_if_either_report_failed() {
        let o = run(&[(1, 0, Some(5)), (1, 1, Some(9)), (1, 0, Some(7))]);
        assert_eq!(
            o[&1],
            Outline {
                outcome: "failed",
                duration_ms: Some(9)
            }
        );
    }

    #[test]
    fn identical_runs_differ_in_nothing() {
        let r = run(&[(1, 0, Some(5)), (2, 1, None), (3, 3, None)]);
        let c = compare(&r, &r, SlowerRule::default());
        assert_eq!(c.still_failing, vec![2]);
        assert!(c.new_failures.is_empty() && c.fixed.is_empty() && c.slower.is_empty());
        assert!(c.added.is_empty() && c.removed.is_empty());
    }
}
