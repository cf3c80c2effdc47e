//! `jira-simulator`: plays Atlassian against the local stack. Everything it does lives in the
//! library; see `jira-simulator --help`.

use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use jira_simulator::cli::Cli;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, so a command's report on stdout stays clean for scripts.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jira-simulator: {err:#}");
            ExitCode::FAILURE
        }
    }
}
