//! ReportPortal's API as its agents use it (`@reportportal/client-javascript` and the agents on
//! top of it): a launch is a run; items form a tree of suites and tests, started and finished
//! one by one; logs (and files) belong to items. The tree is kept while the launch runs, so
//! any instance can take the next request; a test item becomes a result when it finishes,
//! with its logs, its nested steps and its earlier tries (`retry: true` items) folded in.

use super::text::{clip, strip_ansi, without_ids};
use crate::live::{LiveResult, Repeat};
use crate::{Allowed, Core, CoreError, Principal, RunSpec, RunView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use testvault_domain::{DomainError, Permission, ProjectId, RunId, time};
use testvault_ingest::{Outcome, TestIdentity, TestResult};
use testvault_store::{ItemRow, LogRow, ResultFileRow};
use uuid::Uuid;

const LOGS: &str = "reporter_logs";
const ITEMS: &str = "reporter_items";
const FILES: &str = "result_files";
/// Largest file attached through a log.
pub const MAX_FILE: usize = 10 * 1024 * 1024;
/// Files one run may hold.
const MAX_FILES: i64 = 10_000;
/// Longest log message kept.
const MAX_LOG: usize = 256 * 1024;
/// Logs folded into one test's result (the latest), and the most text they make.
const MAX_ITEM_LOGS: usize = 200;
const MAX_RESULT_TEXT: usize = 1024 * 1024;

/// `{key, value}` (a tag when there is no key); `system` ones describe the agent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attribute {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub system: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartLaunch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub attributes: Option<Vec<Attribute>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartItem {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub start_time: Option<Value>,
    #[serde(default)]
    pub attributes: Option<Vec<Attribute>>,
    #[serde(default)]
    pub parameters: Option<Vec<Attribute>>,
    #[serde(default)]
    pub code_ref: Option<String>,
    #[serde(default)]
    pub test_case_id: Option<String>,
    #[serde(default)]
    pub retry: Option<bool>,
    #[serde(default)]
    pub has_stats: Option<bool>,
    #[serde(default)]
    pub launch_uuid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishItem {
    #[serde(default)]
    pub end_time: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishLaunch {
    #[serde(default)]
    pub end_time: Option<Value>,
}

/// A log entry; `file.name` names the file part it comes with (multipart).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    #[serde(default)]
    pub launch_uuid: Option<String>,
    #[serde(default)]
    pub item_uuid: Option<String>,
    #[serde(default)]
    pub time: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub file: Option<LogFile>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LogFile {
    #[serde(default)]
    pub name: Option<String>,
}

/// A file sent with a log (its type is decided by its bytes, not by the client).
pub struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Serialize)]
pub struct LaunchAnswer {
    pub id: String,
    pub number: i64,
    pub link: String,
}

/// A launch as the clients' lookups read it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchView {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub number: i64,
    pub status: &'static str,
    pub start_time: i64,
    pub end_time: Option<i64>,
}

/// Milliseconds since the epoch, as a number or a numeric string (now, when neither).
fn millis(v: &Option<Value>) -> i64 {
    let now = || time::now() * 1000;
    match v {
        Some(Value::Number(n)) => n.as_f64().map_or_else(now, |f| f as i64),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_or_else(|_| now(), |f| f as i64),
        _ => now(),
    }
}

fn value_text(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn parse_uuid(raw: &str, what: &'static str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(raw.trim()).map_err(|_| CoreError::NotFound(what))
}

/// RP's statuses: `passed`, `failed`, `skipped`, `stopped`, `interrupted`, `cancelled`, `info`,
/// `warn`.
fn outcome(status: &str) -> Option<Outcome> {
    match status.trim().to_ascii_lowercase().as_str() {
        "passed" | "info" | "warn" => Some(Outcome::Passed),
        "failed" => Some(Outcome::Failed),
        "skipped" => Some(Outcome::Skipped),
        "stopped" | "interrupted" | "cancelled" => Some(Outcome::Errored),
        _ => None,
    }
}

/// A description such as "```error\n…\n```" without its fence.
fn unfenced(d: &str) -> String {
    let d = d.trim();
    let d = d
        .strip_prefix("```error")
        .or_else(|| d.strip_prefix("```"))
        .unwrap_or(d);
    d.strip_suffix("```").unwrap_or(d).trim().to_string()
}

impl Core {
    fn launch_link(&self, slug: &str, run: &RunView) -> String {
        format!(
            "{}/projects/{slug}/runs/{}",
            self.settings().public_url.trim_end_matches('/'),
            run.number
        )
    }

    async fn launch_of(
        &self,
        p: &Principal,
        project: ProjectId,
        raw: &str,
    ) -> Result<RunId, CoreError> {
        let run = RunId(parse_uuid(raw, "launch")?);
        self.run_in(p.org, project, run).await?;
        Ok(run)
    }

    async fn seal_text(
        &self,
        org: testvault_domain::OrgId,
        table: &str,
        column: &str,
        row: Uuid,
        text: &str,
    ) -> Result<Vec<u8>, CoreError> {
        self.keyring()
            .seal(self.store(), org, table, column, &row.to_string(), text)
            .await
    }

    /// `POST /{project}/launch`: a run named after the launch; attributes become its
    /// environment (`key: value`) and tags (bare values). Needs `report_results`.
    pub async fn rp_start_launch(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        req: StartLaunch,
    ) -> Result<LaunchAnswer, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let mut environment = BTreeMap::new();
        let mut tags = Vec::new();
        for a in req.attributes.unwrap_or_default().into_iter().take(50) {
            let value = clip(value_text(&a.value).trim(), 500);
            match a.key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
                Some(k) => {
                    if !value.is_empty() && environment.len() < 50 {
                        environment.insert(clip(k, 100), value);
                    }
                }
                None => {
                    let tag = value.split_whitespace().collect::<Vec<_>>().join("-");
                    if !tag.is_empty() && tag.len() <= 50 && tags.len() < 20 {
                        tags.push(tag);
                    }
                }
            }
        }
        let spec = RunSpec {
            title: req.name.map(|n| clip(n.trim(), 200)),
            environment,
            tags,
            ..RunSpec::default()
        };
        let run = self.create_run_in(p, project, slug, spec).await?;
        Ok(LaunchAnswer {
            id: run.id.to_string(),
            number: run.number,
            link: self.launch_link(slug, &run),
        })
    }

    /// `PUT /{project}/launch/{uuid}/finish`. Needs `report_results`.
    pub async fn rp_finish_launch(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        launch: &str,
    ) -> Result<LaunchAnswer, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let run = self.launch_of(p, project, launch).await?;
        let row = self.run_in(p.org, project, run).await?;
        let view = if row.finished {
            RunView::from(row)
        } else {
            self.finish_run_in(p, project, run, None, true).await?
        };
        Ok(LaunchAnswer {
            id: view.id.to_string(),
            number: view.number,
            link: self.launch_link(slug, &view),
        })
    }

    /// A launch by its uuid, for the clients' lookups. Needs `read_projects`.
    pub async fn rp_launch(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        launch: &str,
    ) -> Result<LaunchView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let run = self.launch_of(p, project, launch).await?;
        let view = RunView::from(self.run_in(p.org, project, run).await?);
        Ok(launch_view(&view))
    }

    /// The newest launches (the clients' connection check asks for one). Needs `read_projects`.
    pub async fn rp_launches(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        size: i64,
    ) -> Result<Vec<LaunchView>, CoreError> {
        let runs = self
            .list_runs(
                allowed,
                slug,
                &crate::RunQuery::default(),
                None,
                size.clamp(1, 100),
            )
            .await?;
        Ok(runs.iter().map(launch_view).collect())
    }

    /// `POST /{project}/item[/{parent}]`: starts a suite, test or step. Needs `report_results`.
    pub async fn rp_start_item(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        parent: Option<&str>,
        req: StartItem,
    ) -> Result<Uuid, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let parent = match parent {
            Some(raw) => Some(
                self.store()
                    .reporter_item(p.org, parse_uuid(raw, "parent item")?)
                    .await?
                    .ok_or(CoreError::NotFound("parent item"))?,
            ),
            None => None,
        };
        let run = match (&parent, req.launch_uuid.as_deref()) {
            (Some(up), _) => {
                self.run_in(p.org, project, up.run).await?;
                up.run
            }
            (None, Some(launch)) => self.launch_of(p, project, launch).await?,
            (None, None) => {
                return Err(
                    DomainError::new("launchUuid", "say which launch the item is in").into(),
                );
            }
        };
        let name = req.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            return Err(DomainError::new("name", "an item needs a name").into());
        }
        let name = clip(&strip_ansi(name), 1000);
        let mut suite_path: Vec<String> = match &parent {
            Some(up) => serde_json::from_str(&up.suite_path)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            None => Vec::new(),
        };
        if let Some(up) = &parent {
            suite_path.push(without_ids(&up.name));
        }
        let parameters: Vec<(String, String)> = req
            .parameters
            .unwrap_or_default()
            .into_iter()
            .take(50)
            .enumerate()
            .map(|(i, a)| {
                (
                    a.key
                        .filter(|k| !k.trim().is_empty())
                        .unwrap_or_else(|| format!("param{}", i + 1)),
                    clip(&value_text(&a.value), 1000),
                )
            })
            .collect();
        let identity =
            TestIdentity::new(suite_path.clone(), without_ids(&name), parameters.clone());
        let mut attributes: Vec<(String, String)> = req
            .attributes
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !a.system.unwrap_or(false))
            .take(50)
            .map(|a| {
                (
                    a.key.unwrap_or_else(|| "tag".into()),
                    clip(&value_text(&a.value), 500),
                )
            })
            .collect();
        if let Some(id) = req.test_case_id.filter(|t| !t.trim().is_empty()) {
            attributes.push(("test_case_id".into(), clip(&id, 500)));
        }
        if let Some(key) = crate::cases::case_key_in_name(&name) {
            attributes.push(("test_id".into(), format!("@T{key}")));
        }
        let id = Uuid::new_v4();
        let item = ItemRow {
            id,
            run,
            parent: parent.as_ref().map(|up| up.id),
            kind: clip(req.kind.as_deref().unwrap_or("STEP").trim(), 40).to_ascii_uppercase(),
            name,
            suite_path: serde_json::to_string(&suite_path)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            parameters: serde_json::to_string(&parameters)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            attributes: serde_json::to_string(&attributes)
                .map_err(|e| CoreError::internal(e.to_string()))?,
            code_ref: req.code_ref.map(|c| clip(&c, 1000)),
            has_stats: req.has_stats.unwrap_or(true),
            retry: req.retry.unwrap_or(false),
            identity_hash: i64::from_ne_bytes(identity.hash64().to_ne_bytes()),
            started_at: millis(&req.start_time),
            finished_at: None,
            status: None,
            description: None,
        };
        self.store().insert_reporter_item(p.org, &item).await?;
        Ok(id)
    }

    /// `PUT /{project}/item/{id}`: finishes an item. A test item's result is stored now
    /// (acknowledged after commit); a repeated finish stores nothing. Needs `report_results`.
    pub async fn rp_finish_item(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        item: &str,
        req: FinishItem,
    ) -> Result<(), CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let id = parse_uuid(item, "item")?;
        let row = self
            .store()
            .reporter_item(p.org, id)
            .await?
            .ok_or(CoreError::NotFound("item"))?;
        self.run_in(p.org, project, row.run).await?;
        let children = self.store().reporter_children(p.org, id).await?;
        let steps: Vec<&ItemRow> = children.iter().filter(|c| !c.has_stats).collect();
        let status = match req
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => {
                outcome(s).ok_or_else(|| {
                    DomainError::new("status", format!("`{}` is not a status", clip(s, 40)))
                })?;
                s.to_ascii_lowercase()
            }
            // Derived from the children, as ReportPortal does.
            None if children
                .iter()
                .any(|c| c.status.as_deref() == Some("failed")) =>
            {
                "failed".into()
            }
            None if !children.is_empty()
                && children
                    .iter()
                    .all(|c| c.status.as_deref() == Some("skipped")) =>
            {
                "skipped".into()
            }
            None => "passed".into(),
        };
        let description = match req
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            Some(d) => Some(
                self.seal_text(p.org, ITEMS, "description", id, &clip(d, MAX_LOG))
                    .await?,
            ),
            None => None,
        };
        let ended = millis(&req.end_time);
        if !self
            .store()
            .finish_reporter_item(p.org, id, ended, &status, description.as_deref())
            .await?
        {
            return Ok(());
        }
        let is_test = row.has_stats
            && !children.iter().any(|c| c.has_stats)
            && !matches!(row.kind.as_str(), "SUITE" | "STORY" | "LAUNCH");
        if !is_test {
            return Ok(());
        }
        let mut result = self
            .item_result(p, &row, &steps, &status, req.description.as_deref(), ended)
            .await?;
        result.duration_ms = u64::try_from(ended - row.started_at).ok();
        let repeat = Repeat::ByStart {
            item: id,
            started_at: row.started_at,
        };
        self.store_live(
            p,
            project,
            row.run,
            &format!("rp:{id}"),
            vec![LiveResult { result, repeat }],
        )
        .await?;
        Ok(())
    }

    /// A finished test item as a result: its logs (errors make the message and trace, the rest
    /// its output), its nested steps, its attributes as labels.
    async fn item_result(
        &self,
        p: &Principal,
        row: &ItemRow,
        steps: &[&ItemRow],
        status: &str,
        description: Option<&str>,
        _ended: i64,
    ) -> Result<TestResult, CoreError> {
        let outcome = outcome(status).unwrap_or(Outcome::Passed);
        let suite: Vec<String> = serde_json::from_str(&row.suite_path)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        let parameters: Vec<(String, String)> = serde_json::from_str(&row.parameters)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        let labels: Vec<(String, String)> = serde_json::from_str(&row.attributes)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        let mut result = TestResult::new(
            TestIdentity::new(suite, without_ids(&row.name), parameters),
            outcome,
        );
        result.labels = labels;
        let mut ids = vec![row.id];
        ids.extend(steps.iter().map(|s| s.id));
        let mut logs = self.store().reporter_logs(p.org, &ids).await?;
        // The latest logs only: one item's result stays a readable size.
        if logs.len() > MAX_ITEM_LOGS {
            logs.drain(..logs.len() - MAX_ITEM_LOGS);
        }
        let mut errors = Vec::new();
        let mut output = Vec::new();
        for log in logs {
            let text = self
                .keyring()
                .open(
                    self.store(),
                    p.org,
                    LOGS,
                    "message",
                    &log.id.to_string(),
                    &log.message,
                )
                .await?;
            if matches!(log.level.as_str(), "error" | "fatal") && outcome.is_failure() {
                errors.push(text);
            } else {
                output.push(format!("[{}] {text}", log.level));
            }
        }
        if !steps.is_empty() {
            let lines: Vec<String> = steps
                .iter()
                .map(|s| {
                    let mark = match s.status.as_deref() {
                        Some("failed") => "✗",
                        Some("skipped") => "-",
                        _ => "•",
                    };
                    format!("{mark} {}", s.name)
                })
                .collect();
            output.insert(0, lines.join("\n"));
        }
        let mut trace = (!errors.is_empty()).then(|| errors.join("\n\n"));
        if trace.is_none() && outcome.is_failure() {
            trace = description.map(unfenced).filter(|d| !d.is_empty());
        }
        let trace = trace.map(|t| strip_ansi(&t));
        result.message = trace
            .as_deref()
            .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
            .map(|l| l.trim().to_string());
        result.trace = trace.map(|t| clip(&t, MAX_RESULT_TEXT));
        result.stdout =
            (!output.is_empty()).then(|| clip(&strip_ansi(&output.join("\n")), MAX_RESULT_TEXT));
        Ok(result)
    }

    /// `POST /{project}/log`: log entries, each with an optional file (multipart). Messages
    /// and files are sealed; a file belongs to its item's test. Needs `report_results`.
    pub async fn rp_log(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        entries: Vec<LogEntry>,
        mut files: Vec<Attachment>,
    ) -> Result<Vec<Uuid>, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        if entries.len() > 1000 {
            return Err(DomainError::new("logs", "at most 1000 entries in one request").into());
        }
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            let item = match entry.item_uuid.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(raw) => Some(
                    self.store()
                        .reporter_item(p.org, parse_uuid(raw, "item")?)
                        .await?
                        .ok_or(CoreError::NotFound("item"))?,
                ),
                None => None,
            };
            let run = match (&item, entry.launch_uuid.as_deref()) {
                (Some(i), _) => {
                    self.run_in(p.org, project, i.run).await?;
                    i.run
                }
                (None, Some(launch)) => self.launch_of(p, project, launch).await?,
                (None, None) => {
                    return Err(
                        DomainError::new("launchUuid", "say which launch the log is in").into(),
                    );
                }
            };
            let id = Uuid::new_v4();
            let message = clip(entry.message.as_deref().unwrap_or_default(), MAX_LOG);
            let level =
                clip(entry.level.as_deref().unwrap_or("info").trim(), 20).to_ascii_lowercase();
            let log = LogRow {
                id,
                item: item.as_ref().map(|i| i.id),
                level,
                logged_at: millis(&entry.time),
                message: self.seal_text(p.org, LOGS, "message", id, &message).await?,
            };
            self.store().insert_reporter_log(p.org, run, &log).await?;
            let wanted = entry.file.and_then(|f| f.name);
            if let (Some(wanted), Some(item)) = (wanted, &item) {
                let at = files
                    .iter()
                    .position(|f| f.name == wanted)
                    .or_else(|| (!files.is_empty()).then_some(0));
                if let Some(file) = at.map(|i| files.remove(i)) {
                    // A nested step's file belongs to the test it is a step of.
                    let owner = match (item.has_stats, item.parent) {
                        (false, Some(up)) => self
                            .store()
                            .reporter_item(p.org, up)
                            .await?
                            .map_or(item.identity_hash, |u| u.identity_hash),
                        _ => item.identity_hash,
                    };
                    self.add_result_file(p, run, owner, file).await?;
                }
            }
            ids.push(id);
        }
        Ok(ids)
    }

    async fn add_result_file(
        &self,
        p: &Principal,
        run: RunId,
        identity_hash: i64,
        file: Attachment,
    ) -> Result<(), CoreError> {
        if file.bytes.len() > MAX_FILE {
            return Err(CoreError::TooLarge("a file is over 10 MiB".into()));
        }
        let id = Uuid::new_v4();
        let sealed = self
            .keyring()
            .seal_bytes(
                self.store(),
                p.org,
                FILES,
                "content",
                &id.to_string(),
                &file.bytes,
            )
            .await?;
        let name = crate::cases::attachments::clean_name(&file.name);
        let row = ResultFileRow {
            id,
            run,
            identity_hash,
            media_type: crate::cases::attachments::sniff(&file.bytes, &name).to_string(),
            name,
            size: i64::try_from(file.bytes.len()).unwrap_or(i64::MAX),
            created_at: time::now(),
            content: Some(sealed),
            test: None,
        };
        self.store().add_result_file(p.org, &row, MAX_FILES).await?;
        Ok(())
    }
}

fn launch_view(run: &RunView) -> LaunchView {
    LaunchView {
        id: run.number,
        uuid: run.id.to_string(),
        name: run.title.clone(),
        number: run.number,
        status: if run.status == "running" {
            "IN_PROGRESS"
        } else if run.counts.failed + run.counts.errored > 0 {
            "FAILED"
        } else {
            "PASSED"
        },
        start_time: run.created_at * 1000,
        end_time: run.finished_at.map(|t| t * 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_statuses_are_read_leniently() {
        assert_eq!(
            millis(&Some(Value::from(1_700_000_000_123_i64))),
            1_700_000_000_123
        );
        assert_eq!(
            millis(&Some(Value::from("1700000000123"))),
            1_700_000_000_123
        );
        assert_eq!(outcome("PASSED"), Some(Outcome::Passed));
        assert_eq!(outcome("interrupted"), Some(Outcome::Errored));
        assert_eq!(outcome("nonsense"), None);
        assert_eq!(unfenced("```error\nError: x\n```"), "Error: x");
    }
}
