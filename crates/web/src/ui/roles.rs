//! The roles page: built-in levels at a glance, and the org's custom roles to create, edit and
//! delete. Permission checkboxes post as repeated `permissions` fields.

use super::PageCsrf;
use super::members::{EmptyForm, finish};
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use testvault_core::{CoreError, Principal, RoleView};
use testvault_domain::{Permission, PermissionSet, Role, RoleId};

pub struct PermissionRow {
    name: &'static str,
    description: &'static str,
    /// Which built-in levels hold it, lowest first (for the matrix).
    levels: Vec<bool>,
    /// The viewer may put it in a role.
    grantable: bool,
}

pub struct RoleItem {
    id: RoleId,
    name: String,
    members: i64,
    permissions: PermissionSet,
    editable: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    builtin: Vec<String>,
    permissions: Vec<PermissionRow>,
    roles: Vec<RoleItem>,
    error: Option<String>,
    form_name: String,
}

impl RoleItem {
    fn has(&self, name: &str) -> bool {
        self.permissions.iter().any(|p| p.name() == name)
    }
}

async fn roles_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    error: Option<String>,
    form_name: String,
) -> Response {
    let loaded = async {
        let roles = state.core.roles(p.allow(Permission::ManageRoles)?).await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((roles, orgs))
    }
    .await;
    let (roles, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let held = p.access.org;
    render(
        pages::status_for(&error),
        &RolesPage {
            chrome: Chrome::app("Roles", "roles", csrf, p, orgs),
            builtin: Role::ALL
                .into_iter()
                .map(|r| super::members::capitalise(r.name()))
                .collect(),
            permissions: Permission::ALL
                .into_iter()
                .map(|perm| PermissionRow {
                    name: perm.name(),
                    description: perm.describe(),
                    levels: Role::ALL.into_iter().map(|r| r.grants(perm)).collect(),
                    grantable: held.contains(perm),
                })
                .collect(),
            roles: roles
                .into_iter()
                .map(|r: RoleView| RoleItem {
                    editable: r.permissions.is_subset_of(held),
                    id: r.id,
                    name: r.name,
                    members: r.members,
                    permissions: r.permissions,
                })
                .collect(),
            error,
            form_name,
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    roles_page(&state, &p, &csrf, None, String::new()).await
}

/// The name and the checked permissions of a role form (repeated `permissions` fields, which
/// the struct-based form extractor cannot read).
fn role_form(pairs: Vec<(String, String)>) -> (String, Result<PermissionSet, CoreError>) {
    let mut name = String::new();
    let mut perms = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "name" => name = v,
            "permissions" => perms.push(v),
            _ => {}
        }
    }
    let set = PermissionSet::parse(perms.iter().map(String::as_str)).map_err(CoreError::from);
    (name, set)
}

pub async fn create(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let (name, perms) = role_form(pairs);
    let result = async {
        let allowed = p.allow(Permission::ManageRoles)?;
        state.core.create_role(allowed, &name, perms?).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/roles").into_response(),
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => roles_page(&state, &p, &csrf, Some(form_error(e)), name).await,
    }
}

pub async fn update(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let (name, perms) = role_form(pairs);
    let result = async {
        let id: RoleId = id.parse().map_err(|_| CoreError::NotFound("role"))?;
        let allowed = p.allow(Permission::ManageRoles)?;
        state.core.update_role(allowed, id, &name, perms?).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/roles").into_response(),
        Err(e @ (CoreError::Forbidden(_) | CoreError::NotFound(_))) => pages::error_page(e.into()),
        Err(e) => roles_page(&state, &p, &csrf, Some(form_error(e)), String::new()).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id: RoleId = id.parse().map_err(|_| CoreError::NotFound("role"))?;
        state
            .core
            .delete_role(p.allow(Permission::ManageRoles)?, id)
            .await
    }
    .await;
    finish(result, &headers, "/roles")
}
