//! Projects list (with the create form) and the project page shell.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::{CoreError, Principal, ProjectView};
use testvault_domain::{Permission, ProjectDescription, ProjectName, ProjectSlug};

pub struct ProjectItem {
    slug: String,
    name: String,
    description: String,
    created: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    chrome: Chrome,
    org_name: String,
    projects: Vec<ProjectItem>,
    can_create: bool,
    error: Option<String>,
    form_name: String,
    form_slug: String,
    form_description: String,
}

#[derive(Default, Deserialize)]
pub struct CreateForm {
    name: String,
    slug: String,
    #[serde(default)]
    description: String,
}

async fn projects_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    form: CreateForm,
    error: Option<String>,
) -> Response {
    let projects = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.list_projects(allowed).await,
        Err(e) => Err(e),
    };
    let orgs = state.core.my_orgs(p).await;
    match (projects, orgs) {
        (Ok(projects), Ok(orgs)) => render(
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &ProjectsPage {
                chrome: Chrome::app("Projects", "projects", csrf, p, orgs),
                org_name: p.org_name.clone(),
                projects: projects
                    .into_iter()
                    .map(|v: ProjectView| ProjectItem {
                        created: when(v.created_at),
                        slug: v.slug,
                        name: v.name,
                        description: v.description,
                    })
                    .collect(),
                can_create: p.can(Permission::ManageProjects),
                error,
                form_name: form.name,
                form_slug: form.slug,
                form_description: form.description,
            },
        ),
        (Err(e), _) | (_, Err(e)) => pages::error_page(e.into()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    projects_page(&state, &p, &csrf, CreateForm::default(), None).await
}

pub async fn create(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageProjects)?;
        let slug = ProjectSlug::parse(&form.slug)?;
        let name = ProjectName::parse(&form.name)?;
        let description = ProjectDescription::parse(&form.description)?;
        state
            .core
            .create_project(allowed, slug, name, description)
            .await
    }
    .await;
    match result {
        Ok(project) => Redirect::to(&format!("/projects/{}", project.slug)).into_response(),
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => projects_page(&state, &p, &csrf, form, Some(form_error(e))).await,
    }
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    chrome: Chrome,
    project: ProjectView,
    created: String,
}

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(slug): Path<String>,
) -> Response {
    let project = match p.allow(Permission::ReadProjects) {
        Ok(allowed) => state.core.get_project(allowed, &slug).await,
        Err(e) => Err(e),
    };
    match (project, state.core.my_orgs(&p).await) {
        (Ok(project), Ok(orgs)) => render(
            StatusCode::OK,
            &ProjectPage {
                chrome: Chrome::app(&project.name, "projects", &csrf, &p, orgs),
                created: when(project.created_at),
                project,
            },
        ),
        (Err(e), _) | (_, Err(e)) => pages::error_page(e.into()),
    }
}
