use std::{sync::Arc, time::Duration};

use futures::{FutureExt, future::BoxFuture};
use rdkafka::{
    ClientConfig,
    config::RDKafkaLogLevel,
    producer::{BaseProducer, Producer},
};

use crate::DependencyCheck;

/// Asks the brokers for cluster metadata: an answer means the bootstrap servers are reachable
/// and a broker is serving requests. Uses its own idle client, so a busy producer's queue
/// cannot make the check lie either way.
pub struct KafkaCheck {
    client: Arc<BaseProducer>,
}

impl KafkaCheck {
    pub fn new(brokers: &str) -> rdkafka::error::KafkaResult<Self> {
        let client: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "readiness")
            .set_log_level(RDKafkaLogLevel::Error)
            .create()?;
        Ok(Self {
            client: Arc::new(client),
        })
    }
}

impl DependencyCheck for KafkaCheck {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let client = Arc::clone(&self.client);
        async move {
            // librdkafka's metadata call blocks its thread.
            tokio::task::spawn_blocking(move || {
                client
                    .client()
                    .fetch_metadata(None, Duration::from_millis(1500))
                    .map(drop)
                    .map_err(|err| err.to_string())
            })
            .await
            .map_err(|err| err.to_string())?
        }
        .boxed()
    }
}
