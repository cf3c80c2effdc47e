//! Drains the raw topic into ClickHouse: decode each envelope, normalize the Jira payload into
//! rows, insert in batches, store offsets only for what ClickHouse accepted. It has no public
//! port: its admin port serves health, readiness and metrics.

mod batch;
mod config;
mod dead_letters;
pub mod flow_compaction;
mod insert_error;
pub mod lag;
pub mod metrics;
pub mod normalize;
pub mod retention;
pub mod sealing;
mod warehouse_sink;
mod worker;
pub mod worker_health;

pub use config::{BatchConfig, Config, ConsumerConfig, RetentionConfig};
pub use worker::{Worker, WorkerError};

use anyhow::Context;
use std::time::Duration;

use service_runtime::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, KafkaCheck},
    connections::ClickHouseConfig,
    kafka_topics::TopicsConfig,
    new_registry,
    retry::RetryPolicy,
};
use tokio_util::sync::CancellationToken;

/// The batch or message was not stored because the pipeline is stopping; its offsets must not be
/// stored, so it is read again.
#[derive(Debug)]
pub(crate) struct Abandoned;

/// The HTTP side and the consuming side; `main` runs both and stops both.
pub struct Pipeline {
    pub app: Application,
    pub worker: Worker,
    pub maintenance: Maintenance,
    /// Red in readiness once the worker has died.
    health: worker_health::WorkerHealth,
    clickhouse: ClickHouseConfig,
    brokers: String,
    topics: TopicsConfig,
}

/// Refuses an invalid configuration before anything connects, then builds both sides.
pub async fn build(config: Config) -> anyhow::Result<Pipeline> {
    config.validate().context("checking the configuration")?;
    let registry = new_registry()?;
    let metrics = metrics::PipelineMetrics::register(&registry)?;
    let health = worker_health::WorkerHealth::default();
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(KafkaCheck::new(&config.kafka.brokers)?),
            Box::new(ClickHouseCheck(config.clickhouse.client())),
            // Red until this pipeline (or another instance) has migrated the warehouse.
            Box::new(warehouse::migrate::SchemaCheck(config.clickhouse.client())),
            Box::new(health.clone()),
        ],
    )?;
    let worker = Worker::new(&config, metrics, lag::LagReporter::register(&registry)?)?;
    let retention =
        retention::Retention::new(config.clickhouse.client(), config.retention, &registry)?;
    let sealing =
        sealing::Sealing::new(config.clickhouse.client(), config.seal_interval, &registry)?;
    let flow_compaction = flow_compaction::FlowCompaction::new(
        config.clickhouse.client(),
        config.flow_compact_interval,
        &registry,
    )?;
    let routes = ServiceRouter {
        registry,
        readiness,
    }
    .admin_only()?;
    Ok(Pipeline {
        app: Application::bind(&config.server, routes).await?,
        worker,
        maintenance: Maintenance {
            retention,
            sealing,
            flow_compaction,
        },
        health,
        clickhouse: config.clickhouse.clone(),
        brokers: config.kafka.brokers.clone(),
        topics: config.topics.clone(),
    })
}

/// The jobs every pipeline instance runs beside consuming, once the warehouse is migrated.
pub struct Maintenance {
    pub retention: retention::Retention,
    pub sealing: sealing::Sealing,
    pub flow_compaction: flow_compaction::FlowCompaction,
}

impl Maintenance {
    async fn run(self, stop: CancellationToken) {
        tokio::join!(
            self.retention.run(stop.clone()),
            self.sealing.run(stop.clone()),
            self.flow_compaction.run(stop)
        );
    }
}

impl Pipeline {
    /// Migrates the warehouse and creates the topics (retrying while ClickHouse or the broker is
    /// away), then consumes until `stop`, with the maintenance jobs beside it.
    pub async fn consume(
        clickhouse: ClickHouseConfig,
        brokers: String,
        topics: TopicsConfig,
        worker: Worker,
        maintenance: Maintenance,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        const PREPARE: RetryPolicy =
            RetryPolicy::new(Duration::from_millis(500), Duration::from_secs(30));
        let prepared = PREPARE
            .until_ok(
                "cannot prepare the warehouse or topics yet",
                &stop,
                || async {
                    warehouse::migrate(&clickhouse)
                        .await
                        .context("migrating the warehouse")?;
                    topics.ensure(&brokers).await.context("creating the topics")
                },
            )
            .await;
        if prepared.is_none() {
            return Ok(());
        }
        // The jobs work on the tables the migration made, so they start after it.
        let maintenance_stop = stop.child_token();
        let maintenance = tokio::spawn(maintenance.run(maintenance_stop.clone()));
        let consumed = worker.run(stop).await;
        maintenance_stop.cancel();
        maintenance.await?;
        consumed
    }

    /// Serves the admin port and consumes until `shutdown`; then the worker flushes and
    /// commits. If the worker dies first (an insert task panicked, say), readiness turns red,
    /// the admin port stops, and the error is returned, so the process exits non-zero and its
    /// supervisor restarts it rather than leaving it up and consuming nothing.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let consumed = CancellationToken::new();
        let consuming = {
            let consumed = consumed.clone();
            let supervised = worker_health::supervise(
                self.health,
                Self::consume(
                    self.clickhouse,
                    self.brokers,
                    self.topics,
                    self.worker,
                    self.maintenance,
                    stop.clone(),
                ),
            );
            tokio::spawn(async move {
                let outcome = supervised.await;
                consumed.cancel();
                outcome
            })
        };
        let stop_on_signal = stop.clone();
        self.app
            .run_until_stopped(async move {
                tokio::select! {
                    () = shutdown => {}
                    // Consuming only ends early when it failed.
                    () = consumed.cancelled() => {}
                }
                stop_on_signal.cancel();
            })
            .await?;
        stop.cancel();
        consuming.await??;
        Ok(())
    }
}
