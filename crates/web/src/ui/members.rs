//! Members, invitations and "sign a member out everywhere".

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::{CoreError, IssuedInvitation, Principal, RoleChoice};
use testvault_domain::{Email, InvitationId, MemberRole, Permission, Role, UserId};

pub struct MemberItem {
    user: UserId,
    display_name: String,
    email: String,
    role: String,
    /// The member's current role as a select value (a level name or a custom role's id).
    role_value: String,
    /// False when their role holds something the viewer does not: they cannot change it.
    changeable: bool,
    joined: String,
    active_sessions: i64,
}

pub struct InvitationItem {
    id: InvitationId,
    email: String,
    role: String,
    invited_by: String,
    expires: String,
}

pub struct IssuedItem {
    email: String,
    /// `None` when the invitation went out by email.
    link: Option<String>,
    expires: String,
}

pub struct RoleOption {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    org_name: String,
    members: Vec<MemberItem>,
    invitations: Vec<InvitationItem>,
    roles: Vec<RoleOption>,
    /// Every role the viewer may give (built-in and custom), for the per-member selects.
    assignable: Vec<RoleOption>,
    can_revoke: bool,
    /// May reset members' second factors.
    can_security: bool,
    issued: Option<IssuedItem>,
    error: Option<String>,
    form_email: String,
}

async fn members_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    issued: Option<IssuedInvitation>,
    error: Option<String>,
    form_email: String,
) -> Response {
    let loaded = async {
        let members = state
            .core
            .members(p.allow(Permission::ManageMembers)?)
            .await?;
        let invitations = state
            .core
            .pending_invitations(p.allow(Permission::ManageMembers)?)
            .await?;
        let custom = state
            .core
            .roles(p.allow(Permission::ManageMembers)?)
            .await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((members, invitations, custom, orgs))
    }
    .await;
    let (members, invitations, custom, orgs) = match loaded {
        Ok(v) => v,
        Err(e) => return pages::error_page(e.into()),
    };
    let status = pages::status_for(&error);
    render(
        status,
        &MembersPage {
            chrome: Chrome::app("Members", "members", csrf, p, orgs),
            org_name: p.org_name.clone(),
            members: members
                .into_iter()
                .map(|m| MemberItem {
                    user: m.user,
                    display_name: m.display_name,
                    email: m.email,
                    role: m.role.to_string(),
                    role_value: role_value(&m.role),
                    changeable: m.role.permissions().is_subset_of(p.access.org),
                    // The day is enough here; the audit trail has the exact time.
                    joined: when(m.joined_at).chars().take(10).collect(),
                    active_sessions: m.active_sessions,
                })
                .collect(),
            invitations: invitations
                .into_iter()
                .map(|i| InvitationItem {
                    id: i.id,
                    email: i.email,
                    role: i.role.to_string(),
                    invited_by: i.invited_by.unwrap_or_else(|| "—".into()),
                    expires: when(i.expires_at),
                })
                .collect(),
            roles: Role::ALL
                .into_iter()
                .filter(|r| r.permissions().is_subset_of(p.access.org))
                .map(|r| RoleOption {
                    value: r.name().to_string(),
                    label: format!("{} (level {})", capitalise(r.name()), r.level()),
                    selected: r == Role::Viewer,
                })
                .collect(),
            assignable: Role::ALL
                .into_iter()
                .filter(|r| r.permissions().is_subset_of(p.access.org))
                .map(|r| RoleOption {
                    value: r.name().to_string(),
                    label: format!("{} (level {})", capitalise(r.name()), r.level()),
                    selected: false,
                })
                .chain(
                    custom
                        .into_iter()
                        .filter(|r| r.permissions.is_subset_of(p.access.org))
                        .map(|r| RoleOption {
                            value: r.id.to_string(),
                            label: format!("{} (custom)", r.name),
                            selected: false,
                        }),
                )
                .collect(),
            can_revoke: p.can(Permission::ManageSessions),
            can_security: p.can(Permission::ManageSecurity),
            issued: issued.map(|i| IssuedItem {
                email: i.email,
                link: i.link,
                expires: when(i.expires_at),
            }),
            error,
            form_email,
        },
    )
}

fn role_value(role: &MemberRole) -> String {
    match role {
        MemberRole::Builtin(r) => r.name().to_string(),
        MemberRole::Custom(c) => c.id.to_string(),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

/// Gives a member another org role from the members page.
pub async fn change_role(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(user): Path<String>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Response {
    let result = async {
        let user: UserId = user.parse().map_err(|_| CoreError::NotFound("member"))?;
        let allowed = p.allow(Permission::ManageMembers)?;
        let choice = RoleChoice::parse(&form.role)?;
        state.core.set_member_role(allowed, user, choice).await
    }
    .await;
    finish(result, &headers, "/members")
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub async fn list(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    members_page(&state, &p, &csrf, None, None, String::new()).await
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageMembers)?;
        let email = Email::parse(&form.email)?;
        let role = if form.role.is_empty() {
            Role::Viewer
        } else {
            Role::parse(&form.role)?
        };
        state.core.invite_member(allowed, email, role).await
    }
    .await;
    match result {
        Ok(issued) => members_page(&state, &p, &csrf, Some(issued), None, String::new()).await,
        Err(e @ CoreError::Forbidden(_)) => pages::error_page(e.into()),
        Err(e) => members_page(&state, &p, &csrf, None, Some(form_error(e)), form.email).await,
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// The answer to a row action (revoke, cancel): done, or an error page.
pub fn finish<T>(result: Result<T, CoreError>, headers: &HeaderMap, back_to: &str) -> Response {
    match result {
        Ok(_) => done(headers, back_to),
        Err(e) => pages::error_page(e.into()),
    }
}

/// htmx asked (it swaps the row away with an empty body); a plain form gets a redirect back.
pub fn done(headers: &HeaderMap, back_to: &str) -> Response {
    if headers.get("hx-request").is_some() {
        StatusCode::OK.into_response()
    } else {
        Redirect::to(back_to).into_response()
    }
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let id: InvitationId = id
            .parse()
            .map_err(|_| CoreError::NotFound("pending invitation"))?;
        state
            .core
            .revoke_invitation(p.allow(Permission::ManageMembers)?, id)
            .await
    }
    .await;
    finish(result, &headers, "/members")
}

pub async fn revoke_sessions(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(user): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let user: UserId = user.parse().map_err(|_| CoreError::NotFound("member"))?;
        state
            .core
            .revoke_member_sessions(p.allow(Permission::ManageSessions)?, user)
            .await
    }
    .await;
    finish(result, &headers, "/members")
}

/// An owner resets a member's lost second factor (every session of theirs ends).
pub async fn reset_second_factor(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    headers: HeaderMap,
    Path(user): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Response {
    let result = async {
        let user: UserId = user.parse().map_err(|_| CoreError::NotFound("member"))?;
        state
            .core
            .reset_member_second_factor(p.allow(Permission::ManageSecurity)?, user)
            .await
    }
    .await;
    finish(result, &headers, "/members")
}
