//! How every customer starts: Atlassian's install callbacks, the setup email and link, accounts,
//! organizations and their members. Owns the Postgres schema.

mod config;

pub use config::Config;

use axum::Router;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{PostgresCheck, SmtpCheck},
    new_registry,
};

pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(PostgresCheck(config.postgres.pool()?)),
            Box::new(SmtpCheck(config.smtp.transport()?)),
        ],
    )?;
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new())?;
    Ok(Application::bind(&config.server, router).await?)
}
