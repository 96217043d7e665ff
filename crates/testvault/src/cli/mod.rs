//! Command-line interface: `serve`, `admin …`, `config show`. Help text comes from these
//! definitions.

mod admin;
mod bench;
mod bench_reports;
mod compare;
mod import_tests;
mod serve;
mod token;
mod upload;

use crate::StartError;
use crate::config::{self, Config, Layer, LogFormat};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "testvault",
    version,
    about = "Self-hosted, security-first test management and test results"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command accepts; they override the config file and the environment.
/// Secrets (master key, database URL) are deliberately not flags: use the environment or a file.
#[derive(Debug, Args, Default)]
pub struct GlobalArgs {
    /// Config file (default: ./testvault.toml when it exists; env TESTVAULT_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: database, keys, certificate (default ./testvault-data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTPS address to listen on (default 127.0.0.1:8443; port 0 picks a free port).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// The https:// address people use to reach this server (for links).
    #[arg(long, global = true, value_name = "URL")]
    pub public_url: Option<String>,
    /// Also listen for plain HTTP here, only to redirect to HTTPS (off by default).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub http_redirect_listen: Option<SocketAddr>,
    /// PEM certificate chain to serve instead of the self-signed one.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for --tls-cert-file.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log level or filter (e.g. `info`, `debug`, `testvault_core=debug`).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (HTTPS) on the embedded database or PostgreSQL.
    Serve,
    /// Administer this installation directly through its data directory and database.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Upload test reports (JUnit XML, CTRF, Allure) to a Testvault server, from CI.
    Upload(upload::UploadArgs),
    /// Compare a run with a base run (default: the latest on main): a CI quality gate that
    /// exits with status 1 on new failures.
    Compare(compare::CompareArgs),
    /// Make or update one test case per test found in source code (JavaScript/TypeScript,
    /// Python, Java, Go, Rust, C#), read statically: nothing is run.
    ImportTests(import_tests::ImportTestsArgs),
    /// Measure this machine: `bench ingest` times parsing and end-to-end result ingestion.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets redacted.
    Show,
}

impl GlobalArgs {
    fn layer(&self) -> Layer {
        Layer {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            public_url: self.public_url.clone(),
            http_redirect_listen: self.http_redirect_listen,
            tls_cert_file: self.tls_cert_file.clone(),
            tls_key_file: self.tls_key_file.clone(),
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            ..Layer::default()
        }
    }
}

/// Builds the effective configuration from file, environment and flags. Returns warnings to log.
pub fn load_config(global: &GlobalArgs) -> Result<(Config, Vec<String>), StartError> {
    let file_path = global
        .config
        .clone()
        .or_else(|| std::env::var_os("TESTVAULT_CONFIG").map(PathBuf::from));
    let file = match file_path {
        Some(path) => Some((path.clone(), config::from_file(&path)?)),
        None => {
            let default = PathBuf::from(config::DEFAULT_CONFIG_FILE);
            if default.exists() {
                Some((default.clone(), config::from_file(&default)?))
            } else {
                None
            }
        }
    };
    let (env, warnings) = config::from_env(std::env::vars())?;
    Ok((Config::resolve(file, env, global.layer())?, warnings))
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), StartError> {
    let (cfg, warnings) = load_config(&cli.global)?;
    let level = match &cli.command {
        Command::Serve => cfg.log_level.clone(),
        // Admin output is for people: only warnings unless asked for more.
        _ => cli
            .global
            .log_level
            .clone()
            .unwrap_or_else(|| "warn".into()),
    };
    crate::logging::init(cfg.log_format, &level);
    for w in warnings {
        tracing::warn!("{w}");
    }
    match cli.command {
        Command::Serve => serve::run(&cfg).await,
        Command::Admin(cmd) => admin::run(&cfg, cmd).await,
        Command::Token(cmd) => token::run(&cfg, cmd).await,
        Command::Upload(args) => {
            let outcome = upload::run(args).await?;
            if outcome.failures > 0 {
                return Err(StartError::TestsFailed(outcome.failures));
            }
            Ok(())
        }
        Command::Compare(args) => {
            let new_failures = compare::run(args).await?;
            if new_failures > 0 {
                return Err(StartError::NewFailures(new_failures));
            }
            Ok(())
        }
        Command::ImportTests(args) => import_tests::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Config(ConfigCommand::Show) => {
            print!("{}", cfg.show());
            Ok(())
        }
    }
}
