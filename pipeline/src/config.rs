//! The pipeline's settings: each field names its environment variable and default once, and
//! `validate()` refuses a configuration that could only stall or fail later.

use std::time::Duration;

use service_runtime::{
    ConfigError, ServerConfig,
    config::{self, check, parse},
    connections::{ClickHouseConfig, KafkaConfig},
    kafka_topics::TopicsConfig,
};

#[derive(clap::Parser)]
#[command(
    name = "pipeline",
    about = "MetaFrazo pipeline: raw Jira events from Kafka into ClickHouse",
    // No public routes: `listen` stays unset, and only the admin port (health, readiness,
    // metrics) is opened.
    mut_arg("listen", |arg| arg.hide(true)),
    mut_arg("admin_listen", |arg| arg
        .long("pipeline-admin-addr")
        .env("PIPELINE_ADMIN_ADDR")
        .default_value("127.0.0.1:9183"))
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// The raw and dead-letter topics, read as ingress reads them.
    #[command(flatten)]
    pub topics: TopicsConfig,
    #[command(flatten)]
    pub consumer: ConsumerConfig,
    #[command(flatten)]
    pub batch: BatchConfig,
    #[command(flatten)]
    pub retention: RetentionConfig,
    /// How often the sealing job counts the rollup's quiet hours (`warehouse::sealing`): until
    /// an hour is sealed, views merge its sets of delivery ids, which is exact but slower.
    #[arg(
        long = "seal-interval-secs",
        env = "SEAL_INTERVAL_SECS",
        default_value = "15",
        value_parser = parse::secs
    )]
    pub seal_interval: Duration,
    /// How often the flow compaction job merges the flow facts tables whole
    /// (`warehouse::flow::compaction`): the flow view reads issues refreshed since the last
    /// one with FINAL, which is exact but slower. Each run rewrites both tables.
    #[arg(
        long = "flow-compact-interval-secs",
        env = "FLOW_COMPACT_INTERVAL_SECS",
        default_value = "600",
        value_parser = parse::secs
    )]
    pub flow_compact_interval: Duration,
}

#[derive(clap::Args)]
pub struct ConsumerConfig {
    /// Instances sharing a group split the partitions between them.
    #[arg(
        long = "kafka-consumer-group",
        env = "KAFKA_CONSUMER_GROUP",
        default_value = "metafrazo-pipeline"
    )]
    pub group: String,
    /// How long a crashed instance keeps its partitions before the group gives them to another.
    #[arg(
        long = "kafka-session-timeout-ms",
        env = "KAFKA_SESSION_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub session_timeout_ms: u32,
    /// A stable name per instance (e.g. the pod name) turns on static membership, so a restarted
    /// instance resumes its partitions at once. None by default.
    #[arg(long = "kafka-group-instance-id", env = "KAFKA_GROUP_INSTANCE_ID")]
    pub instance_id: Option<String>,
}

/// A batch is inserted when any limit is reached. ClickHouse wants few, large inserts (about
/// one a second per table); the defaults keep memory bounded and the delay around a second.
#[derive(Clone, Copy, clap::Args)]
pub struct BatchConfig {
    /// Deliveries per batch. On 2 cores shared with ClickHouse, 5,000-row batches drained 52 % of
    /// clickhouse-client's rate against 34 % for 20,000 (and 213 MiB peak RSS against 268),
    /// `cargo bench -p pipeline --bench pipeline_throughput`.
    #[arg(
        long = "batch-max-rows",
        env = "BATCH_MAX_ROWS",
        default_value_t = 5_000
    )]
    pub max_rows: usize,
    /// Bytes of payload per batch (32 MiB).
    #[arg(
        long = "batch-max-bytes",
        env = "BATCH_MAX_BYTES",
        default_value_t = 32 * 1024 * 1024
    )]
    pub max_bytes: usize,
    /// The longest an event waits to be inserted.
    #[arg(
        long = "batch-max-wait-ms",
        env = "BATCH_MAX_WAIT_MS",
        default_value = "1000",
        value_parser = parse::millis
    )]
    pub max_wait: Duration,
    /// Batches being inserted while the next is read. More can keep several ClickHouse cores
    /// busy on a bigger server, at the memory of that many batches; on 2 shared cores, 2 and 3
    /// were slower (45 % and 43 % of the ceiling).
    #[arg(
        long = "inserts-in-flight",
        env = "INSERTS_IN_FLIGHT",
        default_value_t = 1
    )]
    pub inserts_in_flight: usize,
}

/// How long the warehouse keeps events, in whole months (ClickHouse 18.16 has no TTL, so a
/// job drops monthly partitions).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RetentionConfig {
    /// Months kept before the current one (a two-year comparison still has its whole first
    /// month); 0 keeps everything forever.
    #[arg(
        long = "retention-months",
        env = "RETENTION_MONTHS",
        default_value_t = 25
    )]
    pub months: u32,
    /// How often the job looks: partitions are whole months, so an hour late is nothing, and a
    /// pass that finds nothing to drop costs one `system.parts` read.
    #[arg(
        long = "retention-interval-secs",
        env = "RETENTION_INTERVAL_SECS",
        default_value = "3600",
        value_parser = parse::secs
    )]
    pub interval: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// Refuses what would stall the pipeline (a zero batch limit, session or interval) or fail
    /// only at the first insert (a ClickHouse URL that is not http).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.clickhouse.validate()?;
        self.topics.validate()?;
        check::at_least_one("KAFKA_SESSION_TIMEOUT_MS", self.consumer.session_timeout_ms)?;
        self.batch.validate()?;
        check::not_zero("RETENTION_INTERVAL_SECS", self.retention.interval)?;
        check::not_zero("SEAL_INTERVAL_SECS", self.seal_interval)?;
        check::not_zero("FLOW_COMPACT_INTERVAL_SECS", self.flow_compact_interval)
    }
}

impl BatchConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("BATCH_MAX_ROWS", self.max_rows)?;
        check::at_least_one("BATCH_MAX_BYTES", self.max_bytes)?;
        check::not_zero("BATCH_MAX_WAIT_MS", self.max_wait)?;
        check::at_least_one("INSERTS_IN_FLIGHT", self.inserts_in_flight)
    }
}

#[cfg(test)]
mod tests;
