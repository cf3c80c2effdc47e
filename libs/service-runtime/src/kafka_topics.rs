//! Creating the topics a service produces to or consumes from, so a fresh broker (the local
//! stack, a test) works without a separate provisioning step. Existing topics are left as they are.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};

use crate::{
    ConfigError,
    config::{self, check},
};

/// `KAFKA_RAW_PARTITIONS`'s default, for the benchmarks that mirror what a fresh stack gets.
pub const DEFAULT_RAW_PARTITIONS: i32 = 8;

/// The two topics between ingress and the pipeline, read by both from the same variables with
/// the same defaults, so they cannot disagree about a name or a partition count.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicsConfig {
    /// What ingress produces and the pipeline consumes.
    #[arg(
        long = "kafka-raw-topic",
        env = "KAFKA_RAW_TOPIC",
        default_value = "jira.raw-events"
    )]
    pub raw: String,
    /// Where the pipeline sets aside what it cannot store.
    #[arg(
        long = "kafka-dead-letter-topic",
        env = "KAFKA_DEAD_LETTER_TOPIC",
        default_value = "jira.dead-letters"
    )]
    pub dead_letter: String,
    /// Partitions of the raw topic, used only by whichever service creates it first; an existing
    /// topic keeps its partitions.
    #[arg(
        long = "kafka-raw-partitions",
        env = "KAFKA_RAW_PARTITIONS",
        default_value_t = DEFAULT_RAW_PARTITIONS
    )]
    pub raw_partitions: i32,
}

impl TopicsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// Dead letters written to the raw topic would be consumed again, forever.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("KAFKA_RAW_PARTITIONS", self.raw_partitions)?;
        if self.raw == self.dead_letter {
            return Err(ConfigError::invalid(
                "KAFKA_DEAD_LETTER_TOPIC",
                &self.dead_letter,
                "must differ from KAFKA_RAW_TOPIC",
            ));
        }
        Ok(())
    }

    /// Creates both topics where they are missing (the dead letters need no parallelism).
    pub async fn ensure(&self, brokers: &str) -> anyhow::Result<()> {
        ensure(
            brokers,
            &[
                TopicSpec {
                    name: &self.raw,
                    partitions: self.raw_partitions,
                },
                TopicSpec {
                    name: &self.dead_letter,
                    partitions: 1,
                },
            ],
        )
        .await
    }
}

pub struct TopicSpec<'a> {
    pub name: &'a str,
    pub partitions: i32,
}

pub async fn ensure(brokers: &str, topics: &[TopicSpec<'_>]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic.name, topic.partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}
