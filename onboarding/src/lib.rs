//! How every customer starts: Atlassian's install callbacks, the setup email and link, accounts,
//! organizations and their members. Owns the Postgres schema.

pub mod atlassian;
mod config;
pub mod db;
pub mod webhook_connections;

pub use config::{AtlassianConfig, Config};

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};
use deadpool_postgres::Pool;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{PostgresCheck, SmtpCheck},
    new_registry,
    secret_cipher::SecretCipher,
};

use crate::atlassian::{descriptor, install_keys::InstallKeys};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub postgres: Pool,
    pub atlassian: Arc<AtlassianConfig>,
    pub install_keys: InstallKeys,
    pub cipher: SecretCipher,
}

/// Migrates the schema (fails if Postgres cannot be reached: nothing works without it), then
/// binds the listener.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let postgres = config.postgres.pool()?;
    db::migrate(&postgres).await?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(PostgresCheck(postgres.clone())),
            Box::new(SmtpCheck(config.smtp.transport()?)),
        ],
    )?;
    let state = AppState {
        postgres,
        install_keys: InstallKeys::new(config.atlassian.install_keys_url.clone()),
        atlassian: Arc::new(config.atlassian),
        cipher: config.cipher,
    };
    let routes = Router::new()
        .route("/atlassian-connect.json", get(descriptor::descriptor))
        .route(
            &format!("{}/{{event}}", descriptor::LIFECYCLE_PATH),
            post(atlassian::lifecycle),
        )
        // Lifecycle bodies are a few hundred bytes.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state);
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(routes)?;
    Ok(Application::bind(&config.server, router).await?)
}
