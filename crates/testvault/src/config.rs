//! Configuration, typed and layered: defaults < `testvault.toml` < `TESTVAULT_*` environment <
//! command-line flags. Secrets (master key, database URL) also come from `*_FILE` variables and
//! never from flags; `testvault config show` prints the result with secrets redacted.

use crate::StartError;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use testvault_store::Secret;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_DATA_DIR: &str = "./testvault-data";
pub const DEFAULT_CONFIG_FILE: &str = "testvault.toml";
const ENV_PREFIX: &str = "TESTVAULT_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One layer of settings; every field optional so layers can be stacked.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub database_url: Option<String>,
    pub master_key: Option<String>,
    pub http_redirect_listen: Option<SocketAddr>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub trusted_proxies: Option<Vec<IpAddr>>,
    pub body_limit_bytes: Option<usize>,
    pub upload_limit_bytes: Option<u64>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub token_max_days: Option<i64>,
    /// `name=count,…`: see `RateLimits`.
    pub rate_limits: Option<String>,
    /// PEM certificates trusted (besides the system's) for HTTPS to identity providers.
    pub trusted_ca_file: Option<PathBuf>,
    /// The only hosts identity-provider fetches may reach (`*.example.com` allowed); unset: any.
    pub sso_provider_hosts: Option<Vec<String>>,
}

macro_rules! overlay {
    ($base:ident, $top:ident, $($f:ident),*) => { $( if $top.$f.is_some() { $base.$f = $top.$f; } )* };
}

impl Layer {
    /// `top`'s settings win over `self`'s.
    pub fn overlay(mut self, top: Layer) -> Layer {
        overlay!(
            self,
            top,
            data_dir,
            listen,
            public_url,
            database_url,
            master_key,
            http_redirect_listen,
            tls_cert_file,
            tls_key_file,
            log_format,
            log_level,
            trusted_proxies,
            body_limit_bytes,
            upload_limit_bytes,
            smtp_url,
            mail_from,
            token_max_days,
            rate_limits,
            trusted_ca_file,
            sso_provider_hosts
        );
        self
    }
}

/// Every environment variable we read (without the prefix); anything else with the prefix is
/// reported as unknown. Secrets also have a `_FILE` form.
const ENV_KEYS: &[&str] = &[
    "CONFIG",
    "DATA_DIR",
    "LISTEN",
    "PUBLIC_URL",
    "DATABASE_URL",
    "MASTER_KEY",
    "HTTP_REDIRECT_LISTEN",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "TRUSTED_PROXIES",
    "BODY_LIMIT_BYTES",
    "UPLOAD_LIMIT_BYTES",
    "SMTP_URL",
    "MAIL_FROM",
    "TOKEN_MAX_DAYS",
    "RATE_LIMITS",
    "TRUSTED_CA_FILE",
    "SSO_PROVIDER_HOSTS",
];
const SECRET_KEYS: &[&str] = &["DATABASE_URL", "MASTER_KEY", "SMTP_URL"];

fn bad_env(key: &str, why: impl std::fmt::Display) -> StartError {
    StartError::Config(format!("{ENV_PREFIX}{key}: {why}"))
}

/// Reads the `TESTVAULT_*` layer from `vars`. Returns the layer and warnings for unknown names.
pub fn from_env(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(Layer, Vec<String>), StartError> {
    let mut layer = Layer::default();
    let mut warnings = Vec::new();
    for (name, value) in vars {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let (key, value) = match key.strip_suffix("_FILE") {
            Some(base) if SECRET_KEYS.contains(&base) => {
                let text = std::fs::read_to_string(&value)
                    .map_err(|e| bad_env(key, format!("cannot read {value}: {e}")))?;
                (base, text.trim().to_string())
            }
            _ => (key, value),
        };
        let parse_err = |e: &dyn std::fmt::Display| bad_env(key, e);
        match key {
            "CONFIG" => {}
            "DATA_DIR" => layer.data_dir = Some(value.into()),
            "LISTEN" => layer.listen = Some(value.parse().map_err(|e| parse_err(&e))?),
            "PUBLIC_URL" => layer.public_url = Some(value),
            "DATABASE_URL" => layer.database_url = Some(value),
            "MASTER_KEY" => layer.master_key = Some(value),
            "HTTP_REDIRECT_LISTEN" => {
                layer.http_redirect_listen = Some(value.parse().map_err(|e| parse_err(&e))?)
            }
            "TLS_CERT_FILE" => layer.tls_cert_file = Some(value.into()),
            "TLS_KEY_FILE" => layer.tls_key_file = Some(value.into()),
            "LOG_FORMAT" => {
                layer.log_format = Some(match value.to_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(bad_env(key, "must be `text` or `json`")),
                })
            }
            "LOG_LEVEL" => layer.log_level = Some(value),
            "TRUSTED_PROXIES" => {
                layer.trusted_proxies = Some(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse().map_err(|e| parse_err(&e)))
                        .collect::<Result<_, _>>()?,
                )
            }
            "BODY_LIMIT_BYTES" => {
                layer.body_limit_bytes = Some(value.parse().map_err(|e| parse_err(&e))?)
            }
            "UPLOAD_LIMIT_BYTES" => {
                layer.upload_limit_bytes = Some(value.parse().map_err(|e| parse_err(&e))?)
            }
            "SMTP_URL" => layer.smtp_url = Some(value),
            "TOKEN_MAX_DAYS" => {
                layer.token_max_days = Some(value.parse().map_err(|e| parse_err(&e))?)
            }
            "MAIL_FROM" => layer.mail_from = Some(value),
            "RATE_LIMITS" => layer.rate_limits = Some(value),
            "TRUSTED_CA_FILE" => layer.trusted_ca_file = Some(value.into()),
            "SSO_PROVIDER_HOSTS" => {
                layer.sso_provider_hosts = Some(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                )
            }
            _ => warnings.push(format!(
                "ignoring unknown environment variable {name} (known: {})",
                ENV_KEYS
                    .iter()
                    .map(|k| format!("{ENV_PREFIX}{k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    Ok((layer, warnings))
}

/// Reads a TOML config file as a layer.
pub fn from_file(path: &Path) -> Result<Layer, StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(StartError::io(format!("reading {}", path.display())))?;
    toml::from_str(&text).map_err(|e| StartError::Config(format!("{}: {e}", path.display())))
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseChoice {
    /// The embedded SQLCipher file in the data directory.
    Sqlite(PathBuf),
    Postgres(Secret),
}

#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Made on first start in `<data dir>/tls/`.
    SelfSigned,
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Set explicitly; otherwise derived from the bound address (see `public_url_for`).
    pub public_url: Option<String>,
    pub database: DatabaseChoice,
    /// From the environment or config file; otherwise `<data dir>/master.key` is used or made.
    pub master_key: Option<Secret>,
    pub http_redirect_listen: Option<SocketAddr>,
    pub tls: TlsSource,
    pub log_format: LogFormat,
    pub log_level: String,
    pub trusted_proxies: Vec<IpAddr>,
    pub body_limit_bytes: usize,
    /// Largest report upload, as sent (streamed; default 4 GiB).
    pub upload_limit_bytes: u64,
    /// Outgoing mail; without it invitation links are shown to the inviter and logged.
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    /// The longest API token lifetime anyone may ask for.
    pub token_max_days: i64,
    /// How many attempts each throttle lets through before lock-outs start.
    pub rate_limits: testvault_domain::RateLimits,
    /// PEM certificates trusted (besides the system's) for HTTPS to identity providers.
    pub trusted_ca_file: Option<PathBuf>,
    /// The only hosts identity-provider fetches may reach; empty: any.
    pub sso_provider_hosts: Vec<String>,
    /// Where each layer came from, for `config show`.
    pub sources: Vec<String>,
}

impl Config {
    /// The address for links: the configured `public_url`, else the address actually bound
    /// (`localhost` when listening on all interfaces).
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None if bound.ip().is_unspecified() => format!("https://localhost:{}", bound.port()),
            None => format!("https://{bound}"),
        }
    }

    /// Resolves the layers (defaults under `file` under `env` under `flags`) and checks them.
    pub fn resolve(
        file: Option<(PathBuf, Layer)>,
        env: Layer,
        flags: Layer,
    ) -> Result<Config, StartError> {
        let mut sources = vec!["defaults".to_string()];
        let mut merged = Layer::default();
        if let Some((path, layer)) = file {
            sources.push(format!("file {}", path.display()));
            merged = merged.overlay(layer);
        }
        sources.push("environment".into());
        sources.push("flags".into());
        let m = merged.overlay(env).overlay(flags);

        let data_dir = m
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen = match m.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| StartError::Config("bad default listen address".into()))?,
        };
        let public_url = m.public_url.map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = public_url.as_deref().filter(|u| !u.starts_with("https://")) {
            return Err(StartError::Insecure(format!(
                "public_url must be an https:// address (got {url}); Testvault serves HTTPS only"
            )));
        }
        let database = match m.database_url.filter(|u| !u.trim().is_empty()) {
            None => DatabaseChoice::Sqlite(data_dir.join("testvault.db")),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseChoice::Postgres(Secret::new(url))
            }
            Some(_) => {
                return Err(StartError::Config(
                    "database_url must be a postgres:// URL; leave it unset for the embedded database".into(),
                ));
            }
        };
        let tls = match (m.tls_cert_file, m.tls_key_file) {
            (None, None) => TlsSource::SelfSigned,
            (Some(cert), Some(key)) => TlsSource::Files { cert, key },
            _ => {
                return Err(StartError::Config(
                    "tls_cert_file and tls_key_file must be given together".into(),
                ));
            }
        };
        let body_limit_bytes = m.body_limit_bytes.unwrap_or(1024 * 1024);
        if !(1024..=1024 * 1024 * 1024).contains(&body_limit_bytes) {
            return Err(StartError::Config(
                "body_limit_bytes must be between 1 KiB and 1 GiB".into(),
            ));
        }
        let upload_limit_bytes = m.upload_limit_bytes.unwrap_or(4 * 1024 * 1024 * 1024);
        if upload_limit_bytes < 1024 {
            return Err(StartError::Config(
                "upload_limit_bytes must be at least 1 KiB".into(),
            ));
        }
        Ok(Config {
            data_dir,
            listen,
            public_url,
            database,
            master_key: m.master_key.map(Secret::new),
            http_redirect_listen: m.http_redirect_listen,
            tls,
            log_format: m.log_format.unwrap_or_default(),
            log_level: m.log_level.unwrap_or_else(|| "info".into()),
            trusted_proxies: m.trusted_proxies.unwrap_or_default(),
            body_limit_bytes,
            upload_limit_bytes,
            smtp_url: m.smtp_url.filter(|u| !u.trim().is_empty()).map(Secret::new),
            mail_from: m
                .mail_from
                .unwrap_or_else(|| "Testvault <testvault@localhost>".into()),
            token_max_days: match m.token_max_days {
                None => 365,
                Some(d) if (1..=3650).contains(&d) => d,
                Some(_) => {
                    return Err(StartError::Config(
                        "token_max_days must be between 1 and 3650".into(),
                    ));
                }
            },
            rate_limits: testvault_domain::RateLimits::parse(
                m.rate_limits.as_deref().unwrap_or(""),
            )
            .map_err(|e| StartError::Config(e.to_string()))?,
            trusted_ca_file: m.trusted_ca_file,
            sso_provider_hosts: m.sso_provider_hosts.unwrap_or_default(),
            sources,
        })
    }

    /// The effective configuration as TOML, with secrets redacted.
    pub fn show(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            data_dir: String,
            listen: String,
            public_url: String,
            database: String,
            master_key: String,
            http_redirect_listen: Option<String>,
            tls_cert_file: Option<String>,
            tls_key_file: Option<String>,
            log_format: LogFormat,
            log_level: &'a str,
            trusted_proxies: Vec<String>,
            body_limit_bytes: usize,
            upload_limit_bytes: u64,
            smtp_url: String,
            mail_from: &'a str,
            token_max_days: i64,
            rate_limits: String,
            trusted_ca_file: Option<String>,
            sso_provider_hosts: Vec<String>,
        }
        let (cert, key) = match &self.tls {
            TlsSource::SelfSigned => (None, None),
            TlsSource::Files { cert, key } => (
                Some(cert.display().to_string()),
                Some(key.display().to_string()),
            ),
        };
        let shown = Shown {
            data_dir: self.data_dir.display().to_string(),
            listen: self.listen.to_string(),
            public_url: self.public_url_for(self.listen),
            database: match &self.database {
                DatabaseChoice::Sqlite(p) => format!("sqlite (SQLCipher) at {}", p.display()),
                DatabaseChoice::Postgres(url) => redact_url(url.expose()),
            },
            master_key: match &self.master_key {
                Some(_) => "<redacted> (from environment or config file)".into(),
                None => format!(
                    "<redacted> (file {})",
                    self.data_dir
                        .join(crate::keyfile::MASTER_KEY_FILE)
                        .display()
                ),
            },
            http_redirect_listen: self.http_redirect_listen.map(|a| a.to_string()),
            tls_cert_file: cert.or_else(|| {
                Some(format!(
                    "{} (self-signed)",
                    self.data_dir.join("tls/cert.pem").display()
                ))
            }),
            tls_key_file: key,
            log_format: self.log_format,
            log_level: &self.log_level,
            trusted_proxies: self.trusted_proxies.iter().map(|i| i.to_string()).collect(),
            body_limit_bytes: self.body_limit_bytes,
            upload_limit_bytes: self.upload_limit_bytes,
            smtp_url: self.smtp_url.as_ref().map_or_else(
                || "(none: invitation links are shown to the inviter and logged)".to_string(),
                |u| redact_url(u.expose()),
            ),
            mail_from: &self.mail_from,
            token_max_days: self.token_max_days,
            rate_limits: self.rate_limits.to_setting(),
            trusted_ca_file: self
                .trusted_ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
            sso_provider_hosts: self.sso_provider_hosts.clone(),
        };
        let body = toml::to_string(&shown).unwrap_or_else(|e| format!("# could not render: {e}\n"));
        format!(
            "# effective configuration (layers: {})\n{body}",
            self.sources.join(" < ")
        )
    }
}

/// `postgres://user:pass@host/db` → `postgres://user:<redacted>@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<redacted>".into();
    };
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let host = host.split_once('?').map_or(host, |(h, _)| h);
    match userinfo {
        Some(u) => {
            let user = u.split_once(':').map_or(u, |(user, _)| user);
            format!("{scheme}://{user}:<redacted>@{host}")
        }
        None => format!("{scheme}://{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn layers_stack_defaults_file_env_flags() -> Result<(), StartError> {
        let file: Layer = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\ndata_dir = \"/file\"",
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        let (env, warnings) = from_env(env(&[
            ("TESTVAULT_LISTEN", "127.0.0.1:9100"),
            ("TESTVAULT_DATA_DIR", "/env"),
        ]))?;
        assert!(warnings.is_empty());
        let flags = Layer {
            data_dir: Some("/flag".into()),
            ..Layer::default()
        };
        let cfg = Config::resolve(Some(("t.toml".into(), file)), env, flags)?;
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(cfg.log_level, "debug");
        assert_eq!(cfg.data_dir, PathBuf::from("/flag"));
        assert_eq!(cfg.public_url_for(cfg.listen), "https://127.0.0.1:9100");
        Ok(())
    }

    #[test]
    fn rate_limits_come_from_the_file_or_the_environment_and_are_checked() -> Result<(), StartError>
    {
        let file: Layer = toml::from_str("rate_limits = \"sign_in_per_ip=50\"")
            .map_err(|e| StartError::Config(e.to_string()))?;
        let (from_vars, _) = from_env(env(&[(
            "TESTVAULT_RATE_LIMITS",
            "second_factor_per_user=3",
        )]))?;
        let cfg = Config::resolve(Some(("t.toml".into(), file)), from_vars, Layer::default())?;
        // The environment's whole setting wins over the file's.
        assert_eq!(cfg.rate_limits.second_factor_per_user, 3);
        assert_eq!(cfg.rate_limits.sign_in_per_ip, 20);
        assert!(cfg.show().contains("second_factor_per_user=3"));
        let (bad, _) = from_env(env(&[("TESTVAULT_RATE_LIMITS", "sign_in_per_ip=0")]))?;
        assert!(Config::resolve(None, bad, Layer::default()).is_err());
        Ok(())
    }

    #[test]
    fn unknown_variables_are_warned_about() -> Result<(), StartError> {
        let (_, warnings) = from_env(env(&[("TESTVAULT_LISTN", "x"), ("PATH", "/bin")]))?;
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("TESTVAULT_LISTN"));
        Ok(())
    }

    #[test]
    fn secrets_come_from_files_and_are_redacted() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("db-url");
        std::fs::write(
            &path,
            "postgres://app:hunter2-secret@db.internal/testvault\n",
        )?;
        let path_s = path.display().to_string();
        let (env, _) = from_env(env(&[
            ("TESTVAULT_DATABASE_URL_FILE", &path_s),
            ("TESTVAULT_MASTER_KEY", "abcd"),
        ]))?;
        let cfg = Config::resolve(None, env, Layer::default())?;
        let shown = cfg.show();
        assert!(
            shown.contains("postgres://app:<redacted>@db.internal/testvault"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("abcd"));
        assert!(!format!("{cfg:?}").contains("hunter2"));
        Ok(())
    }

    #[test]
    fn refuses_plain_http_public_url_and_half_tls() {
        let flags = Layer {
            public_url: Some("http://x".into()),
            ..Layer::default()
        };
        assert!(matches!(
            Config::resolve(None, Layer::default(), flags),
            Err(StartError::Insecure(_))
        ));
        let flags = Layer {
            tls_cert_file: Some("c".into()),
            ..Layer::default()
        };
        assert!(Config::resolve(None, Layer::default(), flags).is_err());
    }

    #[test]
    fn file_with_unknown_key_is_an_error() {
        assert!(toml::from_str::<Layer>("lissten = \"x\"").is_err());
    }
}
