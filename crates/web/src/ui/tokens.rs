//! The API tokens page: the caller's tokens (everyone's with `ManageTokens`), create, revoke.

use super::PageCsrf;
use super::members::{EmptyForm, finish};
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use testvault_core::{CoreError, IssuedToken, Principal, TokenForm, TokenRequest};
use testvault_domain::{Permission, Scopes, TokenName};

pub struct TokenItem {
    prefix: String,
    name: String,
    owner: String,
    scopes: String,
    last_used: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenItem>,
    projects: Vec<String>,
    can_manage: bool,
    max_days: i64,
    issued: Option<IssuedToken>,
    error: Option<String>,
    form_name: String,
}

async fn page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    issued: Option<IssuedToken>,
    error: Option<String>,
    form_name: String,
) -> Response {
    let loaded = async {
        let tokens = state.core.list_tokens(p).await?;
        let projects = match p.allow(Permission::ManageTokens) {
            Ok(_) => {
                state
                    .core
                    .list_projects(p.allow(Permission::ReadProjects)?)
                    .await?
            }
            Err(_) => Vec::new(),
        };
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((tokens, projects, orgs))
    }
    .await;
    let (tokens, projects, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    render(
        pages::status_for(&error),
        &TokensPage {
            chrome: Chrome::app("API tokens", "tokens", csrf, p, orgs),
            tokens: tokens
                .into_iter()
                .map(|t| TokenItem {
                    owner: match (&t.project, &t.user_email) {
                        (Some(project), _) => format!("project {project}"),
                        (None, Some(email)) => email.clone(),
                        (None, None) => "—".into(),
                    },
                    last_used: match (t.last_used_at, &t.last_used_ip) {
                        (Some(at), Some(ip)) => format!("{} from {ip}", when(at)),
                        (Some(at), None) => when(at),
                        (None, _) => "never".into(),
                    },
                    expires: when(t.expires_at),
                    prefix: t.prefix,
                    name: t.name,
                    scopes: t.scopes,
                })
                .collect(),
            projects: projects.into_iter().map(|p| p.slug).collect(),
            can_manage: p.can(Permission::ManageTokens),
            max_days: state.core.settings().token_max_days,
            issued,
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
    page(&state, &p, &csrf, None, None, String::new()).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    scope_read: Option<String>,
    #[serde(default)]
    scope_results_write: Option<String>,
    #[serde(default)]
    scope_cases_write: Option<String>,
    #[serde(default)]
    scope_admin: Option<String>,
    /// `testomatio` for a `tstmt_…` key.
    #[serde(default)]
    format: String,
    expires_in_days: String,
}

pub async fn create(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let result = async {
        let checked = [
            (form.scope_read.is_some(), "read"),
            (form.scope_results_write.is_some(), "results:write"),
            (form.scope_cases_write.is_some(), "cases:write"),
            (form.scope_admin.is_some(), "admin"),
        ];
        let days = form.expires_in_days.trim().parse().map_err(|_| {
            testvault_domain::DomainError::new("expires_in_days", "must be a whole number of days")
        })?;
        let req = TokenRequest {
            name: TokenName::parse(&form.name)?,
            scopes: Scopes::parse(checked.iter().filter(|(on, _)| *on).map(|(_, s)| *s))?,
            project: Some(form.project.trim().to_string()).filter(|s| !s.is_empty()),
            expires_in_days: Some(days),
            form: TokenForm::parse(form.format.trim())?,
        };
        state.core.create_token(&p, req).await
    }
    .await;
    match result {
        Ok(issued) => page(&state, &p, &csrf, Some(issued), None, String::new()).await,
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => page(&state, &p, &csrf, None, Some(form_error(e)), form.name).await,
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    finish(
        state.core.revoke_token(&p, &prefix).await,
        &headers,
        "/tokens",
    )
}
