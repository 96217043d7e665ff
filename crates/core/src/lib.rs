#![forbid(unsafe_code)]
//! Testvault's use cases. Each takes the caller's authority first — a `Principal` turned into an
//! `Allowed` capability by a permission check, a spendable link, or the local `Operator` — then
//! validates, applies the rules, and calls the store. HTTP handlers and CLI commands are thin
//! wrappers around these functions, so one rule has one code path.

pub mod altcha;
pub mod audit;
mod auth;
pub mod cases;
pub mod clusters;
pub mod compare;
pub mod csv;
pub mod dashboard;
pub mod disposable;
mod error;
pub mod flaky;
pub mod history;
mod invitations;
mod keyring;
pub mod live;
pub mod mail;
mod orgs;
pub mod outbound;
pub mod passkeys;
pub mod plans;
mod principal;
mod projects;
pub mod reporters;
mod roles;
mod run_files;
pub mod run_groups;
mod runs;
pub mod second_factor;
mod sessions;
mod settings;
mod setup;
pub mod sign_in_links;
pub mod sso;
mod tokens;

pub use audit::{AuditVerification, AuditView, ClientMeta};
pub use auth::{SignIn, SignInMethod, SignedIn};
pub use error::CoreError;
pub use invitations::{InvitationInfo, InvitationView, IssuedInvitation};
pub use orgs::{CreatedOrg, Operator, OrgView};
pub use principal::{Allowed, Credential, Principal};
pub use projects::ProjectView;
pub use roles::{GrantView, RoleChoice, RoleView};
pub use run_files::RunFileView;
pub use runs::{
    FoundResult, IngestReport, IngestTarget, ResultDetails, ResultQuery, ResultView, RunQuery,
    RunSpec, RunView, Upload,
};
pub use sessions::SessionView;
pub use settings::{MemberView, SecuritySettings};
pub use testvault_store as store;
pub use tokens::{IssuedToken, TokenForm, TokenRequest, TokenView};

use keyring::Keyring;
use std::sync::Arc;
use testvault_crypto::MasterKey;
use testvault_store::Store;

/// Settings the use cases need from the configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// The address people use to reach this server, for links (`https://testvault.example.com`).
    pub public_url: String,
    /// How long an invitation link stays valid.
    pub invitation_ttl_secs: i64,
    /// How long the first-run setup link stays valid.
    pub setup_ttl_secs: i64,
    /// API token lifetime when none is asked for, and the longest allowed.
    pub token_default_days: i64,
    pub token_max_days: i64,
    /// How many attempts each throttle lets through before lock-outs start.
    pub rate_limits: testvault_domain::RateLimits,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            public_url: "https://127.0.0.1:8443".into(),
            invitation_ttl_secs: 7 * 24 * 3600,
            setup_ttl_secs: 24 * 3600,
            token_default_days: 90,
            token_max_days: 365,
            rate_limits: testvault_domain::RateLimits::default(),
        }
    }
}

/// The application: store, keys and settings. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keyring: Keyring,
    settings: CoreSettings,
    mailer: Option<Arc<dyn mail::Mailer>>,
    outbound: Arc<dyn outbound::Outbound>,
    sso_cache: sso::oidc::Cache,
    /// Passkeys' relying party, from the public URL (or why this address cannot have one).
    relying_party: Result<webauthn_rs::prelude::Webauthn, String>,
}

impl Core {
    /// `mailer`: how to send email; `None` when no mail server is configured. `outbound`: how
    /// to reach identity providers over HTTPS.
    pub fn new(
        store: Store,
        master: MasterKey,
        settings: CoreSettings,
        mailer: Option<Arc<dyn mail::Mailer>>,
        outbound: Arc<dyn outbound::Outbound>,
    ) -> Self {
        let relying_party = passkeys::relying_party(&settings.public_url);
        Self {
            inner: Arc::new(Inner {
                relying_party,
                store,
                keyring: Keyring::new(master),
                settings,
                mailer,
                outbound,
                sso_cache: sso::oidc::Cache::default(),
            }),
        }
    }

    pub(crate) fn outbound(&self) -> &Arc<dyn outbound::Outbound> {
        &self.inner.outbound
    }

    pub(crate) fn relying_party(&self) -> Result<&webauthn_rs::prelude::Webauthn, &str> {
        self.inner.relying_party.as_ref().map_err(String::as_str)
    }

    pub(crate) fn sso_cache(&self) -> &sso::oidc::Cache {
        &self.inner.sso_cache
    }

    pub(crate) fn mailer(&self) -> Option<&Arc<dyn mail::Mailer>> {
        self.inner.mailer.as_ref()
    }

    /// The database role the application acts as (`testvault_app` on PostgreSQL), for the
    /// startup log and for tests of the database's own guarantees.
    pub async fn database_role(&self) -> Result<Option<String>, CoreError> {
        Ok(self.store().database_role().await?)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    pub fn settings(&self) -> &CoreSettings {
        &self.inner.settings
    }

    /// Whether every pooled SQLite connection checks foreign keys again after uploads (which
    /// turn them off on their own connection): for tests of the database's guarantees.
    pub async fn foreign_keys_enforced_everywhere(&self) -> Result<bool, CoreError> {
        Ok(self.store().foreign_keys_enforced_everywhere().await?)
    }

    /// Readiness: the database answers.
    pub async fn ready(&self) -> Result<(), CoreError> {
        self.store().ping().await.map_err(CoreError::from)
    }

    /// Closes the database pool (graceful shutdown).
    pub async fn close(&self) {
        self.store().close().await;
    }

    pub(crate) fn link(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.inner.settings.public_url.trim_end_matches('/'),
            path
        )
    }
}

/// Runs a slow CPU-bound job (password hashing) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| CoreError::internal(format!("blocking task failed: {e}")))
}
