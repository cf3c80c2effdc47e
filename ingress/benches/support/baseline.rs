//! The yardstick: a bare axum handler that produces each body to Kafka and answers 202 once the
//! broker acknowledged it, with ingress's producer settings (acks=all, linger, queue, timeout)
//! but no verification, envelope or headers. It runs on a runtime of its own with two workers,
//! as the ingress process does, so it does not share a scheduler with the load generator.

use std::sync::Arc;

use anyhow::Context;
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};
use service_runtime::kafka_topics::{self, TopicSpec};
use tokio::{runtime::Runtime, sync::oneshot};

/// Every body under one key, as all of one installation's events are under its id in ingress:
/// both targets produce to a single partition.
const KEY: &str = "00000000-0000-4000-8000-000000000000";

pub(crate) struct Baseline {
    /// `http://127.0.0.1:<port>`
    pub(crate) url: String,
    /// Both taken on drop, which stops the server.
    runtime: Option<Runtime>,
    stop: Option<oneshot::Sender<()>>,
}

struct Sink {
    producer: FutureProducer,
    topic: String,
}

impl Baseline {
    pub(crate) async fn start(
        brokers: &str,
        topic: &str,
        partitions: i32,
        settings: &ingress::ProducerConfig,
    ) -> anyhow::Result<Self> {
        kafka_topics::ensure(
            brokers,
            &[TopicSpec {
                name: topic,
                partitions,
            }],
        )
        .await
        .context("create the baseline's topic")?;
        let timeout_ms = settings.produce_timeout.as_millis().to_string();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "metafrazo-bench-baseline")
            .set("acks", "all")
            .set("enable.idempotence", settings.idempotence.to_string())
            .set("linger.ms", settings.linger_ms.to_string())
            .set(
                "queue.buffering.max.messages",
                settings.queue_max_messages.to_string(),
            )
            .set("message.timeout.ms", &timeout_ms)
            .set("request.timeout.ms", &timeout_ms)
            .create()
            .context("create the baseline's producer")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind the baseline")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baseline")
            .enable_all()
            .build()
            .context("the baseline's runtime")?;
        let app = Router::new()
            .route(ingress::CONNECT_EVENTS, post(produce))
            .with_state(Arc::new(Sink {
                producer,
                topic: topic.to_owned(),
            }));
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            url,
            runtime: Some(runtime),
            stop: Some(stop),
        })
    }
}

impl Drop for Baseline {
    /// Without blocking: dropping a runtime inside another one's task would panic.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn produce(State(sink): State<Arc<Sink>>, body: Bytes) -> StatusCode {
    let record = FutureRecord::to(&sink.topic)
        .key(KEY)
        .payload(body.as_ref());
    // As ingress does: a full local queue fails at once rather than waiting.
    let Ok(delivery) = sink.producer.send_result(record) else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    match delivery.await {
        Ok(Ok(_)) => StatusCode::ACCEPTED,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}
