//! Consumer lag per partition, from librdkafka's own statistics (emitted every
//! `statistics.interval.ms`): how many messages of the raw topic wait behind what this
//! instance has read. No extra requests to the broker.

use prometheus::{IntGaugeVec, Opts, Registry};
use rdkafka::{
    ClientContext, Statistics, TopicPartitionList,
    consumer::{BaseConsumer, ConsumerContext, Rebalance},
};

use crate::metrics::{ASSIGNED_PARTITIONS, CONSUMER_LAG_MESSAGES};

/// How often librdkafka reports; the gauge is at most this stale.
pub(crate) const STATISTICS_INTERVAL_MS: &str = "5000";

pub(crate) struct LagReporter {
    lag: IntGaugeVec,
    /// 1 for each partition this instance reads now: which instance has which partition, even
    /// one with nothing to read (which has no lag to report).
    assigned: IntGaugeVec,
}

impl LagReporter {
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let lag = IntGaugeVec::new(
            Opts::new(
                CONSUMER_LAG_MESSAGES,
                "Messages of each assigned partition not yet read by this instance.",
            ),
            &["topic", "partition"],
        )?;
        registry.register(Box::new(lag.clone()))?;
        let assigned = IntGaugeVec::new(
            Opts::new(
                ASSIGNED_PARTITIONS,
                "1 for each partition assigned to this instance by its consumer group.",
            ),
            &["topic", "partition"],
        )?;
        registry.register(Box::new(assigned.clone()))?;
        Ok(Self { lag, assigned })
    }
}

impl ClientContext for LagReporter {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, stats) in &stats.partitions {
                // librdkafka lists an internal partition -1 and reports -1 for partitions it
                // does not consume; neither is lag.
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    self.lag
                        .with_label_values(&[topic.as_str(), &partition.to_string()])
                        .set(stats.consumer_lag);
                }
            }
        }
    }
}

/// Rebalances are logged, since which instance reads which partition is the first question when
/// a group stalls; a revoked partition's gauge is dropped, as it is no longer this instance's lag.
impl ConsumerContext for LagReporter {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = %describe(partitions), "partitions assigned");
                for element in partitions.elements() {
                    self.assigned
                        .with_label_values(&[element.topic(), &element.partition().to_string()])
                        .set(1);
                }
            }
            Rebalance::Revoke(partitions) => {
                tracing::info!(partitions = %describe(partitions), "partitions revoked");
                for element in partitions.elements() {
                    let labels = [element.topic(), &element.partition().to_string()];
                    let _ = self.lag.remove_label_values(&labels);
                    let _ = self.assigned.remove_label_values(&labels);
                }
            }
            Rebalance::Error(err) => tracing::warn!(error = %err, "rebalance failed"),
        }
    }
}

/// `topic[0,2]` for a log line.
fn describe(partitions: &TopicPartitionList) -> String {
    let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for element in partitions.elements() {
        by_topic
            .entry(element.topic().to_owned())
            .or_default()
            .push(element.partition());
    }
    by_topic
        .iter()
        .map(|(topic, numbers)| {
            let numbers: Vec<String> = numbers.iter().map(i32::to_string).collect();
            format!("{topic}[{}]", numbers.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
