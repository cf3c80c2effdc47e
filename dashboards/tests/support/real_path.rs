//! The real path from Jira to ClickHouse, in process: the simulator signs each event,
//! onboarding takes the signed install, the real ingress takes the events, the stack's broker
//! carries them on topics of the test's own, and the real pipeline stores them. For the tests
//! that compare the dashboards' numbers with ones computed from what the simulator sent.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures::StreamExt;
use jira_simulator::{ConnectInstallation, DeliveryOptions, Simulator, SimulatorConfig, Target};
use serde_json::Value;
use test_kit::{Stack, TestApp, eventually, fresh_topics, unique};
use tokio_util::sync::CancellationToken;

const PUBLIC_BASE_URL: &str = "https://metafrazo.test";
const STORED_WITHIN: Duration = Duration::from_secs(240);

/// Onboarding (to take the signed install), ingress and the pipeline in process, on one Postgres
/// and one ClickHouse, with topics of their own on the stack's broker.
pub struct RealPath {
    pub sim: Simulator,
    pub target: Target,
    _onboarding: TestApp,
    _ingress: TestApp,
    _pipeline: TestApp,
    stop: CancellationToken,
    consuming: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub postgres: service_runtime::connections::PostgresConfig,
    pub clickhouse: service_runtime::connections::ClickHouseConfig,
}

impl RealPath {
    pub async fn start() -> Self {
        let stack = Stack::from_env();
        let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
        let postgres = stack.fresh_postgres().await;
        let clickhouse = stack.fresh_clickhouse().await;
        warehouse::migrate(&clickhouse).await.unwrap();

        let mut onboarding_config = onboarding::Config::from_env().unwrap();
        onboarding_config.server.listen_on_free_ports();
        onboarding_config.server.deployment = service_runtime::config::Deployment::Local;
        onboarding_config.postgres = postgres.clone();
        onboarding_config.clickhouse = clickhouse.clone();
        onboarding_config.atlassian.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        onboarding_config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
        onboarding_config.atlassian.forge.jwks_url = sim.jwks_url().unwrap();
        let onboarding = TestApp::spawn(onboarding::build(onboarding_config).await.unwrap());

        let topics = fresh_topics(&stack.kafka.brokers, 2).await;
        let mut ingress_config = ingress::Config::from_env().unwrap();
        ingress_config.server.listen_on_free_ports();
        ingress_config.server.deployment = service_runtime::config::Deployment::Local;
        ingress_config.postgres = postgres.clone();
        ingress_config.topics = topics.clone();
        ingress_config.verify.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        ingress_config.verify.forge.jwks_url = sim.jwks_url().unwrap();
        let ingress = TestApp::spawn(ingress::build(ingress_config).await.unwrap());
        ingress.wait_until_ready().await;

        let mut pipeline_config = pipeline::Config::from_env().unwrap();
        pipeline_config.server.listen_on_free_ports();
        pipeline_config.clickhouse = clickhouse.clone();
        pipeline_config.topics = topics.clone();
        pipeline_config.consumer.group = unique("group");
        pipeline_config.batch.max_wait = Duration::from_millis(200);
        let built = pipeline::build(pipeline_config).await.unwrap();
        let stop = CancellationToken::new();
        let consuming = tokio::spawn(pipeline::Pipeline::consume(
            clickhouse.clone(),
            stack.kafka.brokers.clone(),
            topics,
            built.worker,
            built.maintenance,
            stop.clone(),
        ));
        let target = Target::new(
            onboarding.address.parse().unwrap(),
            ingress.address.parse().unwrap(),
        );
        Self {
            sim,
            target,
            _onboarding: onboarding,
            _ingress: ingress,
            _pipeline: TestApp::spawn(built.app),
            stop,
            consuming,
            postgres,
            clickhouse,
        }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        self.consuming.await.unwrap().unwrap();
    }
}

/// One delivery as the test sends it.
pub struct Sent {
    pub at_ms: i64,
    pub identifier: String,
    pub body: Value,
}

/// Sends every delivery signed as Jira would, in runs of five sent newest first and several at
/// once, with every fifth delivery sent again (a retry Jira made), and waits until ClickHouse
/// holds each delivery once.
pub async fn stream(
    path: &RealPath,
    installation: &ConnectInstallation,
    deliveries: &[Sent],
    warehouse: &clickhouse::Client,
) {
    let send = |delivery: &Sent| {
        let options = DeliveryOptions {
            max_retries: 5,
            backoff: Duration::from_millis(200),
            identifier: Some(delivery.identifier.clone()),
            ..DeliveryOptions::default()
        };
        let body = delivery.body.clone();
        async move {
            path.sim
                .send_connect_event(&path.target, installation, &body, options)
                .await
                .unwrap()
        }
    };
    let mut order: Vec<&Sent> = Vec::new();
    for run in deliveries.chunks(5) {
        order.extend(run.iter().rev());
    }
    let resent: Vec<&Sent> = deliveries.iter().step_by(5).collect();
    order.extend(resent);
    let refused: Vec<_> = futures::stream::iter(order)
        .map(send)
        .buffered(4)
        .filter(|delivery| std::future::ready(!delivery.is_accepted()))
        .collect()
        .await;
    assert!(refused.is_empty(), "refused: {refused:?}");
    eventually(STORED_WITHIN, "every delivery in ClickHouse", || async {
        let stored: u64 = warehouse
            .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
            .fetch_one()
            .await
            .map_err(|err| err.to_string())?;
        if stored == deliveries.len() as u64 {
            Ok(())
        } else {
            Err(format!("{stored} of {}", deliveries.len()))
        }
    })
    .await;
}
