//! `kill -9` of the pipeline binary in the middle of a stream, then a restart: every delivery is
//! stored, and after ClickHouse's merge exactly once; the distinct count never exceeds the truth.

use std::time::Duration;

use contracts::{Envelope, Source};
use rdkafka::{
    ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use test_kit::{Stack, eventually, free_port, fresh_topics, unique};

// Enough that the stream outlasts the look that finds a third of it stored, and the kill.
const DELIVERIES: usize = 1_500;

#[tokio::test]
async fn a_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice() {
    let stack = Stack::from_env();
    let clickhouse = stack.fresh_clickhouse().await;
    let client = clickhouse.client();
    let topics = fresh_topics(&stack.kafka.brokers, 4).await;
    let (raw, dead, group) = (topics.raw, topics.dead_letter, unique("group"));

    let payload = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/jira/issue_updated_status.json"
    ))
    .unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka.brokers)
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let installations: Vec<uuid::Uuid> = (0..8).map(|_| uuid::Uuid::new_v4()).collect();
    let sends = (0..DELIVERIES).map(|n| {
        let envelope = Envelope {
            installation_id: installations[n % installations.len()].into(),
            client_key: contracts::ClientKey::parse("client").unwrap(),
            delivery_id: contracts::DeliveryId::parse(format!("delivery-{n}")).unwrap(),
            retry: 0,
            source: Source::Connect,
            received_at_ms: 1_763_397_700_000,
            request_id: "request".into(),
            payload: payload.clone().into(),
        };
        let producer = &producer;
        let raw = &raw;
        async move {
            let mut headers = OwnedHeaders::new();
            for (key, value) in envelope.headers() {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let key = envelope.key();
            producer
                .send(
                    FutureRecord::to(raw)
                        .key(&key)
                        .payload(envelope.payload.as_ref())
                        .headers(headers),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(err, _)| err)
                .unwrap();
        }
    });
    futures::future::join_all(sends).await;

    let start = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .env("PIPELINE_ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("CLICKHOUSE_DATABASE", &clickhouse.database)
            .env("KAFKA_RAW_TOPIC", &raw)
            .env("KAFKA_DEAD_LETTER_TOPIC", &dead)
            .env("KAFKA_CONSUMER_GROUP", &group)
            .env("KAFKA_GROUP_INSTANCE_ID", "pipeline-0")
            // Small, frequent batches, so the kill lands between inserts and offset commits.
            .env("BATCH_MAX_ROWS", "50")
            .env("BATCH_MAX_WAIT_MS", "50")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the pipeline binary")
    };
    let distinct = || async {
        client
            .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
            .fetch_one::<u64>()
            .await
            .unwrap_or(0)
    };

    let mut first = start();
    // Polled every 10 ms, not with `eventually`: its pauses grow while the pipeline starts and
    // migrates, and by the next look the whole stream could be stored, leaving nothing to kill.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored = distinct().await;
        if stored >= (DELIVERIES / 3) as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a third of the deliveries stored before the kill: {stored} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().await.unwrap(); // SIGKILL: no flush, no commit
    let at_kill = distinct().await;
    assert!(
        at_kill < DELIVERIES as u64,
        "the kill came too late to test anything ({at_kill})"
    );

    let _second = start();
    eventually(
        Duration::from_secs(120),
        "every delivery stored after the restart",
        || async {
            let stored = distinct().await;
            assert!(
                stored <= DELIVERIES as u64,
                "more deliveries than were sent: {stored}"
            );
            if stored == DELIVERIES as u64 {
                Ok(())
            } else {
                Err(format!("{stored} of {DELIVERIES}"))
            }
        },
    )
    .await;
    let after_merge: u64 = client
        .query("SELECT toUInt64(count()) FROM events FINAL")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(after_merge, DELIVERIES as u64);
}
