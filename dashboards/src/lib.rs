//! The analysts' side: web pages and the JSON API over the warehouse, with membership and roles
//! read from Postgres.

mod config;

pub use config::Config;

use axum::Router;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, PostgresCheck},
    new_registry,
};

pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(ClickHouseCheck(config.clickhouse.client())),
            Box::new(PostgresCheck(config.postgres.pool()?)),
        ],
    )?;
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new())?;
    Ok(Application::bind(&config.server, router).await?)
}
