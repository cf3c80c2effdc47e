//! The consuming loop: read envelopes from the raw topic, normalize them into rows, insert a
//! batch when it is full or old enough, and only then store the offsets it covers. Messages that
//! can never become rows go to the dead-letter topic with the reason, and their offsets are
//! stored with the batch they arrived in, so a poison message never blocks its partition.
//!
//! One batch is inserted while the next is read: ClickHouse and the consumer work at the same
//! time, yet at most one insert is in flight (memory stays bounded by two batches) and offsets
//! are stored in batch order, each only after its own and every earlier insert succeeded.

use std::{collections::VecDeque, time::Duration};

use contracts::envelope::{Envelope, header, message_headers};
use rdkafka::{
    ClientConfig, Message,
    consumer::{CommitMode, Consumer, StreamConsumer},
    message::{BorrowedMessage, OwnedHeaders},
};
use tokio::{
    task::{JoinError, JoinHandle},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{
    Abandoned,
    batch::Batch,
    config::{BatchConfig, Config},
    dead_letters::{DeadLetter, DeadLetters, Original},
    lag::{self, LagReporter},
    metrics::PipelineMetrics,
    normalize::{self, Delivery, EventTimeBounds},
    warehouse_sink::WarehouseSink,
};

/// How long a stopping pipeline keeps trying to insert its last batch.
const FINAL_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// The next offset to read, per (topic, partition), of a batch.
type Offsets = std::collections::BTreeMap<(String, i32), i64>;

/// Why the worker stopped consuming without being asked to.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The task inserting a batch panicked (or was cancelled): its batch is lost from memory
    /// and every later batch would have to wait for it, so the worker stops and the pipeline
    /// exits, to be restarted and read the unstored messages again.
    #[error("an insert task failed")]
    InsertTask(#[source] JoinError),
}

/// The offsets to store once an insert task ended: `None` when it gave up because the worker
/// is stopping (store nothing more, so everything unstored is read again).
fn landed(
    joined: Result<Result<Offsets, Abandoned>, JoinError>,
) -> Result<Option<Offsets>, WorkerError> {
    match joined {
        Ok(Ok(offsets)) => Ok(Some(offsets)),
        Ok(Err(Abandoned)) => Ok(None),
        Err(err) => Err(WorkerError::InsertTask(err)),
    }
}

pub struct Worker {
    consumer: StreamConsumer<LagReporter>,
    dead_letters: DeadLetters,
    raw_topic: String,
    sink: WarehouseSink,
    batch: BatchConfig,
    /// Event times outside it give way to the receipt time (`normalize::EventTimeBounds`).
    event_times: EventTimeBounds,
    metrics: PipelineMetrics,
}

impl Worker {
    pub(crate) fn new(
        config: &Config,
        metrics: PipelineMetrics,
        lag: LagReporter,
    ) -> anyhow::Result<Self> {
        let mut consumer_config = ClientConfig::new();
        if let Some(instance) = &config.consumer.instance_id {
            // Static membership: a restarted instance takes its partitions back at once
            // instead of waiting for its dead self's session to expire.
            consumer_config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<LagReporter> = consumer_config
            .set("bootstrap.servers", &config.kafka.brokers)
            .set("group.id", &config.consumer.group)
            .set("client.id", "metafrazo-pipeline")
            .set("auto.offset.reset", "earliest")
            // Commit in the background what we stored, and store only what ClickHouse accepted.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            // A crashed instance holds its partitions until its session expires: keep that
            // short so a restart (or the group's other members) takes over within seconds.
            .set(
                "session.timeout.ms",
                config.consumer.session_timeout_ms.to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (config.consumer.session_timeout_ms / 5)
                    .max(500)
                    .to_string(),
            )
            // Longer than the slowest insert retry stays away from the consumer's poll.
            .set("max.poll.interval.ms", "120000")
            .set("statistics.interval.ms", lag::STATISTICS_INTERVAL_MS)
            // tansu 0.6 holds every fetch for the full wait even when data is ready: at the
            // default 500 ms the pipeline read ~4k events/s, at 10 ms a bare consumer ~64k/s.
            .set("fetch.wait.max.ms", "20")
            .create_with_context(lag)?;
        let dead_letters = DeadLetters::new(
            &config.kafka.brokers,
            &config.topics.dead_letter,
            metrics.clone(),
        )?;
        Ok(Self {
            consumer,
            dead_letters: dead_letters.clone(),
            raw_topic: config.topics.raw.clone(),
            sink: WarehouseSink {
                client: config.clickhouse.client(),
                metrics: metrics.clone(),
                dead_letters,
            },
            batch: config.batch,
            event_times: EventTimeBounds::for_retention(config.retention.months),
            metrics,
        })
    }

    /// Runs until `stop` is cancelled, then inserts what it holds (within a deadline), stores
    /// and commits those offsets, and returns.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        self.consumer.subscribe(&[&self.raw_topic])?;
        // Inserts under way, oldest first: offsets are stored in this order, so a partition's
        // stored offset never passes a batch that has not landed.
        let mut in_flight: VecDeque<JoinHandle<Result<Offsets, Abandoned>>> = VecDeque::new();
        loop {
            let mut batch = Batch::default();
            // One timer per batch, not one per message: a `sleep_until` made inside the loop
            // registered and dropped a timer for every message read.
            let deadline = tokio::time::sleep_until(Instant::now() + self.batch.max_wait);
            tokio::pin!(deadline);
            let stopping = loop {
                if batch.events.len() >= self.batch.max_rows || batch.bytes >= self.batch.max_bytes
                {
                    break false;
                }
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break true,
                    () = &mut deadline => break false,
                    received = self.consumer.recv() => match received {
                        Ok(message) => {
                            if self.take(&message, &mut batch, &stop).await.is_err() {
                                // Stopping before a poison message was kept: store nothing
                                // more, so everything unstored is read again.
                                return Ok(());
                            }
                        }
                        Err(err) => tracing::warn!(error = %err, "consuming failed; retrying"),
                    },
                }
            };
            // Room for this batch's insert; all of them land before the final flush.
            let room = if stopping {
                0
            } else {
                self.batch.inserts_in_flight - 1
            };
            while in_flight.len() > room || in_flight.front().is_some_and(JoinHandle::is_finished) {
                let Some(oldest) = in_flight.pop_front() else {
                    break;
                };
                match landed(oldest.await)? {
                    Some(offsets) => self.store(&offsets),
                    None => return Ok(()),
                }
            }
            if stopping {
                let flush_stop = CancellationToken::new();
                let cancel = flush_stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(FINAL_FLUSH_DEADLINE).await;
                    cancel.cancel();
                });
                if self.flush(&batch, &flush_stop).await.is_ok()
                    && let Err(err) = self.consumer.commit_consumer_state(CommitMode::Sync)
                {
                    tracing::warn!(error = %err, "final offset commit failed; the last batch may be read again");
                }
                tracing::info!("pipeline stopped");
                return Ok(());
            }
            if !batch.is_empty() {
                let sink = self.sink.clone();
                let stop = stop.clone();
                in_flight.push_back(tokio::spawn(async move {
                    sink.insert(&batch, &stop).await.map(|()| batch.offsets)
                }));
            }
        }
    }

    /// Inserts the batch and stores its offsets, in this task (the last batch on stopping).
    async fn flush(&self, batch: &Batch, stop: &CancellationToken) -> Result<(), Abandoned> {
        if batch.is_empty() {
            return Ok(());
        }
        self.sink.insert(batch, stop).await?;
        self.store(&batch.offsets);
        Ok(())
    }

    /// Stores the offsets of an inserted batch, for the background commit.
    fn store(&self, offsets: &Offsets) {
        for ((topic, partition), offset) in offsets {
            // Fails only for a partition revoked meanwhile; its new owner reads it again and
            // the duplicates change no number.
            if let Err(err) = self.consumer.store_offset(topic, *partition, *offset) {
                tracing::warn!(error = %err, topic, partition, "offset not stored");
            }
        }
    }

    async fn take(
        &self,
        message: &BorrowedMessage<'_>,
        batch: &mut Batch,
        stop: &CancellationToken,
    ) -> Result<(), Abandoned> {
        self.metrics.consumed.inc();
        let headers = message_headers(message);
        let payload = message.payload().unwrap_or_default();
        let original = Original {
            key: message.key().map(<[u8]>::to_vec),
            headers: message
                .headers()
                .map_or_else(OwnedHeaders::new, |headers| headers.detach()),
        };
        let outcome = Envelope::decode(headers.iter().copied(), payload)
            .map_err(|err| ("undecodable_envelope", err.to_string()))
            .and_then(|envelope| {
                normalize::normalize(
                    &Delivery {
                        installation_id: envelope.installation_id,
                        delivery_id: envelope.delivery_id.as_str(),
                        source: envelope.source.as_str(),
                        received_at_ms: envelope.received_at_ms,
                        payload: &envelope.payload,
                    },
                    self.event_times,
                )
                .map_err(|err| ("unnormalizable_payload", err.to_string()))
            });
        match outcome {
            Ok(normalized) => {
                // Follows one delivery from ingress's log line to here (RUST_LOG=pipeline=debug).
                tracing::debug!(
                    request_id = header_text(&headers, header::REQUEST_ID),
                    delivery_id = normalized.event.delivery_id.as_str(),
                    partition = message.partition(),
                    offset = message.offset(),
                    "delivery normalized"
                );
                if batch.push(normalized.event, normalized.field_changes, original) {
                    batch.push_details(normalized.sprint, normalized.worklog);
                }
            }
            Err((reason, detail)) => {
                let letter = DeadLetter {
                    original: &original,
                    payload,
                    reason,
                    detail: &detail,
                };
                self.dead_letters.send(letter, stop).await?;
            }
        }
        batch.handled(message.topic(), message.partition(), message.offset());
        Ok(())
    }
}

/// An envelope header as text for a log line; empty when missing or not UTF-8 (a poison
/// message may carry anything).
fn header_text<'a>(headers: &'a [(&str, &[u8])], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_insert_task_stops_the_worker_with_an_error() {
        let inserting: JoinHandle<Result<Offsets, Abandoned>> =
            tokio::spawn(async { panic!("the insert task panicked") });
        assert!(matches!(
            landed(inserting.await),
            Err(WorkerError::InsertTask(_))
        ));
    }

    #[tokio::test]
    async fn an_abandoned_insert_stores_nothing_and_a_landed_one_its_offsets() {
        let abandoned = tokio::spawn(async { Err(Abandoned) });
        assert!(matches!(landed(abandoned.await), Ok(None)));
        let offsets = Offsets::from([(("raw".to_owned(), 0), 42)]);
        let inserted = tokio::spawn(std::future::ready(Ok(offsets.clone())));
        assert_eq!(landed(inserted.await).unwrap(), Some(offsets));
    }
}
