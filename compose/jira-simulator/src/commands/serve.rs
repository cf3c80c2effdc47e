//! `serve`: the key server, until SIGTERM or Ctrl-C.

use anyhow::Context;

use crate::{cli::ServeArgs, config::SimulatorConfig, simulator::Simulator};

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        addr: args.addr,
        key_file: Some(args.key.key_file),
        installations_file: Some(args.installations),
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::start(config)
        .await
        .context("starting the simulator")?;
    let url = simulator.url().context("the key server has no address")?;
    println!("install key  {url}install-keys/{}", simulator.kid());
    println!("forge jwks   {url}forge/jwks.json");
    println!("jira api     {url}rest/api/3/user/email?accountId=…");
    println!("oauth        {url}authorize (client metafrazo-local)");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    simulator.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}
