//! API tokens: list, create (shown once), revoke.

use super::data;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::{CoreError, TokenForm, TokenRequest};
use testvault_domain::{Scopes, TokenName};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    expires_in_days: Option<i64>,
    /// `testomatio` for a `tstmt_…` project key that Testomat.io's reporters accept.
    #[serde(default)]
    format: Option<String>,
}

pub async fn list_tokens(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(state.core.list_tokens(&p).await?))
}

pub async fn create_token(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> Result<impl IntoResponse, ApiError> {
    let req = TokenRequest {
        name: TokenName::parse(&body.name).map_err(CoreError::from)?,
        scopes: Scopes::parse(body.scopes.iter().map(String::as_str)).map_err(CoreError::from)?,
        project: body.project,
        expires_in_days: body.expires_in_days,
        form: TokenForm::parse(body.format.as_deref().unwrap_or_default())
            .map_err(CoreError::from)?,
    };
    Ok((
        StatusCode::CREATED,
        data(state.core.create_token(&p, req).await?),
    ))
}

pub async fn delete_token(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(prefix): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state.core.revoke_token(&p, &prefix).await?;
    Ok(StatusCode::NO_CONTENT)
}
