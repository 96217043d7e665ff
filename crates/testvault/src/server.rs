//! Starting and stopping the HTTPS server (and the optional plain-HTTP redirector).

use crate::StartError;
use crate::config::{Config, DatabaseChoice};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::time::Duration;
use testvault_core::{Core, CoreSettings};
use testvault_store::{DatabaseTarget, Secret, Store};
use testvault_web::{AppState, Metrics, WebSettings};
use tokio::task::JoinHandle;

/// Opens the data directory, keys and database: everything the CLI and the server share.
/// `public_url` is where links in invitations and setup messages point.
pub async fn open_core(cfg: &Config, public_url: String) -> Result<Core, StartError> {
    crate::keyfile::ensure_data_dir(&cfg.data_dir)?;
    let master = crate::keyfile::master_key(cfg)?;
    let target = match &cfg.database {
        DatabaseChoice::Sqlite(path) => DatabaseTarget::Sqlite {
            path: path.clone(),
            key: Secret::new(master.sqlcipher_key().as_str()),
        },
        DatabaseChoice::Postgres(url) => DatabaseTarget::Postgres { url: url.clone() },
    };
    let mailer: Option<std::sync::Arc<dyn testvault_core::mail::Mailer>> = match &cfg.smtp_url {
        Some(url) => {
            if crate::mail::is_unencrypted_remote(url.expose()) {
                tracing::warn!(
                    "smtp_url sends mail without TLS to another host; use smtps:// or ?tls=required"
                );
            }
            let mailer = crate::mail::SmtpMailer::new(url.expose(), &cfg.mail_from)
                .map_err(StartError::Config)?;
            Some(std::sync::Arc::new(mailer))
        }
        None => None,
    };
    let roots = match &cfg.trusted_ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(StartError::io(format!("reading {}", path.display())))?,
        ),
        None => None,
    };
    let outbound =
        crate::outbound::HttpsClient::new(roots.as_deref(), cfg.sso_provider_hosts.clone())
            .map_err(StartError::Config)?;
    let store = Store::connect(&target).await?;
    Ok(Core::new(
        store,
        master,
        CoreSettings {
            public_url,
            token_max_days: cfg.token_max_days,
            rate_limits: cfg.rate_limits,
            ..CoreSettings::default()
        },
        mailer,
        std::sync::Arc::new(outbound),
    ))
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub redirect_addr: Option<SocketAddr>,
    pub fingerprint: String,
    pub cert_path: std::path::PathBuf,
    /// Printed once on start while no org exists.
    pub setup_link: Option<String>,
    pub core: Core,
    handle: Handle<SocketAddr>,
    redirect_handle: Option<Handle<SocketAddr>>,
    task: JoinHandle<std::io::Result<()>>,
    housekeeping: JoinHandle<()>,
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(StartError::io(format!("listening on {addr}")))?;
    listener
        .set_nonblocking(true)
        .map_err(StartError::io("configuring the listener"))?;
    Ok(listener)
}

/// Binds the listeners (port 0 picks a free port) and starts serving in the background.
pub async fn start(cfg: &Config) -> Result<Server, StartError> {
    let listener = bind(cfg.listen)?;
    let addr = listener
        .local_addr()
        .map_err(StartError::io("reading the bound address"))?;
    let core = open_core(cfg, cfg.public_url_for(addr)).await?;
    let tls = crate::tls::load(cfg)?;
    let state = AppState {
        core: core.clone(),
        settings: std::sync::Arc::new(WebSettings {
            trusted_proxies: cfg.trusted_proxies.clone(),
            body_limit_bytes: cfg.body_limit_bytes,
            upload_limit_bytes: cfg.upload_limit_bytes,
            public_origin: Some(origin_of(&cfg.public_url_for(addr))),
            ..WebSettings::default()
        }),
        metrics: Metrics::default(),
    };
    let app = testvault_web::router(state);
    let handle = Handle::new();
    let server =
        axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls.config.clone()))
            .map_err(StartError::io("starting the HTTPS listener"))?
            .handle(handle.clone());
    let task = tokio::spawn(server.serve(app.into_make_service_with_connect_info::<SocketAddr>()));

    let (redirect_addr, redirect_handle) = match cfg.http_redirect_listen {
        Some(plain) => {
            let listener = bind(plain)?;
            let bound = listener
                .local_addr()
                .map_err(StartError::io("reading the bound address"))?;
            let handle = Handle::new();
            let server = axum_server::from_tcp(listener)
                .map_err(StartError::io("starting the HTTP redirect listener"))?
                .handle(handle.clone());
            tokio::spawn(
                server.serve(testvault_web::redirect_router(addr.port()).into_make_service()),
            );
            (Some(bound), Some(handle))
        }
        None => (None, None),
    };

    let housekeeping = {
        let core = core.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                if let Err(e) = core.purge_expired_sessions().await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
                if let Err(e) = core.purge_expired_audit().await {
                    tracing::warn!(error = %e, "purging expired audit events failed");
                }
            }
        })
    };

    let setup_link = core.issue_setup_link().await?;
    Ok(Server {
        addr,
        redirect_addr,
        fingerprint: tls.fingerprint,
        cert_path: tls.cert_path,
        setup_link,
        core,
        handle,
        redirect_handle,
        task,
        housekeeping,
    })
}

/// `https://host:port/path` → `https://host:port`.
fn origin_of(url: &str) -> String {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("https://{authority}")
}

impl Server {
    /// Stops accepting, lets in-flight requests finish (up to `grace`), then closes the database.
    pub async fn shutdown(self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
        if let Some(h) = &self.redirect_handle {
            h.graceful_shutdown(Some(grace));
        }
        self.housekeeping.abort();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "server stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "server task failed"),
        }
        self.core.close().await;
    }
}
