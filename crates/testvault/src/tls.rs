//! TLS: rustls with TLS 1.3 and 1.2 only. Uses the configured certificate, or makes a self-signed
//! one for localhost/127.0.0.1 in the data directory on first start.

use crate::StartError;
use crate::config::{Config, TlsSource};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Installs aws-lc-rs as the process's one rustls provider. Call first thing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The server's TLS setup and its certificate's SHA-256 fingerprint.
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub fingerprint: String,
    pub cert_path: PathBuf,
}

pub fn load(cfg: &Config) -> Result<Tls, StartError> {
    let (cert_path, key_path) = match &cfg.tls {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned => {
            let dir = cfg.data_dir.join("tls");
            let cert = dir.join("cert.pem");
            let key = dir.join("key.pem");
            if !cert.exists() || !key.exists() {
                make_self_signed(&dir, &cert, &key, cfg)?;
            }
            (cert, key)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| {
            StartError::Tls(format!("reading certificate {}: {e}", cert_path.display()))
        })?;
    let leaf = certs
        .first()
        .ok_or_else(|| StartError::Tls(format!("{} holds no certificate", cert_path.display())))?;
    let fingerprint = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| StartError::Tls(format!("reading private key {}: {e}", key_path.display())))?;
    let mut config = ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
        cert_path,
    })
}

/// `AB:CD:…`: SHA-256 of the DER certificate, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn make_self_signed(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    cfg: &Config,
) -> Result<(), StartError> {
    crate::keyfile::ensure_data_dir(dir)?;
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let listen_ip = cfg.listen.ip();
    if !listen_ip.is_unspecified() && !names.contains(&listen_ip.to_string()) {
        names.push(listen_ip.to_string());
    }
    if let Some(host) = cfg
        .public_url
        .as_deref()
        .and_then(|u| u.strip_prefix("https://"))
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty() && !names.iter().any(|n| n == h))
    {
        names.push(host.to_string());
    }
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| StartError::Tls(e.to_string()))?;
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    fs::write(cert_path, certified.cert.pem())
        .map_err(StartError::io(format!("writing {}", cert_path.display())))?;
    tracing::info!(path = %cert_path.display(), "created a self-signed TLS certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StartError> {
    let _ = fs::remove_file(path);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(StartError::io(format!("writing {}", path.display())))
}
