#![forbid(unsafe_code)]
//! `testvault`: parse the command line and dispatch. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    testvault::tls::install_crypto_provider();
    let cli = testvault::cli::Cli::parse();
    match testvault::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(
            e @ (testvault::StartError::TestsFailed(_) | testvault::StartError::NewFailures(_)),
        ) => {
            eprintln!("testvault: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("testvault: error: {e}");
            ExitCode::from(2)
        }
    }
}
