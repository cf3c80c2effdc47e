//! Creating the topics a service produces to or consumes from, so a fresh broker (the local
//! stack, a test) works without a separate provisioning step. Existing topics are left as they are.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};

use crate::{ConfigError, env_or};

/// The two topics between ingress and the pipeline, read by both from the same variables with
/// the same defaults, so they cannot disagree about a name or a partition count.
#[derive(Debug, Clone)]
pub struct TopicsConfig {
    /// `KAFKA_RAW_TOPIC`, default `jira.raw-events`: what ingress produces, the pipeline consumes.
    pub raw: String,
    /// `KAFKA_DEAD_LETTER_TOPIC`, default `jira.dead-letters`.
    pub dead_letter: String,
    /// `KAFKA_RAW_PARTITIONS`, default 8: used only by whichever service creates the raw topic
    /// first; an existing topic keeps its partitions.
    pub raw_partitions: i32,
}

impl TopicsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            raw: env_or("KAFKA_RAW_TOPIC", "jira.raw-events".to_owned())?,
            dead_letter: env_or("KAFKA_DEAD_LETTER_TOPIC", "jira.dead-letters".to_owned())?,
            raw_partitions: env_or("KAFKA_RAW_PARTITIONS", 8)?,
        })
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
