//! The front door for Jira's events: verifies each delivery and produces it to the raw topic.

mod config;

pub use config::Config;

use axum::Router;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{KafkaCheck, PostgresCheck},
    new_registry,
};

/// Connects (lazily) to Kafka and Postgres and binds the listener.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let postgres = config.postgres.pool()?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(KafkaCheck::new(&config.kafka.brokers)?),
            Box::new(PostgresCheck(postgres)),
        ],
    )?;
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new())?;
    Ok(Application::bind(&config.server, router).await?)
}
