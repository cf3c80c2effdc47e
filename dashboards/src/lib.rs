//! The analysts' side: web pages and the JSON API over the warehouse, with membership and roles
//! read from Postgres on every request.

mod access;
mod config;
mod error;
mod export;
mod pages;

pub use config::Config;

use std::sync::Arc;

use axum::{Router, routing::get};
use deadpool_postgres::Pool;
use service_kit::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, PostgresCheck},
    new_registry,
};
use url::Url;

#[derive(Clone)]
struct AppState {
    postgres: Pool,
    warehouse: clickhouse::Client,
    onboarding_url: Arc<Url>,
    /// Where a visitor without a session is sent: onboarding's sign-in page.
    sign_in_url: Arc<str>,
}

pub async fn build(config: Config) -> anyhow::Result<Application> {
    let registry = new_registry()?;
    let postgres = config.postgres.pool()?;
    let warehouse = config.clickhouse.client();
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(ClickHouseCheck(warehouse.clone())),
            Box::new(PostgresCheck(postgres.clone())),
        ],
    )?;
    let sign_in_url = format!(
        "{}/sign-in",
        config.onboarding_url.as_str().trim_end_matches('/')
    );
    let state = AppState {
        postgres,
        warehouse,
        onboarding_url: Arc::new(config.onboarding_url),
        sign_in_url: sign_in_url.into(),
    };
    let routes = Router::new()
        .route("/orgs/{organization}", get(pages::overview::overview))
        .route(
            "/orgs/{organization}/export/events.csv",
            get(export::events_csv),
        )
        .with_state(state);
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(routes)?;
    Ok(Application::bind(&config.server, router).await?)
}
