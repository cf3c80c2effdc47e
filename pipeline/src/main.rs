//! Config → telemetry → build → run; everything else lives in the library so tests run it too.

use anyhow::Context;

/// Each event allocates and frees kilobytes (body, envelope, rows); glibc malloc spent a fifth
/// to a third of this process's CPU on them under load (`compose/bench/results.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("pipeline");
    let config = pipeline::Config::from_env().context("reading the configuration")?;
    let pipeline = pipeline::build(config).await?;
    pipeline
        .run_until_stopped(service_runtime::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
