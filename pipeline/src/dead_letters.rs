//! The dead-letter topic: where a message that can never become stored rows is kept, byte for
//! byte with its headers, plus the reason. The worker sends what cannot be decoded or normalized;
//! the warehouse sink sends a row ClickHouse refuses. Either way its offset is stored only after
//! the broker took the copy, so nothing accepted is lost.

use std::time::Duration;

use contracts::envelope::header;
use rdkafka::{
    ClientConfig,
    message::{Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use service_runtime::retry::RetryPolicy;
use tokio_util::sync::CancellationToken;

use crate::{Abandoned, metrics::PipelineMetrics};

const SEND_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(10));

/// A message as it was read: enough to keep it on the dead-letter topic later.
#[derive(Clone)]
pub(crate) struct Original {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) headers: OwnedHeaders,
}

/// One message for the dead-letter topic.
pub(crate) struct DeadLetter<'a> {
    pub(crate) original: &'a Original,
    pub(crate) payload: &'a [u8],
    /// A short, fixed label for the metric and the header's first word.
    pub(crate) reason: &'static str,
    pub(crate) detail: &'a str,
}

#[derive(Clone)]
pub(crate) struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    metrics: PipelineMetrics,
}

impl DeadLetters {
    pub(crate) fn new(
        brokers: &str,
        topic: &str,
        metrics: PipelineMetrics,
    ) -> Result<Self, rdkafka::error::KafkaError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .create()?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
            metrics,
        })
    }

    /// Keeps the message on the dead-letter topic, retrying until the broker takes it; on `stop`
    /// first, its offset must not be stored, so it is read again.
    pub(crate) async fn send(
        &self,
        letter: DeadLetter<'_>,
        stop: &CancellationToken,
    ) -> Result<(), Abandoned> {
        self.metrics
            .dead_letters
            .with_label_values(&[letter.reason])
            .inc();
        let text = |name| header_text(&letter.original.headers, name);
        tracing::warn!(
            reason = letter.reason,
            detail = letter.detail,
            request_id = text(header::REQUEST_ID),
            delivery_id = text(header::DELIVERY_ID),
            installation_id = text(header::INSTALLATION_ID),
            "dead-lettering a message"
        );
        let headers = with_reason(
            &letter.original.headers,
            &format!("{}: {}", letter.reason, letter.detail),
        );
        let send = || async {
            let mut record = FutureRecord::to(&self.topic)
                .payload(letter.payload)
                .headers(headers.clone());
            if let Some(key) = &letter.original.key {
                record = record.key(key);
            }
            self.producer
                .send(record, Duration::from_secs(10))
                .await
                .map_err(|(err, _)| err)
        };
        SEND_RETRY
            .until_ok("dead-letter topic unavailable", stop, send)
            .await
            .map(|_| ())
            .ok_or(Abandoned)
    }
}

/// The original headers, less any earlier reason, plus this one.
fn with_reason(original: &OwnedHeaders, why: &str) -> OwnedHeaders {
    let mut headers = OwnedHeaders::new_with_capacity(original.count() + 1);
    for kept in original
        .iter()
        .filter(|kept| kept.key != header::DEAD_LETTER_REASON)
    {
        headers = headers.insert(Header {
            key: kept.key,
            value: kept.value,
        });
    }
    headers.insert(Header {
        key: header::DEAD_LETTER_REASON,
        value: Some(why.as_bytes()),
    })
}

/// A header as text for a log line; empty when missing or not UTF-8 (a poison message may carry
/// anything).
fn header_text<'a>(headers: &'a OwnedHeaders, name: &str) -> &'a str {
    headers
        .iter()
        .find(|found| found.key == name)
        .and_then(|found| std::str::from_utf8(found.value?).ok())
        .unwrap_or_default()
}
