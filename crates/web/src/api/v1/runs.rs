//! Runs of a project: create, list, read, report results into (JSON batches or report files,
//! streamed), finish; and the one-shot upload that does all of it in one request.

use super::csv::csv_response;
use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use testvault_core::{
    CoreError, IngestReport, IngestTarget, Principal, ResultQuery, RunQuery, RunSpec, Upload,
};
use testvault_domain::{Permission, RunId};
use testvault_ingest::{Attempt, Outcome, TestIdentity, TestResult};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Results in one JSON batch.
const MAX_BATCH: usize = 10_000;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    // The filters (`RunQuery`), spelled out: `serde(flatten)` loses the numbers above in a
    // query string.
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

impl ListQuery {
    fn filters(&self) -> RunQuery {
        RunQuery {
            branch: self.branch.clone(),
            status: self.status.clone(),
            tag: self.tag.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            q: self.q.clone(),
            environment: self.environment.clone(),
        }
    }
}

pub async fn create_run(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(spec): ApiJson<RunSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ReportResults)?;
    let run = state.core.create_run(allowed, &slug, spec).await?;
    Ok((StatusCode::CREATED, data(run)))
}

pub async fn list_runs(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let runs = state
        .core
        .list_runs(
            allowed,
            &slug,
            &q.filters(),
            q.before,
            q.limit.unwrap_or(50),
        )
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(runs).into_response());
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let c = &r.counts;
            vec![
                r.number.to_string(),
                r.title.clone(),
                r.branch.clone().unwrap_or_default(),
                r.commit.clone().unwrap_or_default(),
                r.status.to_string(),
                c.total.to_string(),
                c.passed.to_string(),
                c.failed.to_string(),
                c.errored.to_string(),
                c.skipped.to_string(),
                c.flaky.to_string(),
                c.duration_ms.to_string(),
                testvault_domain::time::format_utc(r.created_at),
                r.build_url.clone().unwrap_or_default(),
            ]
        })
        .collect();
    Ok(csv_response(
        "testvault-runs.csv",
        "number,title,branch,commit,status,total,passed,failed,errored,skipped,flaky,duration_ms,created_at,build_url",
        &rows,
    ))
}

pub async fn get_run(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(state.core.get_run(allowed, &slug, run).await?))
}

pub async fn list_results(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<ResultsQuery>,
) -> Result<Response, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    let results = state
        .core
        .run_results(allowed, &slug, run, &q.query())
        .await?;
    if q.format.as_deref() != Some("csv") {
        return Ok(data(results).into_response());
    }
    let rows: Vec<Vec<String>> = results
        .into_iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.test_id.to_string(),
                r.suite,
                r.name,
                r.parameters,
                r.outcome.to_string(),
                r.flaky.to_string(),
                r.tries.to_string(),
                r.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
                r.signature.unwrap_or_default(),
                r.details.message.unwrap_or_default(),
            ]
        })
        .collect();
    Ok(csv_response(
        "testvault-results.csv",
        "id,test_id,suite,name,parameters,outcome,flaky,tries,duration_ms,signature,message",
        &rows,
    ))
}

/// The results list's query: its filters and page (`ResultQuery`, spelled out: `serde(flatten)`
/// loses numbers in a query string) and the export format.
#[derive(Deserialize)]
pub struct ResultsQuery {
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    suite: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    /// `csv` for a spreadsheet; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

impl ResultsQuery {
    fn query(&self) -> ResultQuery {
        ResultQuery {
            outcome: self.outcome.clone(),
            q: self.q.clone(),
            sort: self.sort.clone(),
            suite: self.suite.clone(),
            signature: self.signature.clone(),
            offset: self.offset,
            limit: self.limit,
        }
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<i64>,
}

/// Failed results whose failure text contains every word of `q`.
pub async fn search_results(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(
        state
            .core
            .search_failures(allowed, &slug, &q.q, q.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FinishBody {
    #[serde(default)]
    shard: Option<String>,
}

pub async fn finish_run(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    ApiJson(body): ApiJson<FinishBody>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReportResults)?;
    Ok(data(
        state
            .core
            .finish_run(allowed, &slug, run, body.shard.as_deref())
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: Option<String>,
}

/// Appends to a run: a JSON batch (`Content-Type: application/json`, `{"results": [...]}`) or a
/// report file in any supported format (anything else; gzip or zstd welcome), streamed.
pub async fn append_results(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
    Query(q): Query<FormatQuery>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReportResults)?;
    let key = idempotency_key(req.headers());
    if is_json(req.headers()) {
        let ApiJson(batch) = ApiJson::<ResultBatch>::from_large(req, &state).await?;
        let results = batch.into_results()?;
        let report = state
            .core
            .append_results(allowed, &slug, IngestTarget::Run(run), key, results)
            .await?;
        return Ok(answer(report));
    }
    ingest_file(
        &state,
        &p,
        &slug,
        IngestTarget::Run(run),
        q.format,
        key,
        req,
    )
    .await
}

/// Query of the one-shot upload: the run's facts travel in the URL, the report is the body.
#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    build_url: Option<String>,
    #[serde(default)]
    build_name: Option<String>,
    /// Comma-separated.
    #[serde(default)]
    tags: Option<String>,
}

/// Creates a run from one report file, stores it and finishes the run — or, refused, leaves
/// no run behind.
pub async fn upload_report(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    p.allow(Permission::ReportResults)?;
    let spec = RunSpec {
        title: q.title,
        branch: q.branch,
        commit: q.commit,
        build_url: q.build_url,
        build_name: q.build_name,
        environment: BTreeMap::new(),
        tags: q
            .tags
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        shards: None,
    };
    let key = idempotency_key(req.headers());
    ingest_file(
        &state,
        &p,
        &slug,
        IngestTarget::NewRun(spec),
        q.format,
        key,
        req,
    )
    .await
}

async fn ingest_file(
    state: &AppState,
    p: &Principal,
    slug: &str,
    target: IngestTarget,
    format: Option<String>,
    key: Option<String>,
    req: Request,
) -> Result<(StatusCode, axum::Json<super::Data<IngestReport>>), ApiError> {
    let allowed = p.allow(Permission::ReportResults)?;
    let limit = state.settings.upload_limit_bytes;
    // An Allure results directory may come as a form of its files.
    let form_boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(testvault_ingest::multipart::boundary);
    let (body, too_large) = crate::upload::stream(req.into_body(), limit);
    let upload = Upload {
        body: Box::new(body),
        format,
        form_boundary,
        idempotency_key: key,
    };
    match state
        .core
        .ingest_report(allowed, slug, target, upload)
        .await
    {
        Ok(report) => Ok(answer(report)),
        Err(_) if too_large.is_set() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the upload is larger than {limit} bytes; nothing was stored"),
        )),
        Err(e) => Err(e.into()),
    }
}

fn answer(report: IngestReport) -> (StatusCode, axum::Json<super::Data<IngestReport>>) {
    let status = if report.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, data(report))
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// A JSON batch of results.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBatch {
    results: Vec<ResultIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultIn {
    /// Outermost first.
    #[serde(default)]
    suite: Vec<String>,
    name: String,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
    outcome: Outcome,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    attempts: Vec<AttemptIn>,
    #[serde(default)]
    flaky: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttemptIn {
    outcome: Outcome,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    trace: Option<String>,
}

impl ResultBatch {
    fn into_results(self) -> Result<Vec<TestResult>, ApiError> {
        if self.results.len() > MAX_BATCH {
            return Err(CoreError::from(testvault_domain::DomainError::new(
                "results",
                format!("at most {MAX_BATCH} results per batch; send several batches"),
            ))
            .into());
        }
        self.results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                if r.name.trim().is_empty() || r.name.len() > 1000 {
                    return Err(CoreError::from(testvault_domain::DomainError::new(
                        "results",
                        format!("results[{i}].name must be 1–1000 characters"),
                    ))
                    .into());
                }
                let identity = TestIdentity::new(r.suite, r.name, r.parameters);
                let mut t = TestResult::new(identity, r.outcome);
                t.duration_ms = r.duration_ms;
                t.message = r.message;
                t.trace = r.trace;
                t.stdout = r.stdout;
                t.stderr = r.stderr;
                t.file = r.file;
                t.line = r.line;
                t.labels = r.labels.into_iter().collect();
                t.marked_flaky = r.flaky;
                t.attempts = r
                    .attempts
                    .into_iter()
                    .map(|a| Attempt {
                        outcome: a.outcome,
                        duration_ms: a.duration_ms,
                        message: a.message,
                        trace: a.trace,
                    })
                    .collect();
                Ok(t)
            })
            .collect()
    }
}

/// Files reporters attached to the run's results.
pub async fn list_run_files(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    Ok(data(state.core.run_files(allowed, &slug, run, None).await?))
}

/// One of them, always as a download (an image may be shown inline with `?inline=1`).
pub async fn get_run_file(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, run, file)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let run: RunId = parse_id(&run, "run")?;
    let file: uuid::Uuid = parse_id(&file, "file")?;
    let allowed = p.allow(Permission::ReadProjects)?;
    let (view, bytes) = state.core.run_file(allowed, &slug, run, file).await?;
    Ok(crate::attachment::file_response(
        &view,
        bytes,
        q.contains_key("inline"),
    ))
}
