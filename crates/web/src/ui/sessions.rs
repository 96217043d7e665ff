//! "Where am I signed in": the caller's sessions, and for owners everyone's.

use super::PageCsrf;
use super::members::{EmptyForm, finish};
use super::pages::{self, Chrome, device, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use testvault_core::{CoreError, SessionView};
use testvault_domain::Permission;
use uuid::Uuid;

pub struct SessionItem {
    id: Uuid,
    user_email: String,
    device: String,
    ip: String,
    created: String,
    last_seen: String,
    expires: String,
    current: bool,
}

impl From<SessionView> for SessionItem {
    fn from(s: SessionView) -> Self {
        Self {
            id: s.id,
            device: device(&s.user_agent),
            user_email: s.user_email,
            ip: s.ip,
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            expires: when(s.expires_at),
            current: s.current,
        }
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    org_name: String,
    mine: Vec<SessionItem>,
    org_sessions: Option<Vec<SessionItem>>,
    notice: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    let loaded = async {
        let mine = state.core.my_sessions(&p).await?;
        let all = match p.allow(Permission::ManageSessions) {
            Ok(allowed) => Some(state.core.org_sessions(allowed).await?),
            Err(_) => None,
        };
        let orgs = state.core.my_orgs(&p).await?;
        Ok::<_, CoreError>((mine, all, orgs))
    }
    .await;
    match loaded {
        Ok((mine, all, orgs)) => render(
            StatusCode::OK,
            &SessionsPage {
                chrome: Chrome::app("Sessions", "sessions", &csrf, &p, orgs),
                org_name: p.org_name.clone(),
                mine: mine.into_iter().map(SessionItem::from).collect(),
                org_sessions: all.map(|v| v.into_iter().map(SessionItem::from).collect()),
                notice: None,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

fn parse(id: &str) -> Result<Uuid, CoreError> {
    id.parse().map_err(|_| CoreError::NotFound("session"))
}

pub async fn revoke_mine(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async { state.core.revoke_my_session(&p, parse(&id)?).await }.await;
    finish(result, &headers, "/sessions")
}

pub async fn revoke_any(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id = parse(&id)?;
        state
            .core
            .revoke_org_session(p.allow(Permission::ManageSessions)?, id)
            .await
    }
    .await;
    finish(result, &headers, "/sessions")
}
