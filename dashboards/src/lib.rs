//! The analysts' side: web pages and the JSON API over the warehouse, with membership and roles
//! read from Postgres on every request.

mod access;
mod api;
mod charts;
mod config;
mod csv_body;
mod error;
mod event_id;
mod export;
mod feed_params;
mod forms;
mod home;
mod labels;
mod page_headers;
mod pages;
mod prometheus;
mod view_params;
mod view_request;
mod views;

pub use config::Config;

use anyhow::Context;
use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};
use deadpool_postgres::Pool;
use service_runtime::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, PostgresCheck},
    new_registry,
};
use url::Url;

use crate::prometheus::Prometheus;

#[derive(Clone)]
struct AppState {
    postgres: Pool,
    warehouse: clickhouse::Client,
    prometheus: Prometheus,
    onboarding_url: Arc<Url>,
    /// Where a visitor without a session is sent: onboarding's sign-in page.
    sign_in_url: Arc<str>,
    /// Where browsers reach these pages: saved views' links name it.
    dashboards_url: Arc<Url>,
    /// Its origin (`http://127.0.0.1:8000`): a form posted with any other `Origin` is refused.
    origin: Arc<str>,
    /// Whether the visitor cookie the dashboards set carries `Secure` (an https address).
    cookie_secure: bool,
    /// What each member may see, for organizations that follow Jira's permissions.
    permissions: Arc<jira_permissions::Resolver>,
}

/// Every route that shows an organization's data, pages then API. Tests walk this table to
/// prove each refuses other organizations' members.
pub const ORGANIZATION_ROUTES: &[&str] = &[
    "/orgs/{organization}",
    "/orgs/{organization}/weekly",
    "/orgs/{organization}/trends",
    "/orgs/{organization}/flow",
    "/orgs/{organization}/events",
    "/orgs/{organization}/events/{id}",
    "/orgs/{organization}/troubleshooting",
    "/orgs/{organization}/export/events.csv",
    "/orgs/{organization}/views",
    "/orgs/{organization}/views/{view}",
    "/api/v1/orgs/{organization}/weekly-rates",
    "/api/v1/orgs/{organization}/trends",
    "/api/v1/orgs/{organization}/flow",
    "/api/v1/orgs/{organization}/events",
    "/api/v1/orgs/{organization}/events/{id}",
    "/api/v1/orgs/{organization}/views",
    "/orgs/{organization}/sprints",
    "/orgs/{organization}/time-logged",
    "/api/v1/orgs/{organization}/sprints",
    "/api/v1/orgs/{organization}/time-logged",
];

/// Where a saved view's delete button posts (saving posts to the list's own path).
const DELETE_SAVED_VIEW: &str = "/orgs/{organization}/views/{view}/delete";

/// Refuses an invalid configuration before anything connects, then binds the listener.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    config.validate().context("checking the configuration")?;
    let registry = new_registry()?;
    let postgres = config
        .postgres
        .pool()
        .context("configuring the Postgres pool")?;
    let warehouse = config.query_limits.apply(config.clickhouse.client());
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(ClickHouseCheck(warehouse.clone())),
            Box::new(warehouse::migrate::SchemaCheck(warehouse.clone())),
            Box::new(PostgresCheck(postgres.clone())),
        ],
    )?;
    let sign_in_url = format!(
        "{}/sign-in",
        config.onboarding_url.as_str().trim_end_matches('/')
    );
    let jira = config.jira_permissions;
    let permissions = Arc::new(jira_permissions::Resolver::new(
        postgres.clone(),
        warehouse.clone(),
        jira_permissions::BulkCheck::new(jira.app_key, jira.api_base_override),
        jira.cipher,
        jira.ttl,
        jira_permissions::VisibilityMetrics::register(&registry, "dashboards")?,
    ));
    let state = AppState {
        permissions,
        postgres,
        warehouse,
        prometheus: Prometheus::new(config.prometheus_url),
        onboarding_url: Arc::new(config.onboarding_url),
        sign_in_url: sign_in_url.into(),
        origin: config.dashboards_url.origin().ascii_serialization().into(),
        cookie_secure: config.dashboards_url.scheme() == "https",
        dashboards_url: Arc::new(config.dashboards_url),
    };
    let [
        overview,
        weekly,
        trends,
        flow,
        events,
        event,
        troubleshooting,
        export,
        saved_views,
        saved_view,
        api_weekly,
        api_trends,
        api_flow,
        api_events,
        api_event,
        api_saved_views,
        sprints,
        time_logged,
        api_sprints,
        api_time_logged,
    ] = ORGANIZATION_ROUTES
    else {
        unreachable!("the route table has twenty entries");
    };
    let routes = Router::new()
        .route("/", get(home::home))
        .route(overview, get(pages::overview::overview))
        .route(weekly, get(pages::weekly::weekly))
        .route(trends, get(pages::trends::trends))
        .route(flow, get(pages::flow::flow))
        .route(sprints, get(pages::sprints::sprints))
        .route(time_logged, get(pages::time_logged::time_logged))
        .route(events, get(pages::events::feed))
        .route(event, get(pages::events::event))
        .route(
            troubleshooting,
            get(pages::troubleshooting::troubleshooting),
        )
        .route(export, get(export::events_csv))
        .route(
            saved_views,
            get(pages::saved_views::list).post(pages::saved_views::save),
        )
        .route(saved_view, get(pages::saved_views::open))
        .route(DELETE_SAVED_VIEW, post(pages::saved_views::delete))
        .route("/api/v1/orgs", get(api::organizations))
        .route(api_weekly, get(api::weekly_rates))
        .route(api_trends, get(api::trends))
        .route(api_flow, get(api::flow))
        .route(api_sprints, get(api::sprints))
        .route(api_time_logged, get(api::time_logged))
        .route(api_events, get(api::events))
        .route(api_event, get(api::event))
        .route(api_saved_views, get(api::saved_views::saved_views))
        .route("/api/v1/openapi.json", get(api::openapi::openapi))
        .fallback(error::no_such_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forms::ensure_visitor_cookie,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forms::same_origin_posts,
        ))
        .layer(axum::middleware::from_fn(page_headers::page_headers))
        .with_state(state);
    let routes = ServiceRouter {
        registry,
        readiness,
    }
    .finish(routes)?;
    Ok(Application::bind(&config.server, routes).await?)
}
