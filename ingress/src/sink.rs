//! Producing envelopes to Kafka: the raw topic for accepted deliveries, the dead-letter topic
//! for deliveries we could verify but not use. A send returns only once the broker acknowledged
//! it (acks=all), so a 202 means the event is stored; a full local queue
//! fails at once instead of waiting, so the caller can answer 503 and Atlassian retries.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord, Producer},
};

use contracts::envelope::{Envelope, header};

use service_runtime::kafka_topics::TopicsConfig;

use crate::config::ProducerConfig;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("the local produce queue is full")]
    QueueFull,
    #[error("the broker did not acknowledge the event: {0}")]
    Broker(String),
}

pub(crate) struct EventSink {
    producer: FutureProducer,
    raw_topic: String,
    dead_letter_topic: String,
    timeout: Duration,
}

impl EventSink {
    pub(crate) fn new(
        brokers: &str,
        producer: &ProducerConfig,
        topics: &TopicsConfig,
    ) -> Result<Self, KafkaError> {
        let timeout_ms = producer.produce_timeout.as_millis().to_string();
        let client: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "metafrazo-ingress")
            .set("acks", "all")
            .set("enable.idempotence", producer.idempotence.to_string())
            .set("linger.ms", producer.linger_ms.to_string())
            .set(
                "queue.buffering.max.messages",
                producer.queue_max_messages.to_string(),
            )
            // librdkafka gives up on a message after this, and the request then gets its 503.
            .set("message.timeout.ms", &timeout_ms)
            .set("request.timeout.ms", &timeout_ms)
            .create()?;
        Ok(Self {
            producer: client,
            raw_topic: topics.raw.clone(),
            dead_letter_topic: topics.dead_letter.clone(),
            timeout: producer.produce_timeout,
        })
    }

    pub(crate) async fn send(&self, envelope: &Envelope) -> Result<(), SinkError> {
        self.produce(&self.raw_topic, envelope, None).await
    }

    pub(crate) async fn dead_letter(
        &self,
        envelope: &Envelope,
        reason: &str,
    ) -> Result<(), SinkError> {
        self.produce(&self.dead_letter_topic, envelope, Some(reason))
            .await
    }

    /// Messages waiting in the local queue or for the broker's acknowledgement.
    pub(crate) fn queue_depth(&self) -> i32 {
        self.producer.in_flight_count()
    }

    async fn produce(
        &self,
        topic: &str,
        envelope: &Envelope,
        dead_letter_reason: Option<&str>,
    ) -> Result<(), SinkError> {
        let pairs = envelope.headers();
        let mut headers = OwnedHeaders::new_with_capacity(pairs.len() + 1);
        for (key, value) in &pairs {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        if let Some(reason) = dead_letter_reason {
            headers = headers.insert(Header {
                key: header::DEAD_LETTER_REASON,
                value: Some(reason.as_bytes()),
            });
        }
        let key = envelope.key();
        let record = FutureRecord::to(topic)
            .key(&key)
            .payload(envelope.payload.as_ref())
            .headers(headers)
            .timestamp(envelope.received_at_ms);
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(err, _)| match err {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => SinkError::QueueFull,
                other => SinkError::Broker(other.to_string()),
            })?;
        // librdkafka's own timeout resolves the future first; this only guards against a
        // future that never resolves.
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), delivery).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err((err, _)))) => Err(SinkError::Broker(err.to_string())),
            Ok(Err(_)) => Err(SinkError::Broker("the producer was shut down".to_owned())),
            Err(_) => Err(SinkError::Broker("no acknowledgement in time".to_owned())),
        }
    }
}
