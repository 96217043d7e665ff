//! The Testomat.io reporter protocol (`@testomatio/reporter`, `pytestomatio`): a run is created,
//! tests are reported one at a time or in batches while the suite runs, and the run is
//! finished. Ids: a run's `uid` is its Testvault id; a case's Testomat id is `@T` + its key.
//! Clients are lenient about types, so is this module: a field it does not know is ignored,
//! a field it knows is checked.

use super::text::{normalise_path, strip_ansi, without_ids};
use crate::live::{LiveResult, Repeat};
use crate::{Allowed, Core, CoreError, Principal, RunSpec, RunView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use testvault_domain::{DomainError, Permission, ProjectId, RunId, time};
use testvault_ingest::{Outcome, TestIdentity, TestResult};

/// Tests in one report request.
const MAX_TESTS: usize = 5_000;
/// How long a shared run stays open to processes that join it, when the client does not say.
const SHARED_RUN_MINUTES: i64 = 24 * 60;
/// The tag of a run that parallel processes share (what joining processes find it by).
const SHARED_TAG: &str = "shared-run";
/// Longest title, suite title or parameter value kept.
const MAX_NAME: usize = 1_000;

/// `POST /api/reporter`: what the client says about the run it starts.
#[derive(Debug, Default, Deserialize)]
pub struct StartRun {
    #[serde(default)]
    pub title: Option<String>,
    /// Free text such as `linux,chrome`.
    #[serde(default)]
    pub env: Option<String>,
    /// Labels such as `smoke,nightly` or `release:1.2`.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub group_title: Option<String>,
    #[serde(default)]
    pub ci_build_url: Option<String>,
    #[serde(default)]
    pub jira_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Parallel processes with the same title report into one run.
    #[serde(default)]
    pub shared_run: Option<Value>,
    /// Minutes a shared run accepts new processes.
    #[serde(default)]
    pub shared_run_timeout: Option<Value>,
    /// The number of processes whose finish finishes a shared run.
    #[serde(default)]
    pub shared_run_shards: Option<Value>,
}

/// `PUT /api/reporter/{uid}`: finish (`status_event`), or update a started run.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateRun {
    /// `finish`, `pass` or `fail` finish the run; none only updates it.
    #[serde(default)]
    pub status_event: Option<String>,
    /// Finish a shared run now, whatever other processes still do.
    #[serde(default)]
    pub force_finish_shared_run: Option<Value>,
    /// Tests sent with the finish (some adapters do).
    #[serde(default)]
    pub tests: Option<Vec<Value>>,
    #[serde(default)]
    pub title: Option<String>,
}

/// What the client reads back about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunAnswer {
    pub uid: String,
    /// Absolute: the client keeps only its path and puts its own server address before it.
    pub url: String,
    pub public_url: Option<String>,
    pub status: &'static str,
    pub tests_count: i64,
}

/// One reported test as clients send it (see docs/REPORTERS.md for the fields).
#[derive(Debug, Default, Deserialize)]
pub struct ReportedTest {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub suite_title: Option<String>,
    #[serde(default)]
    pub test_id: Option<String>,
    #[serde(default)]
    pub suite_id: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub stack: Option<String>,
    /// `null`, a list of step objects, or text.
    #[serde(default)]
    pub steps: Option<Value>,
    #[serde(default)]
    pub file: Option<String>,
    /// Parameters of a data-driven test: an object (or anything, kept as text).
    #[serde(default)]
    pub example: Option<Value>,
    /// Milliseconds (a number or a numeric string).
    #[serde(default)]
    pub run_time: Option<Value>,
    #[serde(default)]
    pub meta: Option<Value>,
    #[serde(default)]
    pub links: Option<Value>,
    #[serde(default)]
    pub tags: Option<Value>,
    #[serde(default)]
    pub artifacts: Option<Value>,
    /// `true`: this report replaces the earlier one of the same test instead of being a retry.
    #[serde(default)]
    pub overwrite: Option<Value>,
    /// Some clients (pytestomatio) send the log apart from the stack.
    #[serde(default)]
    pub logs: Option<String>,
}

/// `POST /api/reporter/{uid}/testrun`: one test, or a batch.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Report {
    Batch { tests: Vec<Value> },
    One(Value),
}

impl Report {
    fn tests(self) -> Vec<Value> {
        match self {
            Report::Batch { tests } => tests,
            Report::One(v) => vec![v],
        }
    }
}

/// `true`, `1`, `"true"`, `"1"`: the ways clients say yes.
fn truthy(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "yes"),
        _ => false,
    }
}

/// A count or a number of minutes, as a number or a numeric string.
fn number(v: &Option<Value>) -> Option<i64> {
    match v {
        Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

/// `run_time` as milliseconds (from milliseconds or seconds, fractions allowed).
fn duration_ms(v: &Option<Value>, seconds: bool) -> Option<u64> {
    let raw = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    let ms = if seconds { raw * 1000.0 } else { raw };
    (ms.is_finite() && ms >= 0.0).then(|| ms.round() as u64)
}

/// `s` trimmed, then clipped: what clients send carries stray spaces and newlines.
fn clip(s: &str, max: usize) -> String {
    super::text::clip(s.trim(), max)
}

/// A value as parameter text: strings as they are, anything else as JSON.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Steps as readable lines: `title (12 ms)`, nested steps indented, failures marked.
fn steps_text(steps: &Value) -> Option<String> {
    fn walk(steps: &[Value], depth: usize, out: &mut String) {
        for step in steps {
            let title = step
                .get("title")
                .or_else(|| step.get("name"))
                .map(as_text)
                .unwrap_or_default();
            let failed = step.get("error").is_some_and(|e| !e.is_null())
                || step
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s == "failed");
            out.push_str(&"  ".repeat(depth));
            out.push_str(if failed { "✗ " } else { "• " });
            out.push_str(&strip_ansi(&title));
            if let Some(ms) = step.get("duration").and_then(Value::as_f64) {
                out.push_str(&format!(" ({} ms)", ms.round() as i64));
            }
            out.push('\n');
            if let Some(Value::Array(inner)) = step.get("steps") {
                walk(inner, depth + 1, out);
            }
        }
    }
    match steps {
        Value::String(s) if !s.trim().is_empty() => Some(strip_ansi(s)),
        Value::Array(list) if !list.is_empty() => {
            let mut out = String::new();
            walk(list, 0, &mut out);
            Some(out)
        }
        _ => None,
    }
}

fn outcome(status: Option<&str>) -> Result<Outcome, String> {
    match status.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("passed" | "pass" | "success") => Ok(Outcome::Passed),
        Some("failed" | "fail" | "failure") => Ok(Outcome::Failed),
        Some("error" | "errored" | "broken") => Ok(Outcome::Errored),
        Some("skipped" | "skip" | "pending" | "disabled" | "todo") => Ok(Outcome::Skipped),
        Some(other) => Err(format!(
            "status `{}` is not passed, failed or skipped",
            clip(other, 40)
        )),
        None => Err("status is missing".into()),
    }
}

impl ReportedTest {
    /// The test as a Testvault result (and whether it replaces an earlier report outright).
    /// `seconds`: the client sends `run_time` in seconds (pytestomatio), not milliseconds.
    fn into_live(self, at: usize, seconds: bool) -> Result<LiveResult, DomainError> {
        let refuse = |why: String| DomainError::new("tests", format!("test {}: {why}", at + 1));
        let outcome = outcome(self.status.as_deref()).map_err(refuse)?;
        let raw_title = self.title.as_deref().map(str::trim).unwrap_or_default();
        if raw_title.is_empty() {
            return Err(refuse("title is missing".into()));
        }
        let title = clip(&without_ids(&strip_ansi(raw_title)), MAX_NAME);
        let title = if title.is_empty() {
            raw_title.to_string()
        } else {
            title
        };
        let suite: Vec<String> = self
            .suite_title
            .as_deref()
            .map(|s| clip(&without_ids(&strip_ansi(s)), MAX_NAME))
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect();
        let parameters: Vec<(String, String)> = match &self.example {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (clip(k, 200), clip(&as_text(v), MAX_NAME)))
                .collect(),
            Some(other) => vec![("example".into(), clip(&as_text(other), MAX_NAME))],
        };
        let mut result = TestResult::new(TestIdentity::new(suite, title, parameters), outcome);
        result.duration_ms = duration_ms(&self.run_time, seconds);
        result.message = self
            .message
            .as_deref()
            .map(strip_ansi)
            .filter(|m| !m.trim().is_empty());
        let mut trace = self
            .stack
            .as_deref()
            .map(strip_ansi)
            .filter(|s| !s.trim().is_empty());
        if result.message.is_none()
            && outcome.is_failure()
            && let Some(t) = &trace
        {
            result.message = t.lines().find(|l| !l.trim().is_empty()).map(String::from);
        }
        let mut output = Vec::new();
        if let Some(steps) = self.steps.as_ref().and_then(steps_text) {
            output.push(steps);
        }
        if let Some(logs) = self.logs.as_deref().filter(|l| !l.trim().is_empty()) {
            output.push(strip_ansi(logs));
        }
        if !outcome.is_failure()
            && let Some(t) = trace.take()
        {
            output.push(t);
        }
        result.trace = trace;
        result.stdout = (!output.is_empty()).then(|| output.join("\n"));
        result.file = self.file.as_deref().and_then(normalise_path);
        let mut labels = Vec::new();
        if let Some(id) = self
            .test_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            labels.push(("test_id".to_string(), clip(id, 20)));
        }
        if let Some(id) = self
            .suite_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            labels.push(("suite_id".to_string(), clip(id, 20)));
        }
        match &self.tags {
            Some(Value::Array(tags)) => {
                for t in tags.iter().take(50) {
                    labels.push(("tag".into(), clip(as_text(t).trim_start_matches('@'), 100)));
                }
            }
            Some(Value::String(s)) => {
                for t in s.split([',', ' ']).filter(|t| !t.is_empty()).take(50) {
                    labels.push(("tag".into(), clip(t.trim_start_matches('@'), 100)));
                }
            }
            _ => {}
        }
        if let Some(Value::Object(meta)) = &self.meta {
            for (k, v) in meta.iter().take(50) {
                if !v.is_null() {
                    labels.push((clip(k, 100), clip(&as_text(v), MAX_NAME)));
                }
            }
        }
        for key in ["links", "artifacts"] {
            let list = if key == "links" {
                &self.links
            } else {
                &self.artifacts
            };
            let Some(Value::Array(items)) = list else {
                continue;
            };
            for item in items.iter().take(50) {
                // Links and uploaded artifacts are kept as links; local file paths are not.
                if let Some(label) = item.get("label") {
                    labels.push(("label".into(), clip(&as_text(label), 200)));
                    continue;
                }
                let url = match item {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o
                        .get("url")
                        .or_else(|| o.get("link"))
                        .or_else(|| o.get("jira"))
                        .map(as_text),
                    _ => None,
                };
                if let Some(url) = url.filter(|u| {
                    u.starts_with("https://") || u.starts_with("http://") || !u.contains('/')
                }) {
                    labels.push((key.trim_end_matches('s').to_string(), clip(&url, 2000)));
                }
            }
        }
        result.labels = labels;
        let repeat = if truthy(&self.overwrite) {
            Repeat::Overwrite
        } else {
            Repeat::Retry
        };
        Ok(LiveResult { result, repeat })
    }
}

/// `GET /api/test_grep`: which tests a filter selects.
#[derive(Debug, Default, Deserialize)]
pub struct Grep {
    /// `tag-name`, `plan`, `label`, `jira-ticket`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

impl Core {
    fn run_answer(&self, slug: &str, run: &RunView) -> RunAnswer {
        RunAnswer {
            uid: run.id.to_string(),
            url: format!(
                "{}/projects/{slug}/runs/{}",
                self.settings().public_url.trim_end_matches('/'),
                run.number
            ),
            public_url: None,
            status: run.status,
            tests_count: 0,
        }
    }

    /// Starts a run (or joins the open shared run with the same title). Needs `report_results`.
    pub async fn testomatio_start(
        &self,
        allowed: Allowed<'_>,
        req: StartRun,
    ) -> Result<RunAnswer, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let (project, slug) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let title = req
            .title
            .as_deref()
            .map(|t| clip(t, 200))
            .filter(|t| !t.is_empty());
        let shared = truthy(&req.shared_run);
        if shared && let Some(title) = &title {
            let minutes = number(&req.shared_run_timeout)
                .filter(|m| *m > 0)
                .unwrap_or(SHARED_RUN_MINUTES);
            let since = time::now() - minutes.saturating_mul(60);
            if let Some(open) = self
                .store()
                .find_run_titled(p.org, project, title, SHARED_TAG, since)
                .await?
            {
                return Ok(self.run_answer(&slug, &RunView::from(open)));
            }
        }
        let mut environment = BTreeMap::new();
        for (name, value) in [
            ("env", &req.env),
            ("label", &req.label),
            ("jira", &req.jira_id),
            ("group", &req.group_title),
        ] {
            if let Some(v) = value
                .as_deref()
                .map(|v| clip(v, 500))
                .filter(|v| !v.is_empty())
            {
                environment.insert(name.to_string(), v);
            }
        }
        let mut tags: Vec<String> = req
            .label
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join("-"))
            .filter(|t| !t.is_empty() && t.len() <= 50 && t != SHARED_TAG)
            .take(19)
            .collect();
        if shared {
            tags.push(SHARED_TAG.into());
        }
        let build_url = req
            .ci_build_url
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        let shards = number(&req.shared_run_shards)
            .filter(|n| (1..=1000).contains(n))
            .map(|n| n as i32);
        let spec = RunSpec {
            title,
            build_url,
            build_name: req.group_title.map(|g| clip(&g, 200)),
            environment,
            tags,
            shards: if shared { shards } else { None },
            ..RunSpec::default()
        };
        let run = self.create_run_in(p, project, &slug, spec).await?;
        Ok(self.run_answer(&slug, &run))
    }

    /// Stores reported tests in a run — also after it finished, as clients send late tests.
    /// Needs `report_results`. One request is one transaction: a refused test stores nothing.
    pub async fn testomatio_report(
        &self,
        allowed: Allowed<'_>,
        uid: &str,
        report: Report,
    ) -> Result<usize, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let (project, _) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let run = parse_uid(uid)?;
        self.run_in(p.org, project, run).await?;
        self.report_tests(p, project, run, report.tests()).await
    }

    async fn report_tests(
        &self,
        p: &Principal,
        project: ProjectId,
        run: RunId,
        tests: Vec<Value>,
    ) -> Result<usize, CoreError> {
        if tests.len() > MAX_TESTS {
            return Err(DomainError::new("tests", "at most 5000 tests in one request").into());
        }
        // pytestomatio measures in seconds; the JavaScript reporter in milliseconds.
        let seconds = p.client.user_agent.to_ascii_lowercase().contains("python");
        let mut results = Vec::with_capacity(tests.len());
        for (i, raw) in tests.into_iter().enumerate() {
            let test: ReportedTest = serde_json::from_value(raw).map_err(|e| {
                DomainError::new(
                    "tests",
                    format!("test {}: {}", i + 1, clip(&e.to_string(), 200)),
                )
            })?;
            results.push(test.into_live(i, seconds)?);
        }
        let n = results.len();
        let key = uuid::Uuid::new_v4().to_string();
        self.store_live(p, project, run, &key, results).await?;
        Ok(n)
    }

    /// Updates or finishes a run. A shared run with a shard count finishes when that many
    /// processes have finished (or at once with `force_finish_shared_run`).
    pub async fn testomatio_update(
        &self,
        allowed: Allowed<'_>,
        uid: &str,
        req: UpdateRun,
    ) -> Result<RunAnswer, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let (project, slug) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let run = parse_uid(uid)?;
        let row = self.run_in(p.org, project, run).await?;
        if let Some(tests) = req.tests.filter(|t| !t.is_empty()) {
            self.report_tests(p, project, run, tests).await?;
        }
        let finishing = matches!(
            req.status_event.as_deref(),
            Some("finish" | "pass" | "fail" | "finished" | "passed" | "failed" | "finish_parallel")
        );
        let view = if finishing && !row.finished {
            let force = truthy(&req.force_finish_shared_run);
            // Every finishing process counts as one shard of a sharded run.
            let shard = row
                .shards_expected
                .map(|_| uuid::Uuid::new_v4().to_string());
            self.finish_run_in(p, project, run, shard.as_deref(), force)
                .await?
        } else {
            RunView::from(row)
        };
        Ok(self.run_answer(&slug, &view))
    }

    /// The Testomat ids of the cases a filter selects: `tag-name` (a case tag), `plan` (a
    /// plan's name or id), `label` (a case tag too). Needs `read_projects`.
    pub async fn testomatio_grep(
        &self,
        allowed: Allowed<'_>,
        grep: Grep,
    ) -> Result<Vec<String>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let (project, _) = self.key_project(p).await?;
        allowed.in_project(project)?;
        let id = grep.id.as_deref().map(str::trim).unwrap_or_default();
        if id.is_empty() {
            return Err(DomainError::new("id", "say what to filter by").into());
        }
        let selection = match grep.kind.as_deref().unwrap_or("tag-name") {
            "tag-name" | "tag" | "label" => crate::plans::Selection {
                tags: vec![id.trim_start_matches('@').to_lowercase()],
                ..Default::default()
            },
            "plan" => {
                let plans = self.store().list_plans(p.org, project).await?;
                let plan = plans
                    .into_iter()
                    .find(|pl| pl.name == id || pl.id.to_string() == id)
                    .ok_or(CoreError::NotFound("plan"))?;
                serde_json::from_str(&plan.selection)
                    .map_err(|e| CoreError::internal(e.to_string()))?
            }
            "jira-ticket" => return Ok(Vec::new()),
            other => {
                return Err(DomainError::new(
                    "type",
                    format!(
                        "`{}` is not tag-name, plan, label or jira-ticket",
                        clip(other, 40)
                    ),
                )
                .into());
            }
        };
        Ok(self
            .selected_cases(p.org, project, &selection)
            .await?
            .into_iter()
            .map(|c| format!("@T{}", c.key))
            .collect())
    }
}

fn parse_uid(uid: &str) -> Result<RunId, CoreError> {
    uid.trim()
        .parse::<uuid::Uuid>()
        .map(RunId)
        .map_err(|_| CoreError::NotFound("run"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(v: Value) -> Result<LiveResult, DomainError> {
        serde_json::from_value::<ReportedTest>(v)
            .map_err(|e| DomainError::new("t", e.to_string()))?
            .into_live(0, false)
    }

    #[test]
    fn ids_leave_titles_but_become_labels() -> Result<(), DomainError> {
        let l = live(json!({
            "status": "failed", "title": "logs in @T1a2b3c4d @smoke", "suite_title": "Auth",
            "test_id": "@T1a2b3c4d", "run_time": 12.6, "message": "\u{1b}[31mboom\u{1b}[39m",
            "stack": "Error: boom\n  at x.js:1", "steps": null, "file": "../../test/a.js",
            "example": {"user": "ann", "n": 2}, "tags": ["smoke"], "meta": {"browser": "chrome", "x": null},
            "overwrite": false, "timestamp": 1_700_000_000
        }))?;
        let r = l.result;
        assert_eq!(r.identity.name, "logs in @smoke");
        assert_eq!(r.identity.suite, vec!["Auth".to_string()]);
        assert_eq!(
            r.identity.parameters,
            vec![("n".into(), "2".into()), ("user".into(), "ann".into())]
        );
        assert_eq!(r.duration_ms, Some(13));
        assert_eq!(r.message.as_deref(), Some("boom"));
        assert_eq!(r.file.as_deref(), Some("test/a.js"));
        assert!(r.labels.contains(&("test_id".into(), "@T1a2b3c4d".into())));
        assert!(r.labels.contains(&("browser".into(), "chrome".into())));
        assert_eq!(l.repeat, Repeat::Retry);
        Ok(())
    }

    #[test]
    fn steps_arrive_as_list_text_or_null() -> Result<(), DomainError> {
        let list = live(json!({"status": "passed", "title": "t", "steps": [
            {"title": "open", "duration": 3, "steps": [{"title": "click", "error": {"m": 1}}]}
        ]}))?;
        assert_eq!(
            list.result.stdout.as_deref(),
            Some("• open (3 ms)\n  ✗ click\n")
        );
        let text = live(json!({"status": "passed", "title": "t", "steps": "did it"}))?;
        assert_eq!(text.result.stdout.as_deref(), Some("did it"));
        let none =
            live(json!({"status": "skipped", "title": "t", "steps": null, "overwrite": true}))?;
        assert_eq!(none.result.stdout, None);
        assert_eq!(none.repeat, Repeat::Overwrite);
        Ok(())
    }

    #[test]
    fn bad_tests_are_named() {
        let e = live(json!({"status": "weird", "title": "t"})).err();
        assert!(e.is_some_and(|e| e.to_string().contains("weird")));
        assert!(live(json!({"status": "passed"})).is_err());
        assert!(live(json!({"status": "passed", "title": "  "})).is_err());
    }
}
