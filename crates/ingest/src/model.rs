//! What every format becomes: one `TestResult` per test execution, plus the report's metadata.

use crate::TestIdentity;
use serde::{Deserialize, Serialize};

/// How a test ended. `Errored` is a crash or a broken fixture, as opposed to a failed assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Errored,
    Skipped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

/// An earlier try of the same test in the same run (Surefire reruns, CTRF retries, Allure
/// retries): the final outcome is on the `TestResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub outcome: Outcome,
    pub duration_ms: Option<u64>,
    pub message: Option<String>,
    pub trace: Option<String>,
}

/// One test's result in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub identity: TestIdentity,
    pub outcome: Outcome,
    pub duration_ms: Option<u64>,
    /// The failure or skip message (one line or a few).
    pub message: Option<String>,
    /// Stack trace or failure details.
    pub trace: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// Earlier attempts, oldest first. A passed result with failed attempts is flaky.
    pub attempts: Vec<Attempt>,
    /// The producer said so (CTRF `flaky: true`).
    pub marked_flaky: bool,
    /// Source location, when the producer gives one (1-based line).
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Labels, tags, properties: `(name, value)` in the producer's order.
    pub labels: Vec<(String, String)>,
}

impl TestResult {
    /// A bare result; parsers fill in what they know.
    pub fn new(identity: TestIdentity, outcome: Outcome) -> Self {
        TestResult {
            identity,
            outcome,
            duration_ms: None,
            message: None,
            trace: None,
            stdout: None,
            stderr: None,
            attempts: Vec::new(),
            marked_flaky: false,
            file: None,
            line: None,
            labels: Vec::new(),
        }
    }

    /// Passed in the end after failing at least once in this run, or marked so by its producer.
    pub fn is_flaky(&self) -> bool {
        self.marked_flaky
            || (self.outcome == Outcome::Passed
                && self.attempts.iter().any(|a| a.outcome.is_failure()))
    }
}

/// What a report says about the run as a whole (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMeta {
    /// The producing tool (`pytest`, `jest`, `cargo-nextest`, `allure`, a CTRF `tool.name`).
    pub tool: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub build_url: Option<String>,
    pub build_name: Option<String>,
    /// Other environment facts (`os`, `node`, …).
    pub environment: Vec<(String, String)>,
}
