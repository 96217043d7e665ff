//! Single sign-on pages: finding a connection by email address, starting at the provider,
//! coming back from it (query, `form_post` or SAML POST — those come cross-site and carry no
//! CSRF token: the attempt's `state` and the browser-binding cookie protect them), the account's
//! linked identities, and the owners' connection settings.

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render};
use crate::AppState;
use crate::client::ClientInfo;
use crate::cookies;
use crate::error::ApiError;
use crate::extract::{CsrfForm, MaybeSessionCookie, PageAuth};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use testvault_core::sso::{
    ConnectionInput, ConnectionView, SsoChoice, SsoIdentityView, SsoOutcome,
};
use testvault_core::{CoreError, Principal};
use testvault_domain::Permission;
use uuid::Uuid;

#[derive(Template)]
#[template(path = "sign_in_sso.html")]
struct FindPage {
    chrome: Chrome,
    email: String,
    choices: Vec<SsoChoice>,
    searched: bool,
    error: Option<String>,
}

pub async fn find_page(PageCsrf(csrf): PageCsrf) -> Response {
    render(
        StatusCode::OK,
        &FindPage {
            chrome: Chrome::public("Sign in with single sign-on", &csrf),
            email: String::new(),
            choices: Vec::new(),
            searched: false,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct FindForm {
    email: String,
}

/// `POST /sign-in/sso`: the connections for the address's domain; one goes straight there.
pub async fn find(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<FindForm>,
) -> Response {
    // Each connection is a button naming its org: a domain proves nobody's ownership, so the
    // person chooses (nothing is followed on its own).
    match state.core.sso_choices_for_email(&form.email).await {
        Ok(choices) => render(
            StatusCode::OK,
            &FindPage {
                chrome: Chrome::public("Sign in with single sign-on", &csrf),
                email: form.email,
                choices,
                searched: true,
                error: None,
            },
        ),
        Err(e) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FindPage {
                chrome: Chrome::public("Sign in with single sign-on", &csrf),
                email: form.email,
                choices: Vec::new(),
                searched: false,
                error: Some(form_error(e)),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "sso_continue.html")]
struct ContinuePage {
    chrome: Chrome,
    url: String,
}

/// Sends the browser to the provider, with a fresh cookie binding the attempt to it: a page
/// whose one link the script follows (a form's answer may not redirect to another site: the
/// CSP's `form-action 'self'`).
async fn go_to_provider(
    state: &AppState,
    connection: Uuid,
    link_user: Option<Principal>,
    csrf: &str,
) -> Response {
    let nonce = match testvault_core::sso::browser_nonce() {
        Ok(n) => n,
        Err(e) => return failure(e),
    };
    match state
        .core
        .start_sso(connection, &nonce, link_user.map(|p| (p.user, p.org)))
        .await
    {
        Ok(url) => {
            let mut resp = render(
                StatusCode::OK,
                &ContinuePage {
                    chrome: Chrome::public("Continue to single sign-on", csrf),
                    url,
                },
            );
            match cookies::sso(&nonce) {
                Some(c) => {
                    resp.headers_mut().append(header::SET_COOKIE, c);
                    resp
                }
                None => crate::error::internal().into_response(),
            }
        }
        Err(e) => failure(e),
    }
}

#[derive(Template)]
#[template(path = "sso_start.html")]
struct StartPage {
    chrome: Chrome,
    choice: SsoChoice,
}

/// `GET /sso/{id}/start`: the link an org shares. It asks before anything happens: a page
/// elsewhere that sends a browser here must not sign it in to someone else's account (login
/// CSRF), so the sign-in begins with this page's form.
pub async fn start_page(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
) -> Response {
    let choice = match connection_id(&id) {
        Ok(id) => state.core.sso_connection_choice(id).await,
        Err(e) => Err(e),
    };
    match choice {
        Ok(choice) => render(
            StatusCode::OK,
            &StartPage {
                chrome: Chrome::public("Sign in with single sign-on", &csrf),
                choice,
            },
        ),
        Err(e) => failure(e),
    }
}

/// `POST /sso/{id}/start`: begins the sign-in at the connection's provider.
pub async fn start(
    State(state): State<AppState>,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<super::auth::CsrfOnlyForm>,
) -> Response {
    match connection_id(&id) {
        Ok(id) => go_to_provider(&state, id, None, &csrf).await,
        Err(e) => failure(e),
    }
}

/// `POST /account/sso/{id}/link`: the signed-in member links the provider to their account.
pub async fn link(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<super::auth::CsrfOnlyForm>,
) -> Response {
    match connection_id(&id) {
        Ok(id) => go_to_provider(&state, id, Some(p), &csrf).await,
        Err(e) => failure(e),
    }
}

/// The page for a sign-in that did not work: what went wrong, and the way back.
fn failure(e: CoreError) -> Response {
    let api: ApiError = e.into();
    let heading = match api.status {
        StatusCode::GONE => "Single sign-on expired",
        StatusCode::NOT_FOUND => "No such single sign-on",
        s if s.is_server_error() => "Something went wrong",
        _ => "Single sign-on did not work",
    };
    let mut resp = pages::message_page(
        api.status,
        heading,
        &api.message,
        Some(("/sign-in", "Back to sign in")),
    );
    if let Some(c) = cookies::clear_sso() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Signed in, linked, or why not; the binding cookie goes either way.
fn finished(outcome: Result<SsoOutcome, CoreError>) -> Response {
    let mut resp = match outcome {
        Ok(SsoOutcome::SignedIn(signed)) => super::auth::signed_in_redirect(*signed, "/projects"),
        Ok(SsoOutcome::Linked) => Redirect::to("/account/sso?linked=1").into_response(),
        Err(e) => return failure(e),
    };
    if let Some(c) = cookies::clear_sso() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /sso/oidc/callback`: the provider's answer in the query.
pub async fn oidc_callback_get(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    Query(callback): Query<testvault_core::sso::OidcCallback>,
) -> Response {
    let browser = cookies::read(&headers, cookies::SSO).unwrap_or_default();
    finished(
        state
            .core
            .finish_oidc(&callback, &browser, &client, previous.as_deref())
            .await,
    )
}

/// `POST /sso/oidc/callback`: the answer as a form (`response_mode=form_post`, Apple).
pub async fn oidc_callback_post(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    axum::Form(callback): axum::Form<testvault_core::sso::OidcCallback>,
) -> Response {
    let browser = cookies::read(&headers, cookies::SSO).unwrap_or_default();
    finished(
        state
            .core
            .finish_oidc(&callback, &browser, &client, previous.as_deref())
            .await,
    )
}

#[cfg(feature = "saml")]
#[derive(Deserialize)]
pub struct SamlPost {
    #[serde(rename = "SAMLResponse", default)]
    response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

/// `POST /sso/saml/{id}/acs`: the IdP's signed response.
#[cfg(feature = "saml")]
pub async fn saml_acs(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSessionCookie(previous): MaybeSessionCookie,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<SamlPost>,
) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(e) => return failure(e),
    };
    let browser = cookies::read(&headers, cookies::SSO).unwrap_or_default();
    finished(
        state
            .core
            .finish_saml(
                id,
                &form.response,
                &form.relay_state,
                &browser,
                &client,
                previous.as_deref(),
            )
            .await,
    )
}

/// `GET /sso/saml/{id}/metadata`: the service provider's metadata for the IdP's admin.
#[cfg(feature = "saml")]
pub async fn saml_metadata(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match connection_id(&id) {
        Ok(id) => id,
        Err(e) => return failure(e),
    };
    match state.core.saml_sp_metadata(id).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Template)]
#[template(path = "account_sso.html")]
struct AccountPage {
    chrome: Chrome,
    identities: Vec<SsoIdentityView>,
    connections: Vec<SsoChoice>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    linked: Option<String>,
}

async fn account_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let (identities, connections) = state.core.my_sso_identities(p).await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((identities, connections, orgs))
    }
    .await;
    match loaded {
        Ok((identities, connections, orgs)) => render(
            pages::status_for(&error),
            &AccountPage {
                chrome: Chrome::app("Single sign-on", "account", csrf, p, orgs),
                identities,
                connections,
                notice,
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

/// `GET /account/sso`: the caller's linked identities, and the connections they may link.
pub async fn account(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Query(q): Query<AccountQuery>,
) -> Response {
    let notice = q
        .linked
        .map(|_| "Linked: you can now sign in through it.".to_string());
    account_page(&state, &p, &csrf, notice, None).await
}

#[derive(Deserialize)]
pub struct UnlinkForm {
    issuer: String,
    subject: String,
}

/// `POST /account/sso/unlink`.
pub async fn unlink(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<UnlinkForm>,
) -> Response {
    match state
        .core
        .unlink_my_sso_identity(&p, &form.issuer, &form.subject)
        .await
    {
        Ok(()) => account_page(&state, &p, &csrf, Some("Unlinked.".into()), None).await,
        Err(e) => account_page(&state, &p, &csrf, None, Some(form_error(e))).await,
    }
}

#[derive(Template)]
#[template(path = "sso_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    connections: Vec<ConnectionView>,
    sso_required: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn settings_page(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let loaded = async {
        let connections = state
            .core
            .sso_connections(p.allow(Permission::ManageSecurity)?)
            .await?;
        let settings = state
            .core
            .security_settings(p.allow(Permission::ManageSecurity)?)
            .await?;
        let orgs = state.core.my_orgs(p).await?;
        Ok::<_, CoreError>((connections, settings.sso_required, orgs))
    }
    .await;
    match loaded {
        Ok((connections, sso_required, orgs)) => render(
            pages::status_for(&error),
            &SettingsPage {
                chrome: Chrome::app("Single sign-on", "security", csrf, p, orgs),
                connections,
                sso_required,
                notice,
                error,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

async fn settings_outcome(
    state: &AppState,
    p: &Principal,
    csrf: &str,
    result: Result<(), CoreError>,
    saved: &str,
) -> Response {
    match result {
        Ok(()) => settings_page(state, p, csrf, Some(saved.to_string()), None).await,
        Err(e @ (CoreError::Forbidden(_) | CoreError::NotFound(_))) => pages::error_page(e.into()),
        Err(e) => settings_page(state, p, csrf, None, Some(form_error(e))).await,
    }
}

/// `GET /settings/sso`.
pub async fn settings(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
) -> Response {
    settings_page(&state, &p, &csrf, None, None).await
}

/// The connection form: checkboxes arrive as `on` or not at all.
#[derive(Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    preset: String,
    name: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    allowed_domains: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    tenants: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    idp_metadata_xml: String,
    #[serde(default)]
    idp_metadata_url: String,
    #[serde(default)]
    allow_idp_initiated: Option<String>,
    #[serde(default)]
    email_attribute: String,
    #[serde(default)]
    name_attribute: String,
}

impl ConnectionForm {
    fn into_input(self) -> ConnectionInput {
        ConnectionInput {
            preset: self.preset,
            name: self.name,
            enabled: self.enabled.is_some(),
            allowed_domains: self.allowed_domains,
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret: self.client_secret,
            tenants: self.tenants,
            team_id: self.team_id,
            key_id: self.key_id,
            private_key: self.private_key,
            idp_metadata_xml: self.idp_metadata_xml,
            idp_metadata_url: self.idp_metadata_url,
            allow_idp_initiated: self.allow_idp_initiated.is_some(),
            email_attribute: self.email_attribute,
            name_attribute: self.name_attribute,
        }
    }
}

fn connection_id(id: &str) -> Result<Uuid, CoreError> {
    id.parse()
        .map_err(|_| CoreError::NotFound("single sign-on connection"))
}

/// `POST /settings/sso`: a new connection.
pub async fn create(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<ConnectionForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        state
            .core
            .create_sso_connection(allowed, form.into_input())
            .await
            .map(|_| ())
    }
    .await;
    settings_outcome(&state, &p, &csrf, result, "Connection added.").await
}

/// `POST /settings/sso/{id}`: a connection's new settings (blank secrets keep the stored ones).
pub async fn update(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ConnectionForm>,
) -> Response {
    let result = async {
        let id = connection_id(&id)?;
        let allowed = p.allow(Permission::ManageSecurity)?;
        state
            .core
            .update_sso_connection(allowed, id, form.into_input())
            .await
            .map(|_| ())
    }
    .await;
    settings_outcome(&state, &p, &csrf, result, "Connection saved.").await
}

/// `POST /settings/sso/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<super::auth::CsrfOnlyForm>,
) -> Response {
    let result = async {
        let id = connection_id(&id)?;
        let allowed = p.allow(Permission::ManageSecurity)?;
        state.core.delete_sso_connection(allowed, id).await
    }
    .await;
    settings_outcome(&state, &p, &csrf, result, "Connection deleted.").await
}

#[derive(Deserialize)]
pub struct RequiredForm {
    #[serde(default)]
    sso_required: Option<String>,
}

/// `POST /settings/sso/required`.
pub async fn set_required(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    CsrfForm(form): CsrfForm<RequiredForm>,
) -> Response {
    let result = async {
        let allowed = p.allow(Permission::ManageSecurity)?;
        state
            .core
            .set_sso_required(allowed, form.sso_required.is_some())
            .await
    }
    .await;
    settings_outcome(&state, &p, &csrf, result, "Saved.").await
}
