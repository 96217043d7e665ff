//! Custom roles, the permission catalogue, members' org roles and project grants.

use super::{data, parse_id};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiAuth, ApiJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use testvault_core::{CoreError, RoleChoice};
use testvault_domain::{Permission, PermissionSet, Role, RoleId, UserId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    name: String,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A built-in role (`viewer`…`owner`, or `1`…`5`); for members also a custom role's id.
    role: String,
}

fn permissions(body: &RoleBody) -> Result<PermissionSet, ApiError> {
    PermissionSet::parse(body.permissions.iter().map(String::as_str))
        .map_err(|e| CoreError::from(e).into())
}

#[derive(Serialize)]
struct PermissionInfo {
    name: Permission,
    description: &'static str,
    project_scoped: bool,
    /// The lowest built-in role that holds it.
    lowest_builtin_role: Role,
}

#[derive(Serialize)]
struct BuiltinRole {
    name: Role,
    level: i16,
    permissions: PermissionSet,
}

#[derive(Serialize)]
struct Catalogue {
    permissions: Vec<PermissionInfo>,
    builtin_roles: Vec<BuiltinRole>,
}

/// What each permission means and what each built-in level holds (any signed-in principal).
pub async fn get_permissions(ApiAuth(_p): ApiAuth) -> impl IntoResponse {
    data(Catalogue {
        permissions: Permission::ALL
            .into_iter()
            .map(|p| PermissionInfo {
                name: p,
                description: p.describe(),
                project_scoped: p.is_project_scoped(),
                lowest_builtin_role: Role::lowest_holding(p),
            })
            .collect(),
        builtin_roles: Role::ALL
            .into_iter()
            .map(|r| BuiltinRole {
                name: r,
                level: r.level(),
                permissions: r.permissions(),
            })
            .collect(),
    })
}

pub async fn list_roles(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p
        .allow(Permission::ManageRoles)
        .or_else(|_| p.allow(Permission::ManageMembers))?;
    Ok(data(state.core.roles(allowed).await?))
}

pub async fn create_role(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = p.allow(Permission::ManageRoles)?;
    let perms = permissions(&body)?;
    let role = state.core.create_role(allowed, &body.name, perms).await?;
    Ok((StatusCode::CREATED, data(role)))
}

pub async fn update_role(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id: RoleId = parse_id(&id, "role")?;
    let allowed = p.allow(Permission::ManageRoles)?;
    let perms = permissions(&body)?;
    Ok(data(
        state
            .core
            .update_role(allowed, id, &body.name, perms)
            .await?,
    ))
}

pub async fn delete_role(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: RoleId = parse_id(&id, "role")?;
    state
        .core
        .delete_role(p.allow(Permission::ManageRoles)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn update_member_role(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user: UserId = parse_id(&user, "member")?;
    let allowed = p.allow(Permission::ManageMembers)?;
    let choice = RoleChoice::parse(&body.role).map_err(CoreError::from)?;
    Ok(data(
        state.core.set_member_role(allowed, user, choice).await?,
    ))
}

pub async fn list_project_access(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(data(
        state
            .core
            .project_access(p.allow(Permission::ManageProjectMembers)?, &slug)
            .await?,
    ))
}

pub async fn put_project_access(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user: UserId = parse_id(&user, "member")?;
    let allowed = p.allow(Permission::ManageProjectMembers)?;
    let role = Role::parse(&body.role).map_err(CoreError::from)?;
    state.core.grant_project(allowed, &slug, user, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_project_access(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    Path((slug, user)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let user: UserId = parse_id(&user, "member")?;
    state
        .core
        .revoke_project(p.allow(Permission::ManageProjectMembers)?, &slug, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
