//! Creating the topics a service produces to or consumes from, so a fresh broker (the local
//! stack, a test) works without a separate provisioning step. Existing topics are left as they
//! are; one whose partition count or replication differs from the configuration is logged as a
//! warning (changing a live topic is an operator's decision, not a service's at boot).

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

/// The topic config a topic is created with so a write needs that many replicas to succeed.
pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";

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
    /// Copies of each partition kept by the brokers, for both topics; used only when a topic is
    /// created. 1 suits a single broker (the local stack); production runs 3.
    #[arg(
        long = "kafka-replication-factor",
        env = "KAFKA_REPLICATION_FACTOR",
        default_value_t = 1
    )]
    pub replication_factor: i32,
    /// `min.insync.replicas` of both topics when created: a write is acknowledged only once this
    /// many replicas have it (producers ask for all of them). At most the replication factor;
    /// production runs 2 of 3, so one broker may be down without refusing writes.
    #[arg(
        long = "kafka-min-insync-replicas",
        env = "KAFKA_MIN_INSYNC_REPLICAS",
        default_value_t = 1
    )]
    pub min_insync_replicas: i32,
}

impl TopicsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// Dead letters written to the raw topic would be consumed again, forever.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("KAFKA_RAW_PARTITIONS", self.raw_partitions)?;
        self.replication().validate()?;
        if self.raw == self.dead_letter {
            return Err(ConfigError::invalid(
                "KAFKA_DEAD_LETTER_TOPIC",
                &self.dead_letter,
                "must differ from KAFKA_RAW_TOPIC",
            ));
        }
        Ok(())
    }

    pub fn replication(&self) -> Replication {
        Replication {
            factor: self.replication_factor,
            min_insync: self.min_insync_replicas,
        }
    }

    /// Creates both topics where they are missing (the dead letters need no parallelism), with
    /// the configured replication.
    pub async fn ensure(&self, brokers: &str) -> anyhow::Result<()> {
        ensure_replicated(
            brokers,
            self.replication(),
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

/// How many copies of each partition the brokers keep, and how many must have a write before it
/// is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    pub factor: i32,
    pub min_insync: i32,
}

impl Default for Replication {
    /// One broker, as the local stack and the tests run.
    fn default() -> Self {
        Self {
            factor: 1,
            min_insync: 1,
        }
    }
}

impl Replication {
    /// At least one copy, and no more required in sync than there are: a topic demanding more
    /// in-sync replicas than it has would refuse every write.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("KAFKA_REPLICATION_FACTOR", self.factor)?;
        check::at_least_one("KAFKA_MIN_INSYNC_REPLICAS", self.min_insync)?;
        if self.min_insync > self.factor {
            return Err(ConfigError::invalid(
                "KAFKA_MIN_INSYNC_REPLICAS",
                self.min_insync,
                format!(
                    "must be at most KAFKA_REPLICATION_FACTOR ({}): more in-sync replicas than \
                     copies would refuse every write",
                    self.factor
                ),
            ));
        }
        Ok(())
    }
}

/// Creates `topics` where they are missing, with one replica (the local stack, tests).
pub async fn ensure(brokers: &str, topics: &[TopicSpec<'_>]) -> anyhow::Result<()> {
    ensure_replicated(brokers, Replication::default(), topics).await
}

/// Creates `topics` where they are missing with `replication`; an existing topic is left as it
/// is, with a warning when its partitions or replicas differ from what was asked.
pub async fn ensure_replicated(
    brokers: &str,
    replication: Replication,
    topics: &[TopicSpec<'_>],
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let min_insync = replication.min_insync.to_string();
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| {
            NewTopic::new(
                topic.name,
                topic.partitions,
                TopicReplication::Fixed(replication.factor),
            )
            .set(MIN_INSYNC_REPLICAS, &min_insync)
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut existing = Vec::new();
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) => {}
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => existing.push(topic),
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    if !existing.is_empty() {
        let wanted: Vec<(String, i32)> = topics
            .iter()
            .filter(|topic| existing.iter().any(|name| name == topic.name))
            .map(|topic| (topic.name.to_owned(), topic.partitions))
            .collect();
        // librdkafka's metadata call blocks; it is one request, once at boot.
        tokio::task::spawn_blocking(move || warn_where_different(&admin, replication, &wanted))
            .await?;
    }
    Ok(())
}

/// What an existing topic has, as the broker's metadata reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct TopicShape {
    pub partitions: i32,
    /// Replicas of its first partition (every partition of a topic has as many).
    pub replicas: i32,
}

/// The partitions and replication of `topic` as the brokers at `brokers` report them; `None`
/// when the broker knows no such topic.
pub async fn describe(brokers: &str, topic: &str) -> anyhow::Result<Option<TopicShape>> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || shape(&admin, &topic)).await?
}

fn shape(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> anyhow::Result<Option<TopicShape>> {
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let Some(found) = metadata.topics().iter().find(|found| found.name() == topic) else {
        return Ok(None);
    };
    if found.error().is_some() || found.partitions().is_empty() {
        return Ok(None);
    }
    Ok(Some(TopicShape {
        partitions: i32::try_from(found.partitions().len())?,
        replicas: found.partitions().first().map_or(0, |partition| {
            i32::try_from(partition.replicas().len()).unwrap_or(i32::MAX)
        }),
    }))
}

/// A warning per existing topic whose partitions or replicas differ from the configuration; a
/// metadata call that fails only costs the warning.
fn warn_where_different(
    admin: &AdminClient<DefaultClientContext>,
    replication: Replication,
    wanted: &[(String, i32)],
) {
    for (topic, partitions) in wanted {
        match shape(admin, topic) {
            Ok(Some(found)) => {
                if found.partitions != *partitions || found.replicas != replication.factor {
                    tracing::warn!(
                        topic,
                        partitions = found.partitions,
                        configured_partitions = partitions,
                        replicas = found.replicas,
                        configured_replicas = replication.factor,
                        "an existing topic differs from the configuration; it is left as it is"
                    );
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(topic, error = %err, "cannot read an existing topic's metadata");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(args: &[&str]) -> TopicsConfig {
        crate::config::defaults(args.iter().copied()).expect("the flags parse")
    }

    #[test]
    fn one_replica_by_default_as_a_single_broker_needs() {
        let config = read(&[]);
        assert_eq!(
            config.replication(),
            Replication {
                factor: 1,
                min_insync: 1
            }
        );
        config.validate().expect("the defaults are valid");
    }

    #[test]
    fn production_replication_is_read_and_valid() {
        let config = read(&[
            "--kafka-replication-factor",
            "3",
            "--kafka-min-insync-replicas",
            "2",
        ]);
        assert_eq!(
            config.replication(),
            Replication {
                factor: 3,
                min_insync: 2
            }
        );
        config.validate().expect("3 copies, 2 in sync");
    }

    #[test]
    fn each_refusal_names_the_variable_and_why() {
        let cases: [(&[&str], &str); 4] = [
            (
                &["--kafka-replication-factor", "0"],
                "environment variable KAFKA_REPLICATION_FACTOR has an invalid value \"0\": must be at least 1",
            ),
            (
                &["--kafka-min-insync-replicas", "0"],
                "environment variable KAFKA_MIN_INSYNC_REPLICAS has an invalid value \"0\": must be at least 1",
            ),
            (
                &["--kafka-replication-factor=-1"],
                "environment variable KAFKA_REPLICATION_FACTOR has an invalid value \"-1\": must be at least 1",
            ),
            (
                &[
                    "--kafka-replication-factor",
                    "2",
                    "--kafka-min-insync-replicas",
                    "3",
                ],
                "environment variable KAFKA_MIN_INSYNC_REPLICAS has an invalid value \"3\": must be at most KAFKA_REPLICATION_FACTOR (2): more in-sync replicas than copies would refuse every write",
            ),
        ];
        for (args, expected) in cases {
            let err = read(args).validate().expect_err("refused");
            assert!(
                matches!(err, ConfigError::Invalid { .. }),
                "{args:?}: {err:?}"
            );
            assert_eq!(err.to_string(), expected, "{args:?}");
        }
    }
}
