//! The test repository: suites, cases, their versions, custom fields, import and export, and
//! the links between cases and automated tests.

use super::csv::download;
use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use testvault_core::cases::{BulkEdit, CasePatch, CaseQuery, FieldSpec, source::ImportRequest};
use testvault_domain::Permission;
use uuid::Uuid;

fn suite_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_id(raw, "suite")
}

pub async fn list_suites(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .suite_tree(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct SuiteBody {
    #[serde(default)]
    name: Option<String>,
    /// A suite id, or empty/null for the top level.
    #[serde(default)]
    parent: Option<String>,
    /// 1-based place among the new siblings (moves only).
    #[serde(default)]
    position: Option<i64>,
}

fn parent(raw: &Option<String>) -> Result<Option<Uuid>, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) => suite_id(id).map(Some),
    }
}

/// `{"name", "parent"?}`
pub async fn create_suite(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<SuiteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::WriteCases)?;
    let node = state
        .core
        .create_suite(
            allowed,
            &slug,
            parent(&body.parent)?,
            body.name.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok((StatusCode::CREATED, data(node)))
}

/// `{"name"?}` renames; `{"parent", "position"?}` moves (both may come together).
pub async fn update_suite(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, suite)): Path<(String, String)>,
    ApiJson(body): ApiJson<SuiteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let suite = suite_id(&suite)?;
    if let Some(name) = &body.name {
        state
            .core
            .rename_suite(p.allow(Permission::WriteCases)?, &slug, suite, name)
            .await?;
    }
    if body.parent.is_some() || body.position.is_some() {
        state
            .core
            .move_suite(
                p.allow(Permission::WriteCases)?,
                &slug,
                suite,
                parent(&body.parent)?,
                body.position.unwrap_or(0),
            )
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_suite(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, suite)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let suite = suite_id(&suite)?;
    state
        .core
        .delete_suite(p.allow(Permission::WriteCases)?, &slug, suite)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    suite: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    tags: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    removed: Option<bool>,
    #[serde(default)]
    limit: Option<i64>,
    /// `csv` or `markdown` for an export file; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

impl ListQuery {
    fn case_query(&self) -> CaseQuery {
        CaseQuery {
            suite: self.suite.clone(),
            q: self.q.clone(),
            tags: self.tags.clone(),
            priority: self.priority.clone(),
            kind: self.kind.clone(),
            status: self.status.clone(),
            owner: self.owner.clone(),
            field: self.field.clone(),
            value: self.value.clone(),
            removed: self.removed,
            limit: self.limit,
        }
    }
}

/// The cases a filter selects; `format=csv|markdown` exports them as a file.
pub async fn list_cases(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let allowed = p.allow(Permission::ReadProjects)?;
    let query = q.case_query();
    Ok(match q.format.as_deref() {
        Some("csv") => download(
            state
                .core
                .export_cases(allowed, &slug, &query, false)
                .await?,
            "text/csv; charset=utf-8",
            "testvault-cases.csv",
        ),
        Some("markdown") => download(
            state
                .core
                .export_cases(allowed, &slug, &query, true)
                .await?,
            "text/markdown; charset=utf-8",
            "testvault-cases.md",
        ),
        _ => data(state.core.list_cases(allowed, &slug, &query).await?).into_response(),
    })
}

pub async fn create_case(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CasePatch>,
) -> Result<impl IntoResponse, ApiError> {
    let case = state
        .core
        .create_case(p.allow(Permission::WriteCases)?, &slug, body)
        .await?;
    Ok((StatusCode::CREATED, data(case)))
}

pub async fn get_case(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .get_case(p.allow(Permission::ReadProjects)?, &slug, &key)
            .await?,
    ))
}

/// Changes what the body names; `version` (the one the edit started from) guards against
/// overwriting someone else's edit (410 when the case moved on).
pub async fn update_case(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<CasePatch>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .update_case(p.allow(Permission::WriteCases)?, &slug, &key, body)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct PlaceBody {
    /// A suite id; empty for outside any suite.
    #[serde(default)]
    suite: String,
    /// 1-based; 0 or none: last.
    #[serde(default)]
    position: i64,
}

/// Moves a case to a suite and a place in its order.
pub async fn place_case(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<PlaceBody>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .place_case(
            p.allow(Permission::WriteCases)?,
            &slug,
            &key,
            &body.suite,
            body.position,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"keys": ["T1a2b3c4d", …], "add_tags"?, "remove_tags"?, "priority"?, "status"?, "kind"?,
/// "owner"?, "suite"?, "fields"?}`: one transaction, one new version per changed case.
pub async fn bulk_edit(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<BulkEdit>,
) -> Result<impl IntoResponse, ApiError> {
    let changed = state
        .core
        .bulk_edit_cases(p.allow(Permission::WriteCases)?, &slug, body)
        .await?;
    Ok(data(serde_json::json!({ "changed": changed })))
}

pub async fn list_versions(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .case_versions(p.allow(Permission::ReadProjects)?, &slug, &key)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    /// Default: the version before `to`.
    #[serde(default)]
    from: Option<i64>,
    /// Default: the current version.
    #[serde(default)]
    to: Option<i64>,
}

pub async fn diff_versions(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .case_diff(
                p.allow(Permission::ReadProjects)?,
                &slug,
                &key,
                q.from,
                q.to,
            )
            .await?,
    ))
}

pub async fn restore_version(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key, version)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let version: i64 = parse_id(&version, "case version")?;
    Ok(data(
        state
            .core
            .restore_case_version(p.allow(Permission::WriteCases)?, &slug, &key, version)
            .await?,
    ))
}

pub async fn case_automation(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .case_automation(p.allow(Permission::ReadProjects)?, &slug, &key)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct LinkBody {
    test: i64,
}

/// Links an automated test to the case.
pub async fn link_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .core
        .link_test(p.allow(Permission::WriteCases)?, &slug, &key, body.test)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The case a test is linked to (`null` when none).
pub async fn test_case(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    Ok(data(
        state
            .core
            .case_for_test(p.allow(Permission::ReadProjects)?, &slug, test)
            .await?,
    ))
}

pub async fn unlink_test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, test)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let test: i64 = parse_id(&test, "test")?;
    state
        .core
        .unlink_test(p.allow(Permission::WriteCases)?, &slug, test)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct UnlinkedQuery {
    #[serde(default)]
    limit: Option<i64>,
}

/// Automated tests no case covers yet.
pub async fn unlinked_tests(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<UnlinkedQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let tests = state
        .core
        .unlinked_tests(
            p.allow(Permission::ReadProjects)?,
            &slug,
            q.limit.unwrap_or(500),
        )
        .await?;
    let rows: Vec<serde_json::Value> = tests
        .into_iter()
        .map(|t| serde_json::json!({ "id": t.id, "suite": t.suite, "name": t.name, "parameters": t.parameters, "file": t.file }))
        .collect();
    Ok(data(rows))
}

#[derive(Deserialize)]
pub struct FromTestsBody {
    tests: Vec<i64>,
}

/// Makes a linked case of each automated test named.
pub async fn cases_from_tests(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<FromTestsBody>,
) -> Result<impl IntoResponse, ApiError> {
    let keys = state
        .core
        .cases_from_tests(p.allow(Permission::WriteCases)?, &slug, &body.tests)
        .await?;
    Ok((
        StatusCode::CREATED,
        data(serde_json::json!({ "created": keys })),
    ))
}

#[derive(Deserialize)]
pub struct ImportQuery {
    /// `csv` (default) or `markdown`.
    #[serde(default)]
    format: Option<String>,
}

/// Imports a CSV or Markdown file (the body, as text): all cases or none.
pub async fn import_cases(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::WriteCases)?;
    let markdown =
        match q.format.as_deref() {
            None | Some("csv") => false,
            Some("markdown") | Some("md") => true,
            Some(_) => {
                return Err(testvault_core::CoreError::Invalid(
                    testvault_domain::DomainError::new("format", "must be csv or markdown"),
                )
                .into());
            }
        };
    let bytes = crate::extract::body_bytes_within(req, state.settings.batch_limit_bytes).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::from(testvault_core::CoreError::Invalid(
            testvault_domain::DomainError::new(
                "file",
                format!("is not UTF-8 text (byte {})", e.valid_up_to()),
            ),
        ))
    })?;
    let report = state
        .core
        .import_cases(allowed, &slug, text, markdown)
        .await?;
    Ok(data(report))
}

/// What `testvault import-tests` found in source code.
pub async fn import_tests(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::WriteCases)?;
    let ApiJson(body) = ApiJson::<ImportRequest>::from_large(req, &state).await?;
    Ok(data(state.core.import_tests(allowed, &slug, body).await?))
}

pub async fn list_fields(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .list_fields(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

/// `{"name", "kind": "text|number|select|multiselect|date|user|url", "options"?: [...]}`
pub async fn create_field(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<FieldSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let field = state
        .core
        .create_field(p.allow(Permission::WriteCases)?, &slug, body)
        .await?;
    Ok((StatusCode::CREATED, data(field)))
}

pub async fn update_field(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, field)): Path<(String, String)>,
    ApiJson(body): ApiJson<FieldSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let field: Uuid = parse_id(&field, "custom field")?;
    Ok(data(
        state
            .core
            .update_field(p.allow(Permission::WriteCases)?, &slug, field, body)
            .await?,
    ))
}

pub async fn delete_field(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, field)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let field: Uuid = parse_id(&field, "custom field")?;
    state
        .core
        .delete_field(p.allow(Permission::WriteCases)?, &slug, field)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_attachments(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .case_attachments(p.allow(Permission::ReadProjects)?, &slug, &key)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct AttachQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    step: Option<i64>,
}

/// The body is the file (any content type; the stored type comes from its bytes).
pub async fn add_attachment(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<AttachQuery>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::WriteCases)?;
    let bytes =
        crate::extract::body_bytes_within(req, testvault_core::cases::attachments::MAX_BYTES + 1)
            .await?;
    let view = state
        .core
        .add_attachment(
            allowed,
            &slug,
            &key,
            q.name.as_deref().unwrap_or("attachment"),
            q.step,
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, data(view)))
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    /// `true`: an image shown in place (other types are always downloads).
    #[serde(default)]
    inline: Option<bool>,
}

pub async fn get_attachment(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let id: Uuid = parse_id(&id, "attachment")?;
    let (view, bytes) = state
        .core
        .attachment(p.allow(Permission::ReadProjects)?, &slug, &key, id)
        .await?;
    Ok(crate::attachment::file_response(
        &view,
        bytes,
        q.inline.unwrap_or(false),
    ))
}

pub async fn delete_attachment(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, key, id)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = parse_id(&id, "attachment")?;
    state
        .core
        .delete_attachment(p.allow(Permission::WriteCases)?, &slug, &key, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_shared_steps(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .list_shared_steps(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

/// `{"title", "steps": [{action, expected}]}` → 201.
pub async fn create_shared_steps(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<testvault_core::cases::SharedStepsSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state
        .core
        .save_shared_steps(p.allow(Permission::WriteCases)?, &slug, None, body)
        .await?;
    Ok((StatusCode::CREATED, data(view)))
}

/// `{"title", "steps", "version"?}`: every case using them changes with them.
pub async fn update_shared_steps(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<testvault_core::cases::SharedStepsSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let id: Uuid = parse_id(&id, "shared steps")?;
    Ok(data(
        state
            .core
            .save_shared_steps(p.allow(Permission::WriteCases)?, &slug, Some(id), body)
            .await?,
    ))
}
