//! Other tools' reporter protocols, so a team's existing CI reporters report into Testvault
//! unchanged: Testomat.io's (`/api/reporter`, `/api/load`, …) and ReportPortal's
//! (`/api/v1/{project}/launch`, …). Each reads the key where its clients put it, calls one core
//! use case, and answers in the shape (and with the error body) its clients read.

pub mod reportportal;
pub mod testomatio;

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use testvault_core::{CoreError, Principal};

/// The reporter protocols' routes (outside `/api/v1`, where their clients look for them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/reporter", post(testomatio::start_run))
        .route(
            "/api/reporter/{uid}",
            axum::routing::put(testomatio::update_run),
        )
        .route(
            "/api/reporter/{uid}/testrun",
            post(testomatio::report_tests),
        )
        .route("/api/test_grep", get(testomatio::grep_tests))
        .route("/api/load", post(testomatio::load_tests))
        .route("/api/test_data", get(testomatio::test_data))
        .route("/api/v2/{project}/runs", get(testomatio::list_runs))
        .route("/api/info", get(reportportal::info))
        .merge(reportportal_routes("/api/v1"))
        .merge(reportportal_routes("/api/v2"))
}

/// ReportPortal's paths under one API version (v1 and v2 take the same bodies here).
fn reportportal_routes(version: &str) -> Router<AppState> {
    use axum::routing::put;
    let at = |path: &str| format!("{version}/{{project}}{path}");
    Router::new()
        .route(
            &at("/launch"),
            post(reportportal::start_launch).get(reportportal::list_launches),
        )
        .route(&at("/launch/{launch}"), get(reportportal::get_launch))
        .route(&at("/launch/uuid/{launch}"), get(reportportal::get_launch))
        .route(
            &at("/launch/{launch}/finish"),
            put(reportportal::finish_launch),
        )
        .route(
            &at("/launch/{launch}/stop"),
            put(reportportal::finish_launch),
        )
        .route(
            &at("/launch/{launch}/update"),
            put(reportportal::update_launch),
        )
        .route(&at("/item"), post(reportportal::start_root_item))
        .route(&at("/item/"), post(reportportal::start_root_item))
        .route(
            &at("/item/{item}"),
            post(reportportal::start_child_item).put(reportportal::finish_item),
        )
        .route(&at("/log"), post(reportportal::create_log))
}

/// Whose error body a failure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `{"message": …}`; a bad key is 403 (the client then stops reporting and says why).
    Testomatio,
    /// `{"errorCode": …, "message": …}`; a bad key is 401.
    ReportPortal,
}

/// A refusal in a reporter's dialect.
#[derive(Debug)]
pub struct CompatError {
    pub api: ApiError,
    pub dialect: Dialect,
}

impl CompatError {
    pub fn testomatio(e: impl Into<ApiError>) -> Self {
        Self {
            api: e.into(),
            dialect: Dialect::Testomatio,
        }
    }

    pub fn reportportal(e: impl Into<ApiError>) -> Self {
        Self {
            api: e.into(),
            dialect: Dialect::ReportPortal,
        }
    }
}

impl IntoResponse for CompatError {
    fn into_response(self) -> Response {
        let ApiError {
            mut status,
            code,
            message,
            field,
            retry_after,
        } = self.api;
        let message = match field {
            Some(f) if !message.starts_with(&f) => format!("{f}: {message}"),
            _ => message,
        };
        let body = match self.dialect {
            Dialect::Testomatio => {
                if status == StatusCode::UNAUTHORIZED {
                    status = StatusCode::FORBIDDEN;
                }
                serde_json::json!({ "message": message, "code": code })
            }
            Dialect::ReportPortal => {
                // ReportPortal's codes: 4xxxx by kind; the clients print the message.
                let error_code = match status {
                    StatusCode::UNAUTHORIZED => 40102,
                    StatusCode::FORBIDDEN => 4003,
                    StatusCode::NOT_FOUND => 4041,
                    StatusCode::CONFLICT => 4091,
                    _ if status.is_client_error() => 4001,
                    _ => 5000,
                };
                serde_json::json!({ "errorCode": error_code, "message": message })
            }
        };
        let mut resp = (status, Json(body)).into_response();
        if code == "forbidden" {
            resp.extensions_mut()
                .insert(crate::denials::PermissionDenied);
        }
        if let Some(secs) = retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// A reporter's request: who sent it, its JSON body (without the key) and its query.
pub struct Call {
    pub principal: Principal,
    pub body: Value,
    pub query: Vec<(String, String)>,
    /// The parts of a `multipart/form-data` body (then `body` is null).
    pub form: Vec<testvault_ingest::multipart::Part>,
}

impl Call {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

const KEY: &str = "api_key";

/// Only the key of a JSON body: read without building the rest (no allocation per value), so a
/// large body costs nothing before its key is checked.
#[derive(serde::Deserialize)]
struct KeyOnly {
    #[serde(default)]
    api_key: Option<String>,
}

/// Reads a reporter's request and authenticates its key, wherever the client put it: the
/// `Authorization: Bearer` header or the `api_key` query parameter (checked before the body is
/// read), or `api_key` in the JSON body (found without building the body, which is parsed only
/// once the key is good). The key is taken out of the body so nothing downstream sees it.
pub async fn call(state: &AppState, req: Request, limit: usize) -> Result<Call, ApiError> {
    let (mut parts, body) = req.into_parts();
    let Ok(client) = crate::client::ClientInfo::from_request_parts(&mut parts, state).await;
    let query: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "the query string is not valid",
            )
        })?;
    let from_header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_string);
    let from_query = query.iter().find(|(k, _)| k == KEY).map(|(_, v)| v.clone());
    let mut principal = match from_header.or(from_query).filter(|k| !k.trim().is_empty()) {
        Some(key) => Some(state.core.authenticate_token(key.trim(), &client).await?),
        None => None,
    };
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(testvault_ingest::multipart::boundary);
    let bytes = crate::extract::body_bytes_within(Request::new(body), limit).await?;
    let json = boundary.is_none() && !bytes.iter().all(u8::is_ascii_whitespace);
    if principal.is_none() {
        let key = if json {
            serde_json::from_slice::<KeyOnly>(&bytes)
                .ok()
                .and_then(|k| k.api_key)
        } else {
            None
        };
        let key = key
            .filter(|k| !k.trim().is_empty())
            .ok_or(CoreError::Unauthenticated(
                "no API key: send a Testvault project token as the reporter's key",
            ))?;
        principal = Some(state.core.authenticate_token(key.trim(), &client).await?);
    }
    let principal = principal.ok_or(CoreError::Unauthenticated("no API key"))?;
    crate::extract::fill_slot(&parts, &principal);
    let mut form = Vec::new();
    let mut body: Value = if let Some(boundary) = &boundary {
        form = testvault_ingest::multipart::read_parts(
            &bytes,
            boundary,
            testvault_ingest::Limits::default(),
        )
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the form is not valid: {e}"),
            )
        })?;
        Value::Null
    } else if !json {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the body is not JSON: {e}"),
            )
        })?
    };
    if let Value::Object(map) = &mut body {
        map.remove(KEY);
    }
    let query = query.into_iter().filter(|(k, _)| k != KEY).collect();
    Ok(Call {
        principal,
        body,
        query,
        form,
    })
}
