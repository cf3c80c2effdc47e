//! The front door for Jira's events: verifies each delivery (Connect JWT, Forge Invocation
//! Token, or admin-webhook HMAC) against an in-memory copy of the installations, and produces
//! it, untouched, inside an envelope to the raw topic. 202 only once the broker has it.

mod config;
mod error;
mod forge_delivery_id;
pub mod installations;
pub mod metrics;
mod routes;
mod sink;
pub mod verify;

pub use config::{Config, ProducerConfig, VerifyConfig};
pub use error::IngressError;
pub use routes::{ADMIN_WEBHOOKS, CONNECT_EVENTS, FORGE_EVENTS};

use anyhow::Context;
use std::{sync::Arc, time::Duration};

use axum::{Router, extract::DefaultBodyLimit, routing::post};
use service_runtime::{
    Application, Readiness, ServiceRouter, checks::KafkaCheck, kafka_topics::TopicsConfig,
    new_registry, retry::RetryPolicy,
};
use tokio_util::sync::CancellationToken;

use crate::{
    installations::{Installations, InstallationsLoaded},
    metrics::IngressMetrics,
    sink::EventSink,
    verify::{
        ForgeKeys, connect_jwt::ConnectVerifier, forge_fit::ForgeVerifier,
        replay_window::ReplayWindow, seen_tokens::SeenTokens,
    },
};
use atlassian_auth::forge_fit::FitVerifier;

#[derive(Clone)]
pub(crate) struct AppState {
    installations: Installations,
    connect: Arc<ConnectVerifier>,
    forge: Arc<ForgeVerifier>,
    replay_window: ReplayWindow,
    sink: Arc<EventSink>,
    /// Behind an `Arc` as the state is cloned for every request: cloning the metrics themselves
    /// cloned and dropped a dozen handles each time (2.5 % of ingress's CPU under load).
    metrics: Arc<IngressMetrics>,
    max_body_bytes: usize,
    body_read_timeout: Duration,
}

/// Refuses an invalid configuration, starts following the installations and creating the topics
/// in the background (neither may hold up startup: readiness reports them), then binds the
/// listener.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    config.validate().context("checking the configuration")?;
    let registry = new_registry()?;
    let metrics = IngressMetrics::register(&registry)?;
    let installations = Installations::default();
    tokio::spawn(installations.clone().follow(
        config.postgres.url.clone(),
        config.cipher.clone(),
        config.installations_resync,
        CancellationToken::new(),
    ));
    tokio::spawn(create_topics(
        config.kafka.brokers.clone(),
        config.topics.clone(),
    ));
    let sink = Arc::new(EventSink::new(
        &config.kafka.brokers,
        &config.producer,
        &config.topics,
    )?);
    let forge = Arc::new(ForgeVerifier {
        fit: FitVerifier {
            keys: ForgeKeys::new(config.verify.forge.jwks_url.clone()),
            app_id: config.verify.forge.app_id.clone(),
            leeway_secs: config.verify.jwt_leeway_secs,
        },
        seen: SeenTokens::new(
            verify::seen_tokens::DEFAULT_CAPACITY,
            config.verify.jwt_leeway_secs,
        ),
    });
    tokio::spawn(sample_gauges(
        Arc::clone(&sink),
        installations.clone(),
        Arc::clone(&forge),
        metrics.clone(),
    ));
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(KafkaCheck::new(&config.kafka.brokers)?),
            Box::new(InstallationsLoaded(installations.clone())),
        ],
    )?;
    let state = AppState {
        installations,
        connect: Arc::new(ConnectVerifier {
            base_path: config.verify.public_base_url.path().to_owned(),
            leeway_secs: config.verify.jwt_leeway_secs,
        }),
        forge,
        replay_window: ReplayWindow(config.verify.replay_window),
        sink,
        metrics: Arc::new(metrics),
        max_body_bytes: config.max_body_bytes,
        body_read_timeout: config.body_read_timeout,
    };
    let events = Router::new()
        .route(CONNECT_EVENTS, post(routes::connect_events))
        .route(FORGE_EVENTS, post(routes::forge_events))
        .route(ADMIN_WEBHOOKS, post(routes::admin_webhooks))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .fallback(routes::no_such_route)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state);
    let service_routes = ServiceRouter {
        registry,
        readiness,
    }
    .finish(events)?
    // Again for the icon `finish` added, so every 4xx of ours is JSON.
    .map_public(|public| public.method_not_allowed_fallback(routes::method_not_allowed));
    Ok(Application::bind(&config.server, service_routes).await?)
}

/// Creates the topics in the background: ingress serves (and answers 503) while the broker is
/// away, so the wait must not hold up the listener.
async fn create_topics(brokers: String, topics: TopicsConfig) {
    const WAIT: RetryPolicy = RetryPolicy::new(Duration::from_millis(500), Duration::from_secs(30));
    WAIT.until_ok(
        "cannot create topics yet",
        &CancellationToken::new(),
        || topics.ensure(&brokers),
    )
    .await;
}

/// Gauges that are read rather than counted, refreshed every second.
async fn sample_gauges(
    sink: Arc<EventSink>,
    installations: Installations,
    forge: Arc<ForgeVerifier>,
    metrics: IngressMetrics,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        metrics.queue_depth.set(i64::from(sink.queue_depth()));
        metrics.installations.set(installations.len() as i64);
        let tracked = forge.seen.tracked(verify::now_secs());
        metrics
            .forge_tokens
            .set(i64::try_from(tracked).unwrap_or(i64::MAX));
    }
}
