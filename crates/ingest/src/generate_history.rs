//! A deterministic project history for report benchmarks: the same tests run again and again, and
//! each test has a character that shapes its history the way real suites do — most always pass,
//! some flake (fail now and then, often passing on a retry), some break for a stretch of runs and
//! are fixed, a few are skipped for good, a few get slower from some run on. Runs are mostly on
//! `main`, with feature branches in between.
//!
//! `History::results(run)` depends only on `(seed, tests, run)`, so a benchmark can seed run after
//! run without holding the history in memory, and two seedings of the same history are equal.

use crate::generate::{SplitMix, class_name, method_name, mix};
use crate::{Attempt, Outcome, TestIdentity, TestResult};

/// Tests per suite.
const SUITE_SIZE: u64 = 20;

/// How a test behaves over its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Character {
    /// Passes; fails about once in 2,000 runs (an environment hiccup).
    Stable,
    /// Fails about 8 % of runs; half of those pass on a retry.
    Flaky,
    /// Broken for `broken` runs out of every `period`, then fixed again.
    Breaks {
        period: u64,
        broken: u64,
        offset: u64,
    },
    /// Skipped in every run.
    Skipped,
    /// Twice as slow from run `from` on.
    Slows { from: u64 },
}

#[derive(Debug, Clone, Copy)]
struct TestPlan {
    character: Character,
    base_ms: u64,
}

/// Where and what a generated run reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub branch: String,
    pub commit: String,
}

/// A project's history of `tests` tests (see the module documentation).
#[derive(Debug, Clone)]
pub struct History {
    seed: u64,
    plans: Vec<TestPlan>,
}

impl History {
    pub fn new(tests: u64, seed: u64) -> Self {
        let plans = (0..tests)
            .map(|index| {
                let mut rng = SplitMix::new(mix(seed ^ index.wrapping_mul(0x51_7cc1_b727_220a)));
                let roll = rng.below(1000);
                let character = match roll {
                    0..880 => Character::Stable,
                    880..940 => Character::Flaky,
                    940..970 => Character::Breaks {
                        period: 200 + rng.below(800),
                        broken: 10 + rng.below(60),
                        offset: rng.below(1000),
                    },
                    970..990 => Character::Skipped,
                    _ => Character::Slows {
                        from: rng.below(10_000),
                    },
                };
                let base_ms = if rng.below(20) == 0 {
                    500 + rng.below(4_500)
                } else {
                    1 + rng.below(250)
                };
                TestPlan { character, base_ms }
            })
            .collect();
        History { seed, plans }
    }

    pub fn tests(&self) -> u64 {
        self.plans.len() as u64
    }

    /// Run `run` (counting from 0): three in four on `main`, the rest on a feature branch that
    /// changes every 40 runs.
    pub fn run_info(&self, run: u64) -> RunInfo {
        let mut rng = SplitMix::new(mix(self.seed ^ run.wrapping_mul(0x2545_f491_4f6c_dd1d)));
        let branch = if rng.below(4) == 0 {
            format!("feature/change-{}", run / 40)
        } else {
            "main".to_string()
        };
        RunInfo {
            branch,
            commit: format!(
                "{:016x}{:016x}{:08x}",
                rng.next(),
                rng.next(),
                rng.next() as u32
            ),
        }
    }

    /// Every test's result in run `run`.
    pub fn results(&self, run: u64) -> Vec<TestResult> {
        let feature = self.run_info(run).branch != "main";
        self.plans
            .iter()
            .enumerate()
            .map(|(index, plan)| {
                let index = index as u64;
                let mut rng = SplitMix::new(mix(self.seed
                    ^ run.wrapping_mul(0x9e37_79b9)
                    ^ index.wrapping_mul(0x85eb_ca6b)));
                result(index, plan, run, feature, &mut rng)
            })
            .collect()
    }
}

fn identity(index: u64) -> TestIdentity {
    let suite = index / SUITE_SIZE;
    TestIdentity::new(
        [class_name(suite)],
        method_name(suite, index % SUITE_SIZE),
        [],
    )
}

fn result(index: u64, plan: &TestPlan, run: u64, feature: bool, rng: &mut SplitMix) -> TestResult {
    let id = identity(index);
    let jitter = |rng: &mut SplitMix, ms: u64| ms * (80 + rng.below(41)) / 100;
    let mut ms = jitter(rng, plan.base_ms);
    let fails_one_in = if feature { 500 } else { 2_000 };
    let (outcome, message, retried) = match plan.character {
        Character::Skipped => {
            let mut r = TestResult::new(id, Outcome::Skipped);
            r.message = Some("Disabled until PAY-1234 is fixed".into());
            return r;
        }
        Character::Flaky if rng.below(100) < 8 => {
            let message = format!("Read timed out after {} ms", 1000 * (1 + rng.below(10)));
            (Outcome::Failed, Some(message), rng.below(2) == 0)
        }
        Character::Breaks {
            period,
            broken,
            offset,
        } if (run + offset) % period < broken => {
            let message = format!("expected: <200> but was: <{}>", 500 + rng.below(4));
            (Outcome::Failed, Some(message), false)
        }
        Character::Slows { from } => {
            if run >= from {
                ms *= 2;
            }
            (Outcome::Passed, None, false)
        }
        _ if rng.below(fails_one_in) == 0 => {
            let message = format!(
                "Connection pool exhausted after {}ms",
                1000 * (1 + rng.below(30))
            );
            (Outcome::Errored, Some(message), false)
        }
        _ => (Outcome::Passed, None, false),
    };
    let mut r = TestResult::new(id, outcome);
    r.duration_ms = Some(ms);
    if let Some(message) = message {
        let trace = format!(
            "{message}\n\tat {}.run(Test.java:{})\n\tat org.junit.platform.engine.support.hierarchical.NodeTestTask.execute(NodeTestTask.java:151)",
            class_name(index / SUITE_SIZE),
            20 + rng.below(400)
        );
        if retried {
            r.outcome = Outcome::Passed;
            r.attempts = vec![
                Attempt {
                    outcome: Outcome::Failed,
                    duration_ms: Some(ms),
                    message: Some(message),
                    trace: Some(trace),
                },
                Attempt {
                    outcome: Outcome::Passed,
                    duration_ms: Some(ms),
                    message: None,
                    trace: None,
                },
            ];
        } else {
            r.message = Some(message);
            r.trace = Some(trace);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let a = History::new(200, 7);
        let b = History::new(200, 7);
        assert_eq!(a.results(3), b.results(3));
        assert_eq!(a.run_info(3), b.run_info(3));
        assert_ne!(a.results(3), a.results(4));
    }

    #[test]
    fn identities_are_stable_and_distinct_across_runs() {
        let h = History::new(1000, 1);
        let keys =
            |run| -> Vec<String> { h.results(run).iter().map(|r| r.identity.key()).collect() };
        let first = keys(0);
        assert_eq!(first, keys(1));
        let distinct: std::collections::HashSet<&String> = first.iter().collect();
        assert_eq!(distinct.len(), 1000);
    }

    #[test]
    fn failure_and_flake_rates_are_realistic() {
        let h = History::new(1000, 42);
        let (mut failing, mut flaky, mut skipped, mut total) = (0, 0, 0, 0);
        for run in 0..200 {
            for r in h.results(run) {
                total += 1;
                failing += usize::from(r.outcome.is_failure());
                flaky += usize::from(r.is_flaky());
                skipped += usize::from(r.outcome == Outcome::Skipped);
            }
        }
        let pct = |n: usize| n * 1000 / total;
        assert!(
            (2..=30).contains(&pct(failing)),
            "failing ‰ {}",
            pct(failing)
        );
        assert!((1..=10).contains(&pct(flaky)), "flaky ‰ {}", pct(flaky));
        assert!(
            (10..=30).contains(&pct(skipped)),
            "skipped ‰ {}",
            pct(skipped)
        );
    }
}
