//! Projects of the caller's org.

use super::data;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use testvault_core::CoreError;
use testvault_domain::{Permission, ProjectDescription, ProjectName, ProjectSlug};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectBody {
    slug: String,
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn list_projects(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .list_projects(p.allow(Permission::ReadProjects)?)
            .await?,
    ))
}

pub async fn get_project(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .get_project(p.allow(Permission::ReadProjects)?, &slug)
            .await?,
    ))
}

pub async fn create_project(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<CreateProjectBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageProjects)?;
    let slug = ProjectSlug::parse(&body.slug).map_err(CoreError::from)?;
    let name = ProjectName::parse(&body.name).map_err(CoreError::from)?;
    let description = ProjectDescription::parse(&body.description).map_err(CoreError::from)?;
    let project = state
        .core
        .create_project(allowed, slug, name, description)
        .await?;
    Ok((StatusCode::CREATED, data(project)))
}
