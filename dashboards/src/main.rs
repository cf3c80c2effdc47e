//! Config → telemetry → build → serve; everything else lives in the library so tests run it too.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("dashboards");
    let config = dashboards::Config::from_env()?;
    let app = dashboards::build(config).await?;
    app.run_until_stopped(service_runtime::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
