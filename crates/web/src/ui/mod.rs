//! The server-rendered UI: pages for setup, sign-in, projects, members and invitations, sessions
//! and security settings. Forms post back with a CSRF token; htmx only enhances.

mod audit;
mod auth;
mod cases;
mod compare;
mod form;
mod history;
mod members;
pub mod pages;
mod passkeys;
mod plans;
mod projects;
mod roles;
mod security;
mod sessions;
mod sign_in_link;
mod sso;
mod tokens;
mod two_factor;

use crate::AppState;
use crate::cookies;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use std::convert::Infallible;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(auth::home))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/altcha/challenge", get(auth::altcha_challenge))
        .route(
            "/sign-in/link",
            get(sign_in_link::request_page).post(sign_in_link::request),
        )
        .route(
            "/sign-in/link/{token}",
            get(sign_in_link::open_page).post(sign_in_link::open),
        )
        .route("/sign-in/sso", get(sso::find_page).post(sso::find))
        .route("/sso/{id}/start", get(sso::start_page).post(sso::start))
        .route(
            "/sso/oidc/callback",
            get(sso::oidc_callback_get).post(sso::oidc_callback_post),
        )
        .route("/account/passkeys", get(passkeys::show))
        .route("/account/passkeys/{id}/delete", post(passkeys::delete))
        .route("/account/sso", get(sso::account))
        .route("/account/sso/{id}/link", post(sso::link))
        .route("/account/sso/unlink", post(sso::unlink))
        .route("/settings/sso", get(sso::settings).post(sso::create))
        .route("/settings/sso/required", post(sso::set_required))
        .route("/settings/sso/{id}", post(sso::update))
        .route("/settings/sso/{id}/delete", post(sso::delete))
        .route(
            "/sign-in/code",
            get(two_factor::code_page).post(two_factor::submit_code),
        )
        .route("/account/two-factor", get(two_factor::show))
        .route("/account/two-factor/start", post(two_factor::start))
        .route("/account/two-factor/confirm", post(two_factor::confirm))
        .route(
            "/account/two-factor/recovery-codes",
            post(two_factor::recovery_codes),
        )
        .route("/account/two-factor/disable", post(two_factor::disable))
        .route("/sign-out", post(auth::sign_out))
        .route("/setup/{token}", get(auth::setup_page).post(auth::setup))
        .route(
            "/invite/{token}",
            get(auth::invite_page).post(auth::accept_invite),
        )
        .route("/orgs/switch", post(auth::switch_org))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{slug}", get(projects::show))
        .route("/projects/{slug}/runs/{number}", get(projects::run))
        .route(
            "/projects/{slug}/cases",
            get(cases::repository).post(cases::create_case),
        )
        .route("/projects/{slug}/cases/new", get(cases::new_case))
        .route("/projects/{slug}/cases/bulk", post(cases::bulk_edit))
        .route("/projects/{slug}/cases/import", post(cases::import))
        .route("/projects/{slug}/cases/from-tests", post(cases::from_tests))
        .route(
            "/projects/{slug}/cases/{key}",
            get(cases::show).post(cases::update_case),
        )
        .route("/projects/{slug}/cases/{key}/edit", get(cases::edit_case))
        .route(
            "/projects/{slug}/cases/{key}/attachments",
            post(cases::upload_attachment),
        )
        .route(
            "/projects/{slug}/cases/{key}/attachments/{id}",
            get(cases::download_attachment),
        )
        .route(
            "/projects/{slug}/cases/{key}/attachments/{id}/delete",
            post(cases::remove_attachment),
        )
        .route(
            "/projects/{slug}/cases/{key}/place",
            post(cases::place_case),
        )
        .route("/projects/{slug}/cases/{key}/history", get(cases::history))
        .route(
            "/projects/{slug}/cases/{key}/versions/{version}/restore",
            post(cases::restore),
        )
        .route("/projects/{slug}/suites", post(cases::create_suite))
        .route("/projects/{slug}/suites/{suite}", post(cases::change_suite))
        .route(
            "/projects/{slug}/suites/{suite}/delete",
            post(cases::delete_suite),
        )
        .route(
            "/projects/{slug}/fields",
            get(cases::fields).post(cases::create_field),
        )
        .route(
            "/projects/{slug}/fields/{field}/delete",
            post(cases::delete_field),
        )
        .route("/projects/{slug}/unlinked", get(cases::unlinked))
        .route(
            "/projects/{slug}/shared-steps",
            get(cases::shared_steps).post(cases::create_shared_steps),
        )
        .route(
            "/projects/{slug}/shared-steps/{id}",
            post(cases::update_shared_steps),
        )
        .route(
            "/projects/{slug}/plans",
            get(plans::page).post(plans::create_plan),
        )
        .route("/projects/{slug}/milestones", post(plans::create_milestone))
        .route(
            "/projects/{slug}/milestones/{id}/status",
            post(plans::milestone_status),
        )
        .route("/projects/{slug}/manual-runs", post(plans::start_run))
        .route(
            "/projects/{slug}/runs/{number}/execute",
            get(plans::execute),
        )
        .route(
            "/projects/{slug}/runs/{number}/execute/{key}",
            post(plans::record),
        )
        .route(
            "/projects/{slug}/runs/{number}/complete",
            post(plans::complete),
        )
        .route(
            "/projects/{slug}/runs/{number}/execute/{key}/files",
            post(plans::upload_verdict_file),
        )
        .route(
            "/projects/{slug}/tests/{test}/case",
            post(cases::link_from_test),
        )
        .route("/projects/{slug}/runs/{number}/compare", get(compare::page))
        .route("/projects/{slug}/tests/{test}", get(history::page))
        .route(
            "/projects/{slug}/tests/{test}/quarantine",
            post(history::quarantine),
        )
        .route(
            "/projects/{slug}/tests/{test}/release",
            post(history::release),
        )
        .route("/projects/{slug}/flaky", get(history::flaky_page))
        .route("/projects/{slug}/dashboard", get(history::dashboard_page))
        .route("/projects/{slug}/heatmap", get(history::heat_map_page))
        .route("/projects/{slug}/clusters", get(history::clusters_page))
        .route(
            "/projects/{slug}/clusters/{signature}/label",
            post(history::label_cluster),
        )
        .route("/members", get(members::list))
        .route("/members/invitations", post(members::invite))
        .route("/members/{user}/role", post(members::change_role))
        .route("/roles", get(roles::list).post(roles::create))
        .route("/roles/{role}", post(roles::update))
        .route("/roles/{role}/delete", post(roles::delete))
        .route("/projects/{slug}/access", post(projects::grant))
        .route(
            "/projects/{slug}/access/{user}/revoke",
            post(projects::revoke_grant),
        )
        .route(
            "/members/invitations/{id}/revoke",
            post(members::revoke_invitation),
        )
        .route(
            "/members/{user}/second-factor/reset",
            post(members::reset_second_factor),
        )
        .route(
            "/members/{user}/sessions/revoke",
            post(members::revoke_sessions),
        )
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}/revoke", post(sessions::revoke_mine))
        .route("/org/sessions/{id}/revoke", post(sessions::revoke_any))
        .route(
            "/settings/security",
            get(security::show).post(security::update),
        )
        .route("/settings/security/network", post(security::update_network))
        .route("/settings/security/audit", post(security::update_retention))
        .route(
            "/settings/security/two-factor",
            post(security::update_two_factor),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/audit", get(audit::list))
        .route("/tokens/{prefix}/revoke", post(tokens::revoke))
        .merge(saml_routes())
}

#[cfg(feature = "saml")]
fn saml_routes() -> Router<AppState> {
    Router::new()
        .route("/sso/saml/{id}/metadata", get(sso::saml_metadata))
        .route("/sso/saml/{id}/acs", post(sso::saml_acs))
}

#[cfg(not(feature = "saml"))]
fn saml_routes() -> Router<AppState> {
    Router::new()
}

/// The CSRF token for this browser, put in every form.
#[derive(Clone)]
pub struct PageCsrf(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PageCsrf {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<PageCsrf>()
            .cloned()
            .or_else(|| cookies::read(&parts.headers, cookies::CSRF).map(PageCsrf))
            .unwrap_or_else(|| PageCsrf(String::new())))
    }
}

/// Gives every browser a CSRF cookie on its first request, so the first form it sees already
/// carries a token that will match.
pub async fn ensure_csrf_cookie(mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/api/")
        || cookies::read(req.headers(), cookies::CSRF).is_some()
    {
        return next.run(req).await;
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    req.extensions_mut().insert(PageCsrf(token.clone()));
    let mut resp = next.run(req).await;
    if let Some(c) = cookies::csrf(&token) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
