//! `TopicsConfig::ensure` against the stack's broker: a topic it creates has the configured
//! partitions and replication, and an existing topic is left as it is.

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, ResourceSpecifier},
    client::DefaultClientContext,
};
use service_runtime::kafka_topics::{self, MIN_INSYNC_REPLICAS, TopicShape, TopicsConfig};
use test_kit::{Stack, unique};

fn topics(raw_partitions: i32) -> TopicsConfig {
    TopicsConfig {
        raw: unique("raw"),
        dead_letter: unique("dead"),
        raw_partitions,
        replication_factor: 1,
        min_insync_replicas: 1,
    }
}

/// `min.insync.replicas` as the broker describes `topic`'s config, if it does.
async fn min_insync_replicas(brokers: &str, topic: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .ok()?;
    let resource = described.into_iter().next()?.ok()?;
    resource
        .get(MIN_INSYNC_REPLICAS)
        .and_then(|entry| entry.value.clone())
}

/// Production's 3 copies and 2 in sync. The stack's single tansu broker records a replication
/// it cannot provide (Apache Kafka would refuse 3 on one broker), which is what lets the test
/// see what was asked for.
#[tokio::test]
async fn a_created_topic_has_the_configured_partitions_and_replication() {
    let brokers = Stack::from_env().kafka.brokers;
    let config = TopicsConfig {
        replication_factor: 3,
        min_insync_replicas: 2,
        ..topics(6)
    };
    config.validate().unwrap();
    config.ensure(&brokers).await.unwrap();

    assert_eq!(
        kafka_topics::describe(&brokers, &config.raw).await.unwrap(),
        Some(TopicShape {
            partitions: 6,
            replicas: 3
        })
    );
    assert_eq!(
        kafka_topics::describe(&brokers, &config.dead_letter)
            .await
            .unwrap(),
        Some(TopicShape {
            partitions: 1,
            replicas: 3
        })
    );
    for topic in [&config.raw, &config.dead_letter] {
        assert_eq!(
            min_insync_replicas(&brokers, topic).await.as_deref(),
            Some("2"),
            "{MIN_INSYNC_REPLICAS} of {topic}"
        );
    }
}

#[tokio::test]
async fn an_existing_topic_keeps_its_partitions() {
    let brokers = Stack::from_env().kafka.brokers;
    let config = topics(2);
    config.ensure(&brokers).await.unwrap();
    // Asked again with more partitions (another service's configuration): left as it is.
    let wider = TopicsConfig {
        raw_partitions: 5,
        ..config.clone()
    };
    wider.ensure(&brokers).await.unwrap();
    assert_eq!(
        kafka_topics::describe(&brokers, &config.raw)
            .await
            .unwrap()
            .map(|shape| shape.partitions),
        Some(2)
    );
}
