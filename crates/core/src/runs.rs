//! Runs and result ingestion: create a run, stream reports into it, finish it; read runs and
//! their results. The hot path: a blocking thread parses and seals while the async side stores,
//! in batches, inside one transaction per upload — acknowledged only after commit.

use crate::audit::{self, Change};
use crate::{Allowed, Core, CoreError, Principal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Read;
use testvault_crypto::{BlindIndex, SealPlace, Sealer};
use testvault_domain::{DomainError, OrgId, Permission, ProjectId, RunId, time};
use testvault_ingest::{IngestError, Limits, Outcome, ResultSource, TestResult};
use testvault_store::{IngestInto, NewRun, ResultRow, RunCounts, RunRow, StoredResult};

/// Results per stored batch: large enough for few round trips, small enough to overlap parse
/// and store.
const BATCH: usize = 1000;
/// Words of one failure message kept in the blind index.
const MAX_TERMS: usize = 24;
/// The longest duration stored (about 31 years): sums over a run or a suite stay far inside
/// 64 bits however absurd a report's times are.
const MAX_DURATION_MS: u64 = 1_000_000_000_000;
/// Property-named case links one upload may make.
const MAX_CASE_IDS: usize = 10_000;

/// Details larger than this are zstd-compressed before sealing.
const COMPRESS_OVER: usize = 512;

/// What a client says about a new run (all optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub build_url: Option<String>,
    #[serde(default)]
    pub build_name: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Sharded CI: the run finishes when this many distinct shards have finished.
    #[serde(default)]
    pub shards: Option<i32>,
}

/// A `RunSpec` whose values were checked.
pub(crate) struct ValidRun {
    title: String,
    branch: Option<String>,
    commit: Option<String>,
    build_url: Option<String>,
    build_name: Option<String>,
    environment: String,
    tags: String,
    shards: Option<i32>,
}

fn text(field: &'static str, v: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(DomainError::new(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(s) if s.chars().any(char::is_control) => Err(DomainError::new(
            field,
            "must not contain control characters",
        )),
        Some(s) => Ok(Some(s)),
    }
}

impl RunSpec {
    pub(crate) fn validate(self) -> Result<ValidRun, DomainError> {
        let build_url = text("build_url", self.build_url, 2000)?;
        if let Some(url) = &build_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(DomainError::new("build_url", "must be an http(s) URL"));
        }
        if self.environment.len() > 50 {
            return Err(DomainError::new("environment", "at most 50 entries"));
        }
        for (k, v) in &self.environment {
            if k.is_empty() || k.len() > 100 || v.len() > 500 {
                return Err(DomainError::new(
                    "environment",
                    "names must be 1–100 and values at most 500 characters",
                ));
            }
        }
        if self.tags.len() > 20
            || self
                .tags
                .iter()
                .any(|t| t.is_empty() || t.len() > 50 || t.contains(char::is_whitespace))
        {
            return Err(DomainError::new(
                "tags",
                "at most 20 tags of 1–50 characters without spaces",
            ));
        }
        if let Some(n) = self.shards
            && !(1..=1000).contains(&n)
        {
            return Err(DomainError::new("shards", "must be between 1 and 1000"));
        }
        Ok(ValidRun {
            title: text("title", self.title, 200)?.unwrap_or_default(),
            branch: text("branch", self.branch, 200)?,
            commit: text("commit", self.commit, 100)?,
            build_url,
            build_name: text("build_name", self.build_name, 200)?,
            environment: serde_json::to_string(&self.environment)
                .map_err(|_| DomainError::new("environment", "must be an object of strings"))?,
            tags: self.tags.join(" "),
            shards: self.shards,
        })
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CountsView {
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
    pub errored: i64,
    pub skipped: i64,
    pub flaky: i64,
    pub duration_ms: i64,
}

impl From<RunCounts> for CountsView {
    fn from(c: RunCounts) -> Self {
        CountsView {
            total: c.total,
            passed: c.passed,
            failed: c.failed,
            errored: c.errored,
            skipped: c.skipped,
            flaky: c.flaky,
            duration_ms: c.duration_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: RunId,
    pub number: i64,
    pub title: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub build_url: Option<String>,
    pub build_name: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// `running` or `finished`.
    pub status: &'static str,
    pub shards_expected: Option<i32>,
    pub shards_finished: i64,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub counts: CountsView,
}

impl From<RunRow> for RunView {
    fn from(r: RunRow) -> Self {
        RunView {
            title: if r.title.is_empty() {
                format!("Run #{}", r.number)
            } else {
                r.title
            },
            id: r.id,
            number: r.number,
            branch: r.branch,
            commit: r.commit,
            build_url: r.build_url,
            build_name: r.build_name,
            environment: serde_json::from_str(&r.environment).unwrap_or_default(),
            tags: r
                .tags
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
            status: if r.finished { "finished" } else { "running" },
            shards_expected: r.shards_expected,
            shards_finished: r.shards_finished,
            created_by: r.created_by,
            created_at: r.created_at,
            finished_at: r.finished_at,
            counts: r.counts.into(),
        }
    }
}

/// The sealed part of a result, as stored (compressed when large).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ResultDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<testvault_ingest::Attempt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultView {
    pub id: i64,
    pub test_id: i64,
    pub key: String,
    pub suite: String,
    pub name: String,
    pub parameters: String,
    pub file: Option<String>,
    pub outcome: &'static str,
    pub flaky: bool,
    /// How many times it ran in this run (1 + earlier attempts).
    pub tries: i32,
    pub duration_ms: Option<i64>,
    /// The error signature (hex), equal for "the same failure".
    pub signature: Option<String>,
    #[serde(flatten)]
    pub details: ResultDetails,
}

/// A search hit: the result and the run it is in.
#[derive(Debug, Clone, Serialize)]
pub struct FoundResult {
    pub run: RunId,
    pub run_number: i64,
    pub result: ResultView,
}

/// What an upload stored.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub run: RunView,
    /// What this request stored (all zero for a retried batch).
    pub stored: CountsView,
    /// True when this idempotency key had already been stored: nothing was stored again.
    pub duplicate: bool,
    /// The producer, when the report named it.
    pub tool: Option<String>,
}

/// A report to read: its bytes (compressed or not) and, if the client said, its format.
pub struct Upload {
    pub body: Box<dyn Read + Send>,
    /// `junit`, `ctrf` or `allure`; detected when `None`.
    pub format: Option<String>,
    /// The boundary when the body is a `multipart/form-data` form of Allure result files.
    pub form_boundary: Option<String>,
    pub idempotency_key: Option<String>,
}

fn outcome_code(o: Outcome) -> i16 {
    match o {
        Outcome::Passed => 0,
        Outcome::Failed => 1,
        Outcome::Errored => 2,
        Outcome::Skipped => 3,
    }
}

pub(crate) fn outcome_of(code: i16) -> Outcome {
    match code {
        0 => Outcome::Passed,
        1 => Outcome::Failed,
        2 => Outcome::Errored,
        _ => Outcome::Skipped,
    }
}

pub(crate) fn outcome_name(code: i16) -> &'static str {
    match code {
        0 => "passed",
        1 => "failed",
        2 => "errored",
        _ => "skipped",
    }
}

/// The u64 signature as the signed integer the database stores (same bits).
fn signed(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

fn seal_row(run: RunId, identity_hash: u64) -> String {
    format!("{run}:{identity_hash:016x}")
}

/// Turns parsed results into rows: identity in clear, free text compressed and sealed, the
/// failure words keyed for search. Runs on the parsing thread.
pub(crate) struct RowMaker {
    org: String,
    run: RunId,
    sealer: Sealer,
    index: BlindIndex,
    /// Reused: a compression context per value would cost more than the compression.
    zstd: zstd::bulk::Compressor<'static>,
    /// Tests that name their case in a property (`test_id = @T1a2b3c4d`), not in their name:
    /// `(identity hash, case key)`, linked once the results are stored.
    case_ids: Vec<(i64, String)>,
}

impl RowMaker {
    pub(crate) fn new(
        org: OrgId,
        run: RunId,
        data_key: &testvault_crypto::DataKey,
    ) -> Result<Self, CoreError> {
        Ok(RowMaker {
            org: org.to_string(),
            run,
            sealer: data_key.sealer()?,
            index: data_key.blind_index(),
            zstd: zstd::bulk::Compressor::new(1).map_err(|e| CoreError::internal(e.to_string()))?,
            case_ids: Vec::new(),
        })
    }

    /// Tests that named their case in a property, to link after commit.
    pub(crate) fn case_ids(&self) -> &[(i64, String)] {
        &self.case_ids
    }

    pub(crate) fn row(&mut self, r: TestResult) -> Result<ResultRow, CoreError> {
        let identity_key = r.identity.key();
        let suite = r.identity.suite_path();
        let identity_hash = testvault_ingest::identity::identity_hash(&suite, &identity_key);
        // Most results carry no labels: the name is only scanned when a label names a case.
        if let Some(key) = crate::cases::model::case_key_in_labels(&r.labels)
            && self.case_ids.len() < MAX_CASE_IDS
            && crate::cases::case_key_in_name(&r.identity.name).is_none()
        {
            self.case_ids.push((signed(identity_hash), key));
        }
        let flaky = r.is_flaky();
        let signature = r
            .message
            .as_deref()
            .filter(|_| r.outcome.is_failure())
            .map(|m| signed(testvault_ingest::signature::signature(m)));
        // The failure message's words (not the trace's: an index row per word is the most
        // expensive part of storing a failure, and the message is what people search by).
        let terms = match (&r.message, r.outcome.is_failure()) {
            (Some(message), true) => testvault_ingest::signature::search_tokens(message)
                .iter()
                .take(MAX_TERMS)
                .map(|w| self.index.term(w).to_vec())
                .collect(),
            _ => Vec::new(),
        };
        let details = ResultDetails {
            message: r.message,
            trace: r.trace,
            stdout: r.stdout,
            stderr: r.stderr,
            attempts: r.attempts,
            labels: r.labels,
            line: r.line,
        };
        let empty = details.message.is_none()
            && details.trace.is_none()
            && details.stdout.is_none()
            && details.stderr.is_none()
            && details.attempts.is_empty()
            && details.labels.is_empty()
            && details.line.is_none();
        let attempts = i32::try_from(details.attempts.len() + 1).unwrap_or(i32::MAX);
        let sealed = if empty {
            None
        } else {
            let json =
                serde_json::to_vec(&details).map_err(|e| CoreError::internal(e.to_string()))?;
            let framed = frame(&mut self.zstd, &json)?;
            let row = seal_row(self.run, identity_hash);
            let place = SealPlace {
                org: &self.org,
                table: "results",
                column: "details",
                row: &row,
            };
            Some(self.sealer.seal(&place, &framed)?)
        };
        let parameters = if r.identity.parameters.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&r.identity.parameters).unwrap_or_default()
        };
        Ok(ResultRow {
            identity_hash,
            identity_key,
            suite,
            name: r.identity.name,
            parameters,
            file: r.file,
            outcome: outcome_code(r.outcome),
            flaky,
            attempts,
            duration_ms: r
                .duration_ms
                .map(|d| i64::try_from(d.min(MAX_DURATION_MS)).unwrap_or(0)),
            signature,
            details: sealed,
            terms,
        })
    }
}

/// A stored result with its sealed details opened (they are bound to their run and test).
pub(crate) fn result_view(
    key: &testvault_crypto::DataKey,
    org: &str,
    run: RunId,
    r: StoredResult,
) -> Result<ResultView, CoreError> {
    let details = match &r.details {
        Some(sealed) => {
            let row = seal_row(run, r.identity_hash as u64);
            let place = SealPlace {
                org,
                table: "results",
                column: "details",
                row: &row,
            };
            unframe(&key.open(&place, sealed)?)?
        }
        None => ResultDetails::default(),
    };
    Ok(ResultView {
        id: r.id,
        test_id: r.test_id,
        key: r.identity_key,
        suite: r.suite,
        name: r.name,
        parameters: r.parameters,
        file: r.file,
        outcome: outcome_name(r.outcome),
        flaky: r.flaky,
        tries: r.attempts,
        duration_ms: r.duration_ms,
        signature: r
            .signature
            .map(|s| format!("{:016x}", u64::from_ne_bytes(s.to_ne_bytes()))),
        details,
    })
}

/// `0` + JSON, or `1` + zstd(JSON) when that is worth it.
fn frame(zstd: &mut zstd::bulk::Compressor<'static>, json: &[u8]) -> Result<Vec<u8>, CoreError> {
    if json.len() > COMPRESS_OVER {
        let mut out = vec![1u8];
        let compressed = zstd
            .compress(json)
            .map_err(|e| CoreError::internal(e.to_string()))?;
        out.extend_from_slice(&compressed);
        return Ok(out);
    }
    let mut out = Vec::with_capacity(json.len() + 1);
    out.push(0);
    out.extend_from_slice(json);
    Ok(out)
}

fn unframe(framed: &[u8]) -> Result<ResultDetails, CoreError> {
    let json = match framed.split_first() {
        Some((0, rest)) => rest.to_vec(),
        Some((1, rest)) => {
            zstd::stream::decode_all(rest).map_err(|e| CoreError::internal(e.to_string()))?
        }
        _ => return Err(CoreError::internal("unknown details framing")),
    };
    serde_json::from_slice(&json).map_err(|e| CoreError::internal(e.to_string()))
}

/// An ingest refusal as a client sees it: 422 naming the report, or 413 for a limit.
fn refused(e: IngestError) -> CoreError {
    match e {
        IngestError::Limit(m) => CoreError::TooLarge(m),
        other => DomainError::new("report", other.to_string()).into(),
    }
}

impl Core {
    pub async fn create_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        spec: RunSpec,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.create_run_in(p, project, slug, spec).await
    }

    /// Creates a run in `project` (its `slug` goes into the audit event).
    pub(crate) async fn create_run_in(
        &self,
        p: &Principal,
        project: ProjectId,
        slug: &str,
        spec: RunSpec,
    ) -> Result<RunView, CoreError> {
        let valid = spec.validate()?;
        let id = RunId::new();
        let by = actor_label(p);
        let event = audit::by(
            p,
            Change::new("run.created", "run", id).after(json!({ "project": slug, "branch": valid.branch, "commit": valid.commit, "shards": valid.shards })),
        );
        self.store()
            .create_run(new_run(p.org, project, id, &valid, &by), &event)
            .await?;
        self.run_view(p.org, id).await
    }

    pub async fn list_runs(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        query: &RunQuery,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RunView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let filter = query.filter()?;
        let rows = self
            .store()
            .list_runs(p.org, project, &filter, before, limit.clamp(1, 200))
            .await?;
        Ok(rows.into_iter().map(RunView::from).collect())
    }

    pub async fn get_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await.map(RunView::from)
    }

    /// A run by its number in the project (`/projects/web/runs/12`).
    pub async fn run_by_number(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        number: i64,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.store()
            .find_run_by_number(p.org, project, number)
            .await?
            .map(RunView::from)
            .ok_or(CoreError::NotFound("run"))
    }

    pub(crate) async fn run_in(
        &self,
        org: OrgId,
        project: ProjectId,
        run: RunId,
    ) -> Result<RunRow, CoreError> {
        self.store()
            .get_run(org, run)
            .await?
            .filter(|r| r.project == project)
            .ok_or(CoreError::NotFound("run"))
    }

    pub(crate) async fn run_view(&self, org: OrgId, run: RunId) -> Result<RunView, CoreError> {
        self.store()
            .get_run(org, run)
            .await?
            .map(RunView::from)
            .ok_or(CoreError::NotFound("run"))
    }

    /// A run's results (failures first), with their sealed details opened.
    pub async fn run_results(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        query: &ResultQuery,
    ) -> Result<Vec<ResultView>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.run_in(p.org, project, run).await?;
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let code = match given(&query.outcome) {
            None => None,
            Some(name) => Some((0..4).find(|c| outcome_name(*c) == name).ok_or_else(|| {
                DomainError::new("outcome", "must be passed, failed, errored or skipped")
            })?),
        };
        let slowest_first = match given(&query.sort).as_deref() {
            None | Some("failures") => false,
            Some("duration") => true,
            Some(_) => {
                return Err(DomainError::new("sort", "must be failures or duration").into());
            }
        };
        let name = given(&query.q).filter(|q| q.chars().count() <= 200);
        // The words of the search also find failures by their (sealed) text, through the
        // keyed blind index.
        let error_terms = match name.as_deref() {
            Some(q) => {
                let words = testvault_ingest::signature::search_tokens(q);
                if words.is_empty() {
                    Vec::new()
                } else {
                    let key = self.keyring().data_key(self.store(), p.org).await?;
                    let index = key.blind_index();
                    words.iter().map(|w| index.term(w).to_vec()).collect()
                }
            }
            None => Vec::new(),
        };
        let signature = given(&query.signature)
            .map(|hex| {
                u64::from_str_radix(&hex, 16)
                    .map(signed)
                    .map_err(|_| DomainError::new("signature", "must be a hexadecimal signature"))
            })
            .transpose()?;
        let page = testvault_store::ResultPage {
            outcome: code,
            name,
            error_terms,
            // Present but empty: the tests that have no suite.
            suite: query.suite.as_deref().map(|s| s.trim().to_string()),
            signature,
            slowest_first,
            offset: query.offset.unwrap_or(0).max(0),
            limit: query.limit.unwrap_or(1000).clamp(1, 10_000),
        };
        let rows = self.store().run_results(p.org, run, &page).await?;
        self.result_views(p.org, run, rows).await
    }

    async fn result_views(
        &self,
        org: OrgId,
        run: RunId,
        rows: Vec<StoredResult>,
    ) -> Result<Vec<ResultView>, CoreError> {
        let key = self.keyring().data_key(self.store(), org).await?;
        let org = org.to_string();
        rows.into_iter()
            .map(|r| result_view(&key, &org, run, r))
            .collect()
    }

    /// Failed results whose failure text contains every word of `query` (3+ characters each),
    /// found through the keyed blind index: the text itself is only stored sealed.
    pub async fn search_failures(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        query: &str,
        limit: i64,
    ) -> Result<Vec<FoundResult>, CoreError> {
        let p = allowed.require(Permission::ReadProjects)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let words = testvault_ingest::signature::search_tokens(query);
        if words.is_empty() {
            return Err(
                DomainError::new("q", "give at least one word of 3 or more characters").into(),
            );
        }
        let key = self.keyring().data_key(self.store(), p.org).await?;
        let index = key.blind_index();
        let terms: Vec<Vec<u8>> = words.iter().map(|w| index.term(w).to_vec()).collect();
        let found = self
            .store()
            .search_results(p.org, project, &terms, limit.clamp(1, 500))
            .await?;
        let org = p.org.to_string();
        found
            .into_iter()
            .map(|(run, run_number, row)| {
                Ok(FoundResult {
                    run,
                    run_number,
                    result: result_view(&key, &org, run, row)?,
                })
            })
            .collect()
    }

    /// Finishes a run, or one shard of it.
    pub async fn finish_run(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        run: RunId,
        shard: Option<&str>,
    ) -> Result<RunView, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        self.finish_run_in(p, project, run, shard, false).await
    }

    /// Finishes `run` of `project` (or one shard of it; `force` finishes it whatever its shards).
    pub(crate) async fn finish_run_in(
        &self,
        p: &Principal,
        project: ProjectId,
        run: RunId,
        shard: Option<&str>,
        force: bool,
    ) -> Result<RunView, CoreError> {
        self.run_in(p.org, project, run).await?;
        let shard = text("shard", shard.map(String::from), 100)?;
        let event = audit::by(
            p,
            Change::new("run.finished", "run", run).after(json!({ "shard": shard })),
        );
        if !self
            .store()
            .finish_run(p.org, run, shard.as_deref(), force, time::now(), &event)
            .await?
        {
            return Err(CoreError::NotFound("run"));
        }
        self.run_view(p.org, run).await
    }

    /// Streams a report into an existing run (`run`) or into a new run that this upload creates
    /// and finishes (`new_run`): the one-shot upload.
    pub async fn ingest_report(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        target: IngestTarget,
        upload: Upload,
    ) -> Result<IngestReport, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let format = upload
            .format
            .as_deref()
            .map(testvault_ingest::detect::Format::parse)
            .transpose()
            .map_err(refused)?;
        let body = upload.body;
        let boundary = upload.form_boundary;
        let open = move || -> Result<Box<dyn ResultSource + Send>, IngestError> {
            match boundary {
                Some(b) => testvault_ingest::open_form(body, &b, Limits::default()),
                None => testvault_ingest::open_report(body, format, Limits::default()),
            }
        };
        self.ingest(p, project, target, upload.idempotency_key, Box::new(open))
            .await
    }

    /// Stores results sent as JSON (already parsed) in a run, or in a new run that this call
    /// creates and finishes.
    pub async fn append_results(
        &self,
        allowed: Allowed<'_>,
        slug: &str,
        target: IngestTarget,
        idempotency_key: Option<String>,
        results: Vec<TestResult>,
    ) -> Result<IngestReport, CoreError> {
        let p = allowed.require(Permission::ReportResults)?;
        let project = self.project_in_scope(&allowed, slug).await?;
        let open = move || -> Result<Box<dyn ResultSource + Send>, IngestError> {
            Ok(Box::new(VecSource {
                results: results.into_iter(),
                meta: testvault_ingest::ReportMeta::default(),
            }))
        };
        self.ingest(p, project, target, idempotency_key, Box::new(open))
            .await
    }

    /// Stores results built by Testvault itself (a manual run's verdicts) in `run`, through
    /// the same path as reports: sealed, indexed, counted, committed at once.
    pub(crate) async fn store_results(
        &self,
        p: &Principal,
        project: ProjectId,
        run: RunId,
        idempotency_key: String,
        results: Vec<TestResult>,
    ) -> Result<IngestReport, CoreError> {
        let open = move || -> Result<Box<dyn ResultSource + Send>, IngestError> {
            Ok(Box::new(VecSource {
                results: results.into_iter(),
                meta: testvault_ingest::ReportMeta::default(),
            }))
        };
        self.ingest(
            p,
            project,
            IngestTarget::Run(run),
            Some(idempotency_key),
            Box::new(open),
        )
        .await
    }

    async fn ingest(
        &self,
        p: &Principal,
        project: ProjectId,
        target: IngestTarget,
        idempotency_key: Option<String>,
        open: OpenSource,
    ) -> Result<IngestReport, CoreError> {
        let org = p.org;
        let now = time::now();
        let key = text("idempotency_key", idempotency_key, 200)?
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let by = actor_label(p);
        let (run, valid) = match target {
            IngestTarget::Run(run) => {
                self.run_in(org, project, run).await?;
                (run, None)
            }
            IngestTarget::NewRun(spec) => (RunId::new(), Some(spec.validate()?)),
        };
        let new = valid.as_ref().map(|v| new_run(org, project, run, v, &by));
        let Some(mut tx) = self
            .store()
            .begin_ingest(
                org,
                project,
                run,
                new.as_ref().map_or(IngestInto::Running, IngestInto::NewRun),
                &key,
                now,
            )
            .await?
        else {
            let view = self.run_view(org, run).await?;
            return Ok(IngestReport {
                run: view,
                stored: RunCounts::default().into(),
                duplicate: true,
                tool: None,
            });
        };
        let data_key = self.keyring().data_key(self.store(), org).await?;
        let maker = RowMaker::new(org, run, &data_key)?;
        let (send, mut receive) = tokio::sync::mpsc::channel::<Vec<ResultRow>>(4);
        let parser = tokio::task::spawn_blocking(move || parse_into(open, maker, send));
        // Store batches as they come; when the parser stops (end or refusal) the channel closes.
        // An error here drops the receiver, which stops the parser, and the transaction rolls back.
        let started = std::time::Instant::now();
        let mut storing = std::time::Duration::ZERO;
        while let Some(batch) = receive.recv().await {
            let t = std::time::Instant::now();
            tx.insert(&batch).await?;
            storing += t.elapsed();
        }
        let (meta, case_ids) = parser
            .await
            .map_err(|e| CoreError::internal(format!("parser thread: {e}")))??;
        let counts = tx.counts();
        let event = audit::by(
            p,
            Change::new("run.results_reported", "run", run).after(json!({
                "results": counts.total, "failed": counts.failed + counts.errored, "idempotency_key": key,
                "new_run": new.is_some(), "tool": meta.tool,
            })),
        );
        let stored = tx.commit(&event, new.is_some()).await?;
        self.store().wrote_results(stored.total);
        if !case_ids.is_empty() {
            // After commit and outside it: a link that cannot be made (an unknown key) never
            // costs a report its results.
            if let Err(e) = self.link_by_property(p, project, &case_ids).await {
                tracing::warn!(error = %e, "tests naming their case in a property were not linked");
            }
        }
        tracing::info!(
            org.id = %org,
            run.id = %run,
            results = stored.total,
            secs = started.elapsed().as_secs_f64(),
            storing_secs = storing.as_secs_f64(),
            "results stored"
        );
        Ok(IngestReport {
            run: self.run_view(org, run).await?,
            stored: stored.into(),
            duplicate: false,
            tool: meta.tool,
        })
    }
}

/// Which of a run's results to list: `outcome`, part of the name or suite (`q`), `sort`
/// (`failures` first, the default, or `duration`, slowest first), and the page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResultQuery {
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub sort: Option<String>,
    /// Exactly this suite (empty: the tests without one).
    #[serde(default)]
    pub suite: Option<String>,
    /// Exactly this error signature (hex, as results show it).
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Filters of a project's runs list, as people type them (every field optional; blank is
/// none).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunQuery {
    #[serde(default)]
    pub branch: Option<String>,
    /// `running`, `passed`, `failed` or `flaky`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub since: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub until: Option<String>,
    /// Part of the title or commit.
    #[serde(default)]
    pub q: Option<String>,
    /// `key=value` (the run's environment has that entry) or `value` (any entry has it).
    #[serde(default)]
    pub environment: Option<String>,
}

/// A `LIKE` pattern over a run's environment as stored (compact JSON of a sorted map), lowered:
/// `key=value` matches that entry, a bare `value` any entry with that value.
fn environment_pattern(wanted: &str) -> String {
    // Case-insensitive on both databases (SQLite's LIKE already is, for ASCII).
    let json = |s: &str| serde_json::to_string(&s.trim().to_lowercase()).unwrap_or_default();
    let esc = testvault_store::like_escape;
    match wanted.split_once('=') {
        Some((k, v)) => format!("%{}:{}%", esc(&json(k)), esc(&json(v))),
        None => format!("%:{}%", esc(&json(wanted))),
    }
}

impl RunQuery {
    fn filter(&self) -> Result<testvault_store::RunFilter, CoreError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let date = |field: &'static str, v: &Option<String>| -> Result<Option<i64>, CoreError> {
            given(v)
                .map(|d| {
                    time::parse_date(&d)
                        .ok_or_else(|| DomainError::new(field, "must be a date: YYYY-MM-DD").into())
                })
                .transpose()
        };
        let status = given(&self.status)
            .map(|s| {
                testvault_store::RunStatus::parse(&s).ok_or_else(|| {
                    CoreError::from(DomainError::new(
                        "status",
                        "must be running, passed, failed or flaky",
                    ))
                })
            })
            .transpose()?;
        for (field, v) in [
            ("branch", &self.branch),
            ("tag", &self.tag),
            ("q", &self.q),
            ("environment", &self.environment),
        ] {
            if given(v).is_some_and(|s| s.chars().count() > 200) {
                return Err(DomainError::new(field, "must be at most 200 characters").into());
            }
        }
        Ok(testvault_store::RunFilter {
            branch: given(&self.branch),
            status,
            tag: given(&self.tag),
            since: date("since", &self.since)?,
            until: date("until", &self.until)?.map(|t| t + 86_400),
            text: given(&self.q),
            environment: given(&self.environment).map(|e| environment_pattern(&e)),
        })
    }
}

/// Where an upload goes.
pub enum IngestTarget {
    Run(RunId),
    /// Create a run (and finish it with this upload).
    NewRun(RunSpec),
}

type OpenSource =
    Box<dyn FnOnce() -> Result<Box<dyn ResultSource + Send>, IngestError> + Send + 'static>;

/// The parsing thread: open the report, turn results into sealed rows, send them in batches.
/// Stops early when the receiver is gone (the store failed).
/// Parses into rows sent in batches; returns the report's facts and the case ids its results
/// named in their properties.
fn parse_into(
    open: OpenSource,
    mut maker: RowMaker,
    send: tokio::sync::mpsc::Sender<Vec<ResultRow>>,
) -> Result<(testvault_ingest::ReportMeta, Vec<(i64, String)>), CoreError> {
    let mut source = open().map_err(refused)?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(r) = source.next_result().map_err(refused)? {
        batch.push(maker.row(r)?);
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if send.blocking_send(full).is_err() {
                return Err(CoreError::internal("the store stopped"));
            }
        }
    }
    if !batch.is_empty() && send.blocking_send(batch).is_err() {
        return Err(CoreError::internal("the store stopped"));
    }
    Ok((source.meta().clone(), maker.case_ids))
}

/// Results already parsed (the JSON batch API).
struct VecSource {
    results: std::vec::IntoIter<TestResult>,
    meta: testvault_ingest::ReportMeta,
}

impl ResultSource for VecSource {
    fn next_result(&mut self) -> Result<Option<TestResult>, IngestError> {
        Ok(self.results.next())
    }
    fn meta(&self) -> &testvault_ingest::ReportMeta {
        &self.meta
    }
}

pub(crate) fn new_run<'a>(
    org: OrgId,
    project: ProjectId,
    id: RunId,
    v: &'a ValidRun,
    by: &'a str,
) -> NewRun<'a> {
    NewRun {
        id,
        org,
        project,
        title: &v.title,
        branch: v.branch.as_deref(),
        commit: v.commit.as_deref(),
        build_url: v.build_url.as_deref(),
        build_name: v.build_name.as_deref(),
        environment: &v.environment,
        tags: &v.tags,
        shards_expected: v.shards,
        created_by: by,
        now: time::now(),
    }
}

pub(crate) fn actor_label(p: &Principal) -> String {
    match &p.credential {
        crate::Credential::Session(_) => p.email.clone(),
        crate::Credential::PersonalToken { prefix, .. }
        | crate::Credential::ProjectToken { prefix, .. } => {
            format!("tvt_{prefix}")
        }
    }
}
