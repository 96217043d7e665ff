//! `/api/v1`: one module per resource, handlers named `verb_noun`.

mod audit;
mod auth;
mod cases;
pub mod compare;
mod csv;
pub mod history;
mod invitations;
mod members;
mod orgs;
mod passkeys;
mod plans;
mod projects;
mod roles;
mod run_groups;
mod runs;
mod second_factor;
mod sessions;
mod sso;
mod tokens;

use crate::AppState;
use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/sign-in", post(auth::create_session))
        .route("/auth/sign-out", post(auth::delete_session))
        .route("/audit", get(audit::list_audit))
        .route("/me", get(auth::get_me))
        .route("/auth/second-factor", post(second_factor::complete_sign_in))
        .route("/auth/sign-in-link", post(auth::request_sign_in_link))
        .route("/auth/passkey/start", post(passkeys::start_sign_in))
        .route("/auth/passkey", post(passkeys::finish_sign_in))
        .route(
            "/auth/second-factor/passkey/start",
            post(passkeys::start_second_factor),
        )
        .route(
            "/auth/second-factor/passkey",
            post(passkeys::finish_second_factor),
        )
        .route(
            "/me/passkeys",
            get(passkeys::list_passkeys).post(passkeys::finish_registration),
        )
        .route("/me/passkeys/register", post(passkeys::start_registration))
        .route("/me/passkeys/{id}", delete(passkeys::delete_passkey))
        .route(
            "/me/second-factor",
            get(second_factor::get_status).post(second_factor::start),
        )
        .route("/me/second-factor/confirm", post(second_factor::confirm))
        .route("/me/second-factor/disable", post(second_factor::disable))
        .route(
            "/me/second-factor/recovery-codes",
            post(second_factor::recovery_codes),
        )
        .route("/orgs", get(orgs::list_orgs))
        .route(
            "/org/security",
            get(orgs::get_security).put(orgs::update_security),
        )
        .route(
            "/org/sso/connections",
            get(sso::list_connections).post(sso::create_connection),
        )
        .route(
            "/org/sso/connections/{id}",
            put(sso::update_connection).delete(sso::delete_connection),
        )
        .route("/me/sso", get(sso::get_my_identities))
        .route("/me/sso/unlink", post(sso::unlink_my_identity))
        .route("/org/sessions", get(sessions::list_org_sessions))
        .route("/org/sessions/{id}", delete(sessions::delete_org_session))
        .route(
            "/projects",
            get(projects::list_projects).post(projects::create_project),
        )
        .route("/projects/{slug}", get(projects::get_project))
        .route(
            "/projects/{slug}/suites",
            get(cases::list_suites).post(cases::create_suite),
        )
        .route(
            "/projects/{slug}/suites/{suite}",
            patch(cases::update_suite).delete(cases::delete_suite),
        )
        .route(
            "/projects/{slug}/cases",
            get(cases::list_cases).post(cases::create_case),
        )
        .route("/projects/{slug}/cases/bulk", post(cases::bulk_edit))
        .route("/projects/{slug}/cases/import", post(cases::import_cases))
        .route(
            "/projects/{slug}/cases/import-tests",
            post(cases::import_tests),
        )
        .route(
            "/projects/{slug}/cases/from-tests",
            post(cases::cases_from_tests),
        )
        .route(
            "/projects/{slug}/cases/{key}",
            get(cases::get_case).patch(cases::update_case),
        )
        .route(
            "/projects/{slug}/cases/{key}/attachments",
            get(cases::list_attachments).post(cases::add_attachment),
        )
        .route(
            "/projects/{slug}/cases/{key}/attachments/{id}",
            get(cases::get_attachment).delete(cases::delete_attachment),
        )
        .route(
            "/projects/{slug}/cases/{key}/place",
            post(cases::place_case),
        )
        .route(
            "/projects/{slug}/cases/{key}/versions",
            get(cases::list_versions),
        )
        .route(
            "/projects/{slug}/cases/{key}/diff",
            get(cases::diff_versions),
        )
        .route(
            "/projects/{slug}/cases/{key}/versions/{version}/restore",
            post(cases::restore_version),
        )
        .route(
            "/projects/{slug}/cases/{key}/automation",
            get(cases::case_automation).post(cases::link_test),
        )
        .route(
            "/projects/{slug}/tests/{test}/case",
            get(cases::test_case).delete(cases::unlink_test),
        )
        .route(
            "/projects/{slug}/unlinked-tests",
            get(cases::unlinked_tests),
        )
        .route(
            "/projects/{slug}/shared-steps",
            get(cases::list_shared_steps).post(cases::create_shared_steps),
        )
        .route(
            "/projects/{slug}/shared-steps/{id}",
            patch(cases::update_shared_steps),
        )
        .route(
            "/projects/{slug}/milestones",
            get(plans::list_milestones).post(plans::create_milestone),
        )
        .route(
            "/projects/{slug}/milestones/{id}",
            patch(plans::update_milestone),
        )
        .route(
            "/projects/{slug}/plans",
            get(plans::list_plans).post(plans::create_plan),
        )
        .route(
            "/projects/{slug}/manual-runs",
            post(plans::create_manual_run),
        )
        .route(
            "/projects/{slug}/runs/{run}/manual",
            get(plans::get_manual_run),
        )
        .route(
            "/projects/{slug}/runs/{run}/manual/{key}",
            put(plans::record_verdict),
        )
        .route(
            "/projects/{slug}/runs/{run}/manual/{key}/assignee",
            put(plans::assign),
        )
        .route(
            "/projects/{slug}/runs/{run}/complete",
            post(plans::complete),
        )
        .route(
            "/projects/{slug}/runs/{run}/manual/{key}/files",
            post(plans::add_verdict_file),
        )
        .route(
            "/projects/{slug}/fields",
            get(cases::list_fields).post(cases::create_field),
        )
        .route(
            "/projects/{slug}/fields/{field}",
            patch(cases::update_field).delete(cases::delete_field),
        )
        .route("/projects/{slug}/access", get(roles::list_project_access))
        .route(
            "/projects/{slug}/access/{user}",
            put(roles::put_project_access).delete(roles::delete_project_access),
        )
        .route(
            "/projects/{slug}/runs",
            get(runs::list_runs).post(runs::create_run),
        )
        .route("/projects/{slug}/runs/{run}", get(runs::get_run))
        .route(
            "/projects/{slug}/runs/{run}/files",
            get(runs::list_run_files),
        )
        .route(
            "/projects/{slug}/runs/{run}/files/{file}",
            get(runs::get_run_file),
        )
        .route(
            "/projects/{slug}/runs/{run}/results",
            get(runs::list_results).post(runs::append_results),
        )
        .route("/projects/{slug}/runs/{run}/finish", post(runs::finish_run))
        .route(
            "/projects/{slug}/runs/{run}/suites",
            get(run_groups::suites),
        )
        .route(
            "/projects/{slug}/runs/{run}/errors",
            get(run_groups::errors),
        )
        .route(
            "/projects/{slug}/runs/{run}/results/{result}",
            get(run_groups::result),
        )
        .route(
            "/projects/{slug}/runs/{run}/compare",
            get(compare::compare_runs),
        )
        .route("/projects/{slug}/tests/{test}", get(history::get_test))
        .route(
            "/projects/{slug}/tests/{test}/quarantine",
            put(history::quarantine_test).delete(history::release_test),
        )
        .route("/projects/{slug}/flaky", get(history::flaky_tests))
        .route("/projects/{slug}/dashboard", get(history::dashboard))
        .route("/projects/{slug}/heatmap", get(history::heat_map))
        .route("/projects/{slug}/clusters", get(history::failure_clusters))
        .route(
            "/projects/{slug}/clusters/{signature}/label",
            put(history::label_cluster).delete(history::unlabel_cluster),
        )
        .route("/projects/{slug}/uploads", post(runs::upload_report))
        .route("/projects/{slug}/results/search", get(runs::search_results))
        .route("/permissions", get(roles::get_permissions))
        .route("/roles", get(roles::list_roles).post(roles::create_role))
        .route(
            "/roles/{role}",
            put(roles::update_role).delete(roles::delete_role),
        )
        .route("/members", get(members::list_members))
        .route("/members/{user}/role", put(roles::update_member_role))
        .route(
            "/members/{user}/sessions",
            delete(members::delete_member_sessions),
        )
        .route(
            "/members/{user}/second-factor",
            delete(members::delete_member_second_factor),
        )
        .route(
            "/invitations",
            get(invitations::list_invitations).post(invitations::create_invitation),
        )
        .route("/invitations/{id}", delete(invitations::delete_invitation))
        .route("/sessions", get(sessions::list_my_sessions))
        .route("/sessions/{id}", delete(sessions::delete_my_session))
        .route(
            "/tokens",
            get(tokens::list_tokens).post(tokens::create_token),
        )
        .route("/tokens/{prefix}", delete(tokens::delete_token))
}

/// `{"data": …}`: every successful body has one shape.
#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

pub fn data<T>(data: T) -> axum::Json<Data<T>> {
    axum::Json(Data { data })
}

/// Parses a path id; 404 for anything that is not one of ours.
pub fn parse_id<T: std::str::FromStr>(
    raw: &str,
    what: &'static str,
) -> Result<T, crate::error::ApiError> {
    raw.parse()
        .map_err(|_| testvault_core::CoreError::NotFound(what).into())
}
