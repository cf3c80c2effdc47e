use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use service_runtime::{
    ConfigError, ServerConfig,
    connections::{ClickHouseConfig, KafkaConfig},
    env_or,
    kafka_topics::TopicsConfig,
};

pub struct Config {
    /// `PIPELINE_ADDR`, default `127.0.0.1:8083`: health and metrics only.
    pub server: ServerConfig,
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    /// The raw and dead-letter topics, read as ingress reads them.
    pub topics: TopicsConfig,
    pub consumer: ConsumerConfig,
    pub batch: BatchConfig,
    pub retention: RetentionConfig,
}

pub struct ConsumerConfig {
    /// `KAFKA_CONSUMER_GROUP`, default `metafrazo-pipeline`: instances sharing it split the
    /// partitions between them.
    pub group: String,
    /// `KAFKA_SESSION_TIMEOUT_MS`, default 10000: how long a crashed instance keeps its
    /// partitions before the group gives them to another.
    pub session_timeout_ms: u32,
    /// `KAFKA_GROUP_INSTANCE_ID`, default none: a stable name per instance (e.g. the pod name)
    /// turns on static membership, so a restarted instance resumes its partitions at once.
    pub instance_id: Option<String>,
}

/// A batch is inserted when any limit is reached. ClickHouse wants few, large inserts (about
/// one a second per table); the defaults keep memory bounded and the delay around a second.
#[derive(Clone, Copy)]
pub struct BatchConfig {
    /// `BATCH_MAX_ROWS`, default 5000 deliveries: on 2 cores shared with ClickHouse, 5,000-row
    /// batches drained 52 % of clickhouse-client's rate against 34 % for 20,000 (and 213 MiB
    /// peak RSS against 268), `cargo bench -p pipeline --bench pipeline_throughput`.
    pub max_rows: usize,
    /// `BATCH_MAX_BYTES`, default 32 MiB of payload.
    pub max_bytes: usize,
    /// `BATCH_MAX_WAIT_MS`, default 1000: the longest an event waits to be inserted.
    pub max_wait: Duration,
    /// `INSERTS_IN_FLIGHT`, default 1: batches being inserted while the next is read. More can
    /// keep several ClickHouse cores busy on a bigger server, at the memory of that many
    /// batches; on 2 shared cores, 2 and 3 were slower (45 % and 43 % of the ceiling).
    pub inserts_in_flight: usize,
}

/// How long the warehouse keeps events, in whole months (ClickHouse 18.16 has no TTL, so a
/// job drops monthly partitions).
#[derive(Debug, Clone, Copy)]
pub struct RetentionConfig {
    /// `RETENTION_MONTHS`, default 25: months kept before the current one (a two-year
    /// comparison still has its whole first month); 0 keeps everything forever.
    pub months: u32,
    /// `RETENTION_INTERVAL_SECS`, default 3600: how often the job looks.
    pub interval: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "PIPELINE_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8083)),
            )?,
            kafka: KafkaConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
            topics: TopicsConfig::from_env()?,
            consumer: ConsumerConfig {
                group: env_or("KAFKA_CONSUMER_GROUP", "metafrazo-pipeline".to_owned())?,
                session_timeout_ms: env_or("KAFKA_SESSION_TIMEOUT_MS", 10_000)?,
                instance_id: Some(env_or("KAFKA_GROUP_INSTANCE_ID", String::new())?)
                    .filter(|id| !id.is_empty()),
            },
            batch: BatchConfig {
                max_rows: env_or("BATCH_MAX_ROWS", 5_000)?,
                max_bytes: env_or("BATCH_MAX_BYTES", 32 * 1024 * 1024)?,
                max_wait: Duration::from_millis(env_or("BATCH_MAX_WAIT_MS", 1000)?),
                inserts_in_flight: env_or("INSERTS_IN_FLIGHT", 1usize)?.max(1),
            },
            retention: RetentionConfig {
                months: env_or("RETENTION_MONTHS", 25)?,
                interval: Duration::from_secs(env_or(
                    "RETENTION_INTERVAL_SECS",
                    crate::retention::DEFAULT_INTERVAL.as_secs(),
                )?),
            },
        })
    }
}
