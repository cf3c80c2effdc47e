//! The pipeline against the real broker and ClickHouse: envelopes in a topic of the test's own
//! end up as rows exactly once, poison goes to the dead letters with its reason, a row ClickHouse
//! refuses is dead-lettered while the rest of its batch is stored, a replay of the topic changes
//! no count, and a ClickHouse outage loses nothing. On a ClickHouse cluster (`on_a_cluster_…`,
//! which `compose/local test` runs with `CLICKHOUSE_CLUSTER` set; on one server they say they
//! skipped): an insert retried after its answer was lost is stored once, and a replica stopped
//! mid-stream catches up with nothing lost.

use std::time::Duration;

use contracts::{Envelope, Source};
use rdkafka::{
    ClientConfig, Message,
    consumer::{Consumer, StreamConsumer},
    message::{Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use service_runtime::connections::ClickHouseConfig;
use test_kit::{LostInsertAnswers, Stack, TcpGate, TestApp, eventually, fresh_topics, unique};
use tokio_util::sync::CancellationToken;

const FIXTURES: &[&str] = &[
    "comment_created",
    "issue_created",
    "issue_deleted",
    "issue_resolved",
    "issue_updated_assignee_priority",
    "issue_updated_status",
    "issuelink_created",
    "project_created",
    "sprint_started",
    "user_created",
    "version_released",
    "worklog_created",
];

struct Setup {
    stack: Stack,
    clickhouse: ClickHouseConfig,
    raw: String,
    dead: String,
    producer: FutureProducer,
    installation: uuid::Uuid,
}

async fn setup() -> Setup {
    let stack = Stack::from_env();
    let clickhouse = stack.fresh_clickhouse().await;
    let topics = fresh_topics(&stack.kafka.brokers, 2).await;
    let (raw, dead) = (topics.raw, topics.dead_letter);
    let producer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka.brokers)
        .create()
        .unwrap();
    Setup {
        stack,
        clickhouse,
        raw,
        dead,
        producer,
        installation: uuid::Uuid::new_v4(),
    }
}

impl Setup {
    fn config(&self, clickhouse: &ClickHouseConfig) -> pipeline::Config {
        let mut config = pipeline::Config::from_env().unwrap();
        config.server.listen_on_free_ports();
        config.clickhouse = clickhouse.clone();
        config.topics.raw = self.raw.clone();
        config.topics.dead_letter = self.dead.clone();
        config.consumer.group = unique("group");
        config.batch.max_wait = Duration::from_millis(200);
        config
    }

    /// Starts consuming in the background with its own consumer group; returns its stop switch,
    /// the task, and its HTTP side (for its metrics).
    async fn run(
        &self,
        clickhouse: &ClickHouseConfig,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
        TestApp,
    ) {
        let config = self.config(clickhouse);
        let topics = config.topics.clone();
        let stop = CancellationToken::new();
        let built = pipeline::build(config).await.unwrap();
        let task = tokio::spawn(pipeline::Pipeline::consume(
            clickhouse.clone(),
            self.stack.kafka.brokers.clone(),
            topics,
            built.worker,
            built.maintenance,
            stop.clone(),
        ));
        (stop, task, TestApp::spawn(built.app))
    }

    async fn produce(&self, envelope: &Envelope, with_headers: bool) {
        let mut headers = OwnedHeaders::new();
        if with_headers {
            for (key, value) in envelope.headers() {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
        }
        let key = envelope.key();
        self.producer
            .send(
                FutureRecord::to(&self.raw)
                    .key(&key)
                    .payload(envelope.payload.as_ref())
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(err, _)| err)
            .unwrap();
    }

    fn fixture_envelopes(&self) -> Vec<Envelope> {
        FIXTURES
            .iter()
            .map(|name| Envelope {
                installation_id: self.installation.into(),
                client_key: contracts::ClientKey::parse("client").unwrap(),
                delivery_id: contracts::DeliveryId::parse(format!("delivery-{name}")).unwrap(),
                retry: 0,
                source: Source::Connect,
                received_at_ms: 1_763_397_700_000,
                request_id: "request".into(),
                payload: std::fs::read(format!(
                    "{}/../../shared/fixtures/jira/{name}.json",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap()
                .into(),
            })
            .collect()
    }

    async fn scalar(&self, sql: &str) -> u64 {
        self.clickhouse
            .client()
            .query(sql)
            .fetch_one::<u64>()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `events` holds `expected` distinct deliveries.
    async fn wait_for_events(&self, expected: u64) {
        eventually(
            Duration::from_secs(60),
            &format!("{expected} events stored"),
            || async {
                let stored = self
                    .clickhouse
                    .client()
                    .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
                    .fetch_one::<u64>()
                    .await
                    .unwrap_or(0);
                if stored >= expected {
                    Ok(())
                } else {
                    Err(format!("{stored} stored"))
                }
            },
        )
        .await;
    }

    async fn counts(&self) -> (u64, u64, u64) {
        (
            self.scalar("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events").await,
            self.scalar("SELECT toUInt64(count()) FROM events FINAL").await,
            self.scalar("SELECT toUInt64(uniqExact(installation_id, delivery_id, item_index)) FROM field_changes").await,
        )
    }

    async fn dead_letters(&self, count: usize) -> Vec<String> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.stack.kafka.brokers)
            .set("group.id", unique("reader"))
            .set("auto.offset.reset", "earliest")
            .create()
            .unwrap();
        consumer.subscribe(&[&self.dead]).unwrap();
        let mut reasons = Vec::new();
        while reasons.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
                .await
                .expect("dead letters within 30 s")
                .unwrap();
            let reason = message
                .headers()
                .and_then(|headers| {
                    headers
                        .iter()
                        .find(|header| header.key == "mf-dead-letter-reason")
                        .and_then(|header| {
                            header
                                .value
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                        })
                })
                .unwrap_or_default();
            reasons.push(reason);
        }
        reasons
    }
}

#[tokio::test]
async fn every_fixture_is_stored_once_and_poison_goes_to_the_dead_letters() {
    let setup = setup().await;
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    let envelopes = setup.fixture_envelopes();
    for envelope in &envelopes {
        setup.produce(envelope, true).await;
    }
    let mut not_json = envelopes[0].clone();
    not_json.delivery_id = contracts::DeliveryId::parse("poison-not-json").unwrap();
    not_json.payload = b"<html>".to_vec().into();
    setup.produce(&not_json, true).await;
    setup.produce(&envelopes[1], false).await;

    let (stop, task, app) = setup.run(&setup.clickhouse).await;
    setup.wait_for_events(envelopes.len() as u64).await;
    let reasons = setup.dead_letters(2).await;
    // Lag comes from librdkafka's statistics, every few seconds: once everything is read, the
    // partition holding the events (one installation: one partition) reports zero.
    eventually(
        Duration::from_secs(20),
        "a partition reporting zero lag",
        || async {
            let metrics = app.metrics().await;
            let zero_lag = metrics
                .lines()
                .filter(|line| {
                    line.starts_with("pipeline_consumer_lag_messages{") && line.contains(&setup.raw)
                })
                .filter(|line| line.ends_with(" 0"))
                .count();
            if zero_lag >= 1 { Ok(()) } else { Err(metrics) }
        },
    )
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();

    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("unnormalizable_payload")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("undecodable_envelope")),
        "{reasons:?}"
    );
    let (distinct, final_count, changes) = setup.counts().await;
    assert_eq!(distinct, envelopes.len() as u64);
    assert_eq!(final_count, envelopes.len() as u64);
    assert!(
        changes >= 2,
        "the assignee/priority update has two field changes"
    );
}

#[tokio::test]
async fn replaying_the_topic_changes_no_count() {
    let setup = setup().await;
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    let envelopes = setup.fixture_envelopes();
    for envelope in &envelopes {
        setup.produce(envelope, true).await;
    }
    let (stop, task, _app) = setup.run(&setup.clickhouse).await;
    setup.wait_for_events(envelopes.len() as u64).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let before = setup.counts().await;

    // Jira retries (the same deliveries again) and a consumer group reading the whole topic
    // from the start (a redelivery after a crash, at its worst).
    for envelope in &envelopes {
        setup.produce(envelope, true).await;
    }
    let (stop, task, app) = setup.run(&setup.clickhouse).await;
    // The second group reads all 2n messages and inserts every delivery again.
    eventually(
        Duration::from_secs(60),
        "the replay read and inserted again",
        || async {
            let metrics = app.metrics().await;
            let consumed = metric(&metrics, "pipeline_consumed_total");
            let inserted = metric(&metrics, "pipeline_inserted_rows_total{table=\"events\"}");
            if consumed >= 2 * envelopes.len() as u64 && inserted >= envelopes.len() as u64 {
                Ok(())
            } else {
                Err(format!("{consumed} read, {inserted} inserted"))
            }
        },
    )
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        setup.counts().await,
        before,
        "(distinct deliveries, rows after merge, distinct field changes)"
    );
}

#[tokio::test]
async fn a_clickhouse_outage_pauses_the_pipeline_and_loses_nothing() {
    let setup = setup().await;
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    let (gate, routed) = TcpGate::for_clickhouse(&setup.clickhouse).await;
    let envelopes = setup.fixture_envelopes();
    let (stop, task, app) = setup.run(&routed).await;
    // One delivery stored first: the pipeline has migrated through the gate and is consuming,
    // so the outage meets the insert, not the start-up (which waits for ClickHouse on its own).
    let (first, rest) = envelopes.split_first().unwrap();
    setup.produce(first, true).await;
    setup.wait_for_events(1).await;
    gate.close().await;
    for envelope in rest {
        setup.produce(envelope, true).await;
    }
    // The pipeline has met the outage and failed: only then does "nothing stored" say the
    // outage paused it rather than that it had not got round to it. It meets it at the next
    // insert, or still refreshing the first batch's flow facts (which follows the insert the
    // test saw, and pauses consuming just the same while it is retried).
    eventually(
        Duration::from_secs(20),
        "an insert or a flow refresh failing while ClickHouse is away",
        || async {
            let metrics = app.metrics().await;
            let failed = metric(&metrics, pipeline::metrics::INSERT_FAILURES_TOTAL)
                + metric(&metrics, pipeline::metrics::FLOW_REFRESH_FAILURES_TOTAL);
            match failed {
                0 => Err("no failure yet"),
                _ => Ok(()),
            }
        },
    )
    .await;
    assert_eq!(
        setup.counts().await.0,
        1,
        "nothing more stored while ClickHouse is away"
    );
    gate.open();
    setup.wait_for_events(envelopes.len() as u64).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let (distinct, final_count, _) = setup.counts().await;
    assert_eq!(
        (distinct, final_count),
        (envelopes.len() as u64, envelopes.len() as u64)
    );
}

#[tokio::test]
async fn a_row_clickhouse_refuses_is_dead_lettered_and_every_other_row_is_stored() {
    let setup = setup().await;
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    // ClickHouse's own check refuses one delivery, as it refuses a row it cannot take: the
    // insert of any block holding it fails with a data error, not an outage.
    const REFUSED: &str = "delivery-issue_created";
    setup
        .clickhouse
        .client()
        .query(&format!(
            "ALTER TABLE events ADD COLUMN refuse UInt8 MATERIALIZED throwIf(delivery_id = '{REFUSED}')"
        ))
        .execute()
        .await
        .unwrap();
    // Two workspaces in one batch: the other's rows must not wait on the refused one.
    let ours = setup.fixture_envelopes();
    let theirs: Vec<Envelope> = ours
        .iter()
        .map(|envelope| Envelope {
            installation_id: uuid::Uuid::new_v4().into(),
            delivery_id: contracts::DeliveryId::parse(format!(
                "theirs-{}",
                envelope.delivery_id.as_str()
            ))
            .unwrap(),
            ..envelope.clone()
        })
        .collect();
    for envelope in ours.iter().chain(&theirs) {
        setup.produce(envelope, true).await;
    }
    let (stop, task, app) = setup.run(&setup.clickhouse).await;

    let reasons = setup.dead_letters(1).await;
    assert!(
        reasons[0].starts_with("refused_by_clickhouse: ") && reasons[0].contains("Code: 395"),
        "the dead letter carries ClickHouse's reason: {reasons:?}"
    );
    let stored = (ours.len() + theirs.len() - 1) as u64;
    setup.wait_for_events(stored).await;
    // Consuming carries on after the refusal: a later delivery is stored too.
    let mut later = ours[1].clone();
    later.delivery_id = contracts::DeliveryId::parse("delivery-after-the-refusal").unwrap();
    setup.produce(&later, true).await;
    setup.wait_for_events(stored + 1).await;
    let metrics = app.metrics().await;
    stop.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(
        setup.counts().await.0,
        stored + 1,
        "every other delivery stored once"
    );
    assert_eq!(
        setup
            .scalar(&format!(
                "SELECT toUInt64(count()) FROM events WHERE delivery_id = '{REFUSED}'"
            ))
            .await,
        0,
        "the refused row is on the dead-letter topic, not half stored"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!(
                "{}{{reason=\"refused_by_clickhouse\"}}",
                pipeline::metrics::DEAD_LETTERS_TOTAL
            )
        ),
        1,
        "{metrics}"
    );
}

/// Whether the test's ClickHouse is a cluster; says so when it is not.
fn on_a_cluster(setup: &Setup) -> bool {
    let cluster = !setup.clickhouse.cluster.is_empty();
    if !cluster {
        eprintln!(
            "skipped: needs a ClickHouse cluster (CLICKHOUSE_CLUSTER); compose/local test runs it on the local one"
        );
    }
    cluster
}

/// The replicated tables dedupe an identical block, and the pipeline's retry sends the same
/// rows in the same order: the copy the server stored before the answer was lost is the only one.
/// Raw rows are counted (no `FINAL`): on one server the retry leaves a second copy until a merge.
#[tokio::test]
async fn on_a_cluster_an_insert_retried_after_its_answer_was_lost_is_stored_once() {
    let setup = setup().await;
    if !on_a_cluster(&setup) {
        return;
    }
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    // The changelog items' insert comes after the sprints' and worklogs' and before the events':
    // its retry sends all but the events again.
    let (changes_lost, lossy) =
        LostInsertAnswers::for_clickhouse(&setup.clickhouse, "field_changes", 1).await;
    let (stop, task, app) = setup.run(&lossy).await;
    let envelopes = setup.fixture_envelopes();
    for envelope in &envelopes {
        setup.produce(envelope, true).await;
    }
    setup.wait_for_events(envelopes.len() as u64).await;
    let metrics = app.metrics().await;
    stop.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(
        changes_lost.lost(),
        1,
        "the changelog insert's answer was lost"
    );
    assert!(
        metric(&metrics, pipeline::metrics::INSERT_FAILURES_TOTAL) >= 1,
        "the pipeline saw the failures and retried: {metrics}"
    );
    let raw = |table: &str, key: &str| {
        format!(
            "SELECT toUInt64(count()) - toUInt64(uniqExact({key})) FROM {table} WHERE installation_id = '{}'",
            setup.installation
        )
    };
    assert_eq!(
        setup
            .scalar(&raw("events", "installation_id, delivery_id"))
            .await,
        0,
        "one raw row per delivery"
    );
    assert!(
        setup
            .scalar("SELECT toUInt64(count()) FROM field_changes")
            .await
            > 0,
        "the fixtures have changes"
    );
    assert_eq!(
        setup
            .scalar(&raw(
                "field_changes",
                "installation_id, delivery_id, item_index"
            ))
            .await,
        0,
        "one raw row per changelog item"
    );
}

/// Replica 2 of the local cluster stops while the pipeline writes through replica 1, then
/// starts again: it fetches every part it missed, rollups included (their materialized views ran
/// on replica 1; replication carries the result).
#[tokio::test]
async fn on_a_cluster_a_replica_stopped_mid_stream_catches_up_and_loses_nothing() {
    let setup = setup().await;
    if !on_a_cluster(&setup) {
        return;
    }
    warehouse::migrate(&setup.clickhouse).await.unwrap();
    let (stop, task, _app) = setup.run(&setup.clickhouse).await;
    let envelopes = setup.fixture_envelopes();
    let (before, after) = envelopes.split_at(envelopes.len() / 2);
    for envelope in before {
        setup.produce(envelope, true).await;
    }
    setup.wait_for_events(before.len() as u64).await;
    replica("stop", 2);
    for envelope in after {
        setup.produce(envelope, true).await;
    }
    setup.wait_for_events(envelopes.len() as u64).await;
    replica("start", 2);
    stop.cancel();
    task.await.unwrap().unwrap();

    // The second replica, read from the first over the cluster's own connection.
    let other: String = setup
        .clickhouse
        .client()
        .query(
            "SELECT concat(host_address, ':', toString(port)) FROM system.clusters
             WHERE cluster = ? AND replica_num = 2",
        )
        .bind(&setup.clickhouse.cluster)
        .fetch_one()
        .await
        .unwrap();
    let database = &setup.clickhouse.database;
    let tables = [
        "events",
        "field_changes",
        "activity_hourly",
        "sprints",
        "worklogs",
    ];
    let count_on = |table: &str, on_other: bool| {
        if on_other {
            format!("SELECT toUInt64(count()) FROM remote('{other}', {database}, {table}_local)")
        } else {
            format!("SELECT toUInt64(count()) FROM {table}_local")
        }
    };
    for table in tables {
        let here = setup.scalar(&count_on(table, false)).await;
        assert!(here > 0, "{table} has rows");
        eventually(
            Duration::from_secs(60),
            &format!("replica 2 caught up on {table}"),
            || async {
                let there = setup
                    .clickhouse
                    .client()
                    .query(&count_on(table, true))
                    .fetch_one::<u64>()
                    .await
                    .map_err(|err| err.to_string())?;
                if there == here {
                    Ok(())
                } else {
                    Err(format!("{there} of {here} rows"))
                }
            },
        )
        .await;
    }
    assert_eq!(
        setup.counts().await.0,
        envelopes.len() as u64,
        "every delivery stored once"
    );
}

/// Stops or starts replica `n` of the local cluster (compose/local replica).
fn replica(action: &str, n: u8) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../compose/local");
    let status = std::process::Command::new("bash")
        .args([script, "replica", action, &n.to_string()])
        .status()
        .expect("run compose/local");
    assert!(status.success(), "compose/local replica {action} {n}");
}

/// The value of one series in Prometheus text, 0 when absent.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}
