//! `testvault serve`: start, print how to reach it, stop gracefully on SIGTERM/SIGINT.

use crate::StartError;
use crate::config::{Config, DatabaseChoice};
use std::io::Write;
use std::time::Duration;

/// How long in-flight requests may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(30);

pub async fn run(cfg: &Config) -> Result<(), StartError> {
    let server = crate::server::start(cfg).await?;
    let db = match &cfg.database {
        DatabaseChoice::Sqlite(path) => {
            format!("SQLite, encrypted (SQLCipher), at {}", path.display())
        }
        DatabaseChoice::Postgres(url) => {
            format!("PostgreSQL at {}", crate::config::redact_url(url.expose()))
        }
    };
    let mut banner = format!(
        "Testvault {} is running\n  URL:          https://{}\n  Certificate:  SHA-256 {}\n                ({})\n  Data:         {}\n  Database:     {}\n",
        env!("CARGO_PKG_VERSION"),
        server.addr,
        server.fingerprint,
        server.cert_path.display(),
        cfg.data_dir.display(),
        db,
    );
    if let Some(plain) = server.redirect_addr {
        banner.push_str(&format!(
            "  HTTP:         http://{plain} redirects to HTTPS\n"
        ));
    }
    if let Some(url) = &cfg.public_url {
        banner.push_str(&format!("  Public URL:   {url}\n"));
    }
    match &server.setup_link {
        Some(link) => banner.push_str(&format!(
            "\nFirst run: open this one-time link to create your organisation and owner account:\n  {link}\n"
        )),
        None => banner.push_str("\nSign in at the URL above.\n"),
    }
    // The banner (with the setup secret) goes to stdout for the operator, never to the log.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes());
    let _ = out.flush();
    drop(out);
    if let Ok(Some(role)) = server.core.database_role().await {
        tracing::info!(database.role = %role, "PostgreSQL statements run as a role without BYPASSRLS, UPDATE or DELETE on audit rows");
    }
    tracing::info!(address = %server.addr, "listening");

    wait_for_stop_signal().await;
    tracing::info!("stop signal received; finishing in-flight requests");
    server.shutdown(GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
