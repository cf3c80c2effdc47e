//! The bare whole path our own is measured against: the least a service could do to move the
//! same deliveries into the same tables. Each half runs as a process of its own (this benchmark
//! binary started again with `BARE_ROLE`), so its CPU and memory are read as ours are.
//!
//! - The bare ingress answers every POST by producing its body to the raw topic, keyed by the
//!   installation, with the producer settings ours uses (acks=all, the same linger): no
//!   verification, no envelope headers, no checks, no metrics.
//! - The bare consumer reads those messages with the same fetch settings, makes the same rows
//!   with our normalizer (so both paths write identical rows), and inserts them with RowBinary in
//!   batches of the pipeline's default size, one insert in flight while the next batch is read,
//!   into a database with the same tables and rollups. No envelope, dead letters, duplicate
//!   check, offset discipline or metrics.
//!
//! Its figures are the machine's ceiling for this work: what is left between ours and it is the
//! cost of what ours does on top.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use contracts::InstallationId;
use pipeline::normalize::{self, Delivery, EventTimeBounds};
use rdkafka::{
    ClientConfig, Message,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use service_runtime::connections::ClickHouseConfig;
use sha2::{Digest, Sha256};
use warehouse::{EventRow, FieldChangeRow};

/// Names the half a re-started benchmark binary runs.
pub(crate) const ROLE: &str = "BARE_ROLE";
pub(crate) const INGRESS: &str = "ingress";
pub(crate) const CONSUMER: &str = "consumer";
/// The pipeline's `BATCH_MAX_ROWS` and `BATCH_MAX_WAIT_MS` defaults.
const BATCH_ROWS: usize = 5_000;
const BATCH_WAIT: Duration = Duration::from_secs(1);

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

/// Runs the half `BARE_ROLE` names until killed.
pub(crate) fn run(role: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match role {
        INGRESS => runtime.block_on(ingress()),
        CONSUMER => runtime.block_on(consumer()),
        other => anyhow::bail!("{ROLE}={other} names no half of the bare path"),
    }
}

struct Producing {
    producer: FutureProducer,
    topic: String,
    key: String,
}

async fn ingress() -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", env("KAFKA_BROKERS")?)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "100000")
        .set("message.timeout.ms", "5000")
        .create()?;
    let state = Arc::new(Producing {
        producer,
        topic: env("KAFKA_RAW_TOPIC")?,
        key: env("BARE_INSTALLATION_ID")?,
    });
    let app = Router::new()
        .fallback(post(produce))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024));
    let listener = tokio::net::TcpListener::bind(env("BARE_ADDR")?).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn produce(State(state): State<Arc<Producing>>, body: Bytes) -> StatusCode {
    let record = FutureRecord::to(&state.topic)
        .key(&state.key)
        .payload(body.as_ref())
        .timestamp(chrono::Utc::now().timestamp_millis());
    match state.producer.send(record, Timeout::Never).await {
        Ok(_) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

struct Rows {
    events: Vec<EventRow>,
    field_changes: Vec<FieldChangeRow>,
}

async fn consumer() -> anyhow::Result<()> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", env("KAFKA_BROKERS")?)
        .set("group.id", env("KAFKA_CONSUMER_GROUP")?)
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "20")
        .create()?;
    consumer.subscribe(&[&env("KAFKA_RAW_TOPIC")?])?;
    // The pipeline's own connection settings (the local ClickHouse needs them).
    let client = ClickHouseConfig {
        url: env("CLICKHOUSE_URL")?,
        database: env("CLICKHOUSE_DATABASE")?,
        user: env("CLICKHOUSE_USER")?,
        password: env("CLICKHOUSE_PASSWORD").unwrap_or_default().into(),
        cluster: std::env::var("CLICKHOUSE_CLUSTER").unwrap_or_default(),
    }
    .client();
    let mut inserting: Option<tokio::task::JoinHandle<anyhow::Result<()>>> = None;
    loop {
        let mut rows = Rows {
            events: Vec::with_capacity(BATCH_ROWS),
            field_changes: Vec::new(),
        };
        let deadline = tokio::time::sleep(BATCH_WAIT);
        tokio::pin!(deadline);
        while rows.events.len() < BATCH_ROWS {
            let message = tokio::select! {
                () = &mut deadline => break,
                message = consumer.recv() => message?,
            };
            let payload = message.payload().unwrap_or_default();
            let installation_id: InstallationId =
                std::str::from_utf8(message.key().unwrap_or_default())?
                    .parse()
                    .map_err(|_| anyhow::anyhow!("a bare message's key is an installation id"))?;
            // Ours hashes the body in ingress and carries the id in a header; the bare ingress
            // sends no headers, so the same id is made here.
            let delivery_id = hex::encode(Sha256::digest(payload));
            let normalized = normalize::normalize(
                &Delivery {
                    installation_id,
                    delivery_id: &delivery_id,
                    source: "connect",
                    received_at_ms: message.timestamp().to_millis().unwrap_or_default(),
                    payload,
                },
                EventTimeBounds::DEFAULT,
            )?;
            rows.events.push(normalized.event);
            rows.field_changes.extend(normalized.field_changes);
        }
        if let Some(previous) = inserting.take() {
            previous.await??;
        }
        if !rows.events.is_empty() {
            let client = client.clone();
            inserting = Some(tokio::spawn(async move { insert(&client, rows).await }));
        }
    }
}

async fn insert(client: &clickhouse::Client, rows: Rows) -> anyhow::Result<()> {
    if !rows.field_changes.is_empty() {
        let mut insert = client.insert::<FieldChangeRow>("field_changes").await?;
        for row in &rows.field_changes {
            insert.write(row).await?;
        }
        insert.end().await?;
    }
    let mut insert = client.insert::<EventRow>("events").await?;
    for row in &rows.events {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(())
}
