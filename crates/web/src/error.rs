//! Turning errors into responses, once, at the edge. API errors are JSON
//! `{"error": {"code", "message", "field"?}}`; UI errors are pages. A 5xx never carries internals:
//! the cause is logged here and the client gets a generic message.

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use testvault_core::CoreError;

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// An error on its way to a client, with its status decided.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(d) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", d.message)
                    .with_field(d.field)
            }
            CoreError::Unauthenticated(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m)
            }
            e @ CoreError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            e @ CoreError::NetworkNotAllowed => {
                ApiError::new(StatusCode::FORBIDDEN, "network_not_allowed", e.to_string())
            }
            e @ CoreError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            e @ CoreError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            CoreError::Gone(m) => ApiError::new(StatusCode::GONE, "gone", m),
            CoreError::Refused(m) => ApiError::new(StatusCode::CONFLICT, "refused", m),
            CoreError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m)
            }
            e @ CoreError::SecondFactorRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                e.to_string(),
            ),
            e @ CoreError::EnrolmentRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "second_factor_enrolment_required",
                e.to_string(),
            ),
            e @ CoreError::SsoRequired => {
                ApiError::new(StatusCode::FORBIDDEN, "sso_required", e.to_string())
            }
            e @ CoreError::Federation(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "sso_failed", e.to_string())
            }
            CoreError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            e @ CoreError::Throttled { retry_after_secs } => {
                let mut err =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string());
                err.retry_after = Some(retry_after_secs.max(1));
                err
            }
            CoreError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                internal()
            }
        }
    }
}

/// The only body a 5xx ever has.
pub fn internal() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; it has been logged",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let denied = self.code == "forbidden";
        let mut resp = (self.status, Json(body)).into_response();
        if denied {
            resp.extensions_mut()
                .insert(crate::denials::PermissionDenied);
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// 404 for any unknown route: JSON under `/api`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {}", uri.path()),
        )
        .into_response()
    } else {
        crate::ui::pages::not_found_page()
    }
}

pub async fn method_not_allowed(uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this method is not allowed on {}", uri.path()),
    )
    .into_response()
}
