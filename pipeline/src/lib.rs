//! Drains the raw topic into ClickHouse: decode each envelope, normalize the Jira payload into
//! rows, insert in batches, store offsets only for what ClickHouse accepted. Its HTTP port
//! serves only health and metrics.

mod batch;
mod config;
pub mod lag;
pub mod metrics;
pub mod normalize;
pub mod retention;
mod warehouse_sink;
mod worker;

pub use config::{BatchConfig, Config, ConsumerConfig, RetentionConfig};
pub use worker::Worker;

use std::time::Duration;

use axum::Router;
use service_runtime::{
    Application, Readiness, ServiceRouter,
    checks::{ClickHouseCheck, KafkaCheck},
    kafka_topics::{self, TopicSpec},
    new_registry,
};
use tokio_util::sync::CancellationToken;

/// The HTTP side and the consuming side; `main` runs both and stops both.
pub struct Pipeline {
    pub app: Application,
    pub worker: Worker,
    pub retention: retention::Retention,
    clickhouse: clickhouse::Client,
    brokers: String,
    raw_topic: String,
    dead_letter_topic: String,
}

pub async fn build(config: Config) -> anyhow::Result<Pipeline> {
    let registry = new_registry()?;
    let metrics = metrics::PipelineMetrics::register(&registry)?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(KafkaCheck::new(&config.kafka.brokers)?),
            Box::new(ClickHouseCheck(config.clickhouse.client())),
        ],
    )?;
    let worker = Worker::new(&config, metrics, lag::LagReporter::register(&registry)?)?;
    let retention =
        retention::Retention::new(config.clickhouse.client(), config.retention, &registry)?;
    let router = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new())?;
    Ok(Pipeline {
        app: Application::bind(&config.server, router).await?,
        worker,
        retention,
        clickhouse: config.clickhouse.client(),
        brokers: config.kafka.brokers.clone(),
        raw_topic: config.consumer.raw_topic.clone(),
        dead_letter_topic: config.consumer.dead_letter_topic.clone(),
    })
}

impl Pipeline {
    /// Migrates the warehouse and creates the topics (retrying while ClickHouse or the broker is
    /// away), then consumes until `stop`, with the retention job beside it.
    pub async fn consume(
        clickhouse: clickhouse::Client,
        brokers: String,
        topics: (String, String),
        worker: Worker,
        retention: retention::Retention,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(500);
        loop {
            let prepared = async {
                warehouse::migrate(&clickhouse).await?;
                kafka_topics::ensure(
                    &brokers,
                    &[
                        TopicSpec {
                            name: &topics.0,
                            partitions: 8,
                        },
                        TopicSpec {
                            name: &topics.1,
                            partitions: 1,
                        },
                    ],
                )
                .await
            };
            match prepared.await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "cannot prepare the warehouse or topics yet")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(backoff) => {},
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        // The job drops partitions of the tables the migration made, so it starts after it.
        let retention_stop = stop.child_token();
        let retention = tokio::spawn(retention.run(retention_stop.clone()));
        let consumed = worker.run(stop).await;
        retention_stop.cancel();
        retention.await?;
        consumed
    }

    /// Serves HTTP and consumes until `shutdown`; then the worker flushes and commits.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let consuming = tokio::spawn(Self::consume(
            self.clickhouse,
            self.brokers,
            (self.raw_topic, self.dead_letter_topic),
            self.worker,
            self.retention,
            stop.clone(),
        ));
        let stop_on_signal = stop.clone();
        self.app
            .run_until_stopped(async move {
                shutdown.await;
                stop_on_signal.cancel();
            })
            .await?;
        stop.cancel();
        consuming.await??;
        Ok(())
    }
}
