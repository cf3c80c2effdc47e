//! `warehouse-migrate`: applies the warehouse's ClickHouse migrations (the pipeline also does at
//! start). Reads `CLICKHOUSE_URL`, `CLICKHOUSE_DATABASE`, `CLICKHOUSE_USER`, `CLICKHOUSE_PASSWORD`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("warehouse-migrate");
    let config = service_runtime::connections::ClickHouseConfig::from_env()?;
    config.validate()?;
    let applied = warehouse::migrate(&config).await?;
    tracing::info!(
        database = %config.database,
        ?applied,
        version = warehouse::migrate::latest_version(),
        "warehouse schema up to date"
    );
    Ok(())
}
