#![forbid(unsafe_code)]
//! The `testvault` binary's library: configuration, keys on disk, TLS, the server, and the CLI
//! commands. `main.rs` only parses arguments and dispatches here; tests start servers through it.

pub mod cli;
pub mod config;
pub mod keyfile;
pub mod logging;
pub mod mail;
pub mod outbound;
pub mod server;
pub mod tls;

/// A start-up failure, said so that an operator knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("refusing to start: {0}")]
    Insecure(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("database: {0}")]
    Store(#[from] testvault_store::StoreError),
    #[error("{0}")]
    Core(#[from] testvault_core::CoreError),
    /// `upload --fail-on-failures` saw this many failed or errored tests (exit status 1).
    #[error("{0} tests failed or errored")]
    TestsFailed(i64),
    /// `compare` found this many new failures (exit status 1: the quality gate).
    #[error("quality gate: {0} new failures")]
    NewFailures(i64),
}

impl StartError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
        let context = context.into();
        move |source| StartError::Io { context, source }
    }
}
