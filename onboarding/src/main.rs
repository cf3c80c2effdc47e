//! Config → telemetry → build → serve; everything else lives in the library so tests run it too.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("onboarding");
    let config = onboarding::Config::from_env()?;
    let app = onboarding::build(config).await?;
    app.run_until_stopped(service_kit::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
