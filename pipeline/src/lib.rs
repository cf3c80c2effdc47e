//! Drains the raw topic into ClickHouse. It has no API of its own; its HTTP port serves only
//! health and metrics.

mod config;

pub use config::Config;

use axum::Router;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, KafkaCheck},
    new_registry,
};

pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(KafkaCheck::new(&config.kafka.brokers)?),
            Box::new(ClickHouseCheck(config.clickhouse.client())),
        ],
    )?;
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new())?;
    Ok(Application::bind(&config.server, router).await?)
}
