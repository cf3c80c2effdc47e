//! A Data Center webhook captured in flight and sent again (security issue 17, finding 11),
//! through the real path: onboarding, ingress and the pipeline in process, the stack's broker,
//! and a ClickHouse database of the test's own. The HMAC covers only the body and Atlassian's
//! identifier header is unsigned, so an attacker replays the body with any identifier they
//! like: it must stay one delivery, and once the body is older than the replay window, none.

use std::time::Duration;

use jira_simulator::{DeliveryOptions, Simulator, SimulatorConfig, Target, in_process};
use serde_json::Value;
use test_kit::{Stack, TestApp, eventually, fresh_topics, unique};
use tokio_util::sync::CancellationToken;

fn once(identifier: &str) -> DeliveryOptions {
    DeliveryOptions {
        max_retries: 0,
        timeout: Duration::from_secs(10),
        backoff: Duration::from_millis(10),
        identifier: Some(identifier.to_owned()),
    }
}

/// A fixture event as Jira would make it `age` ago.
fn event_made(name: &str, age: Duration) -> Value {
    let path = format!(
        "{}/../../shared/fixtures/jira/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let age_ms = i64::try_from(age.as_millis()).unwrap();
    event["timestamp"] = (chrono::Utc::now().timestamp_millis() - age_ms).into();
    event
}

#[tokio::test]
async fn a_replayed_data_center_delivery_is_stored_once() {
    let stack = Stack::from_env();
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let postgres = stack.fresh_postgres().await;
    let clickhouse = stack.fresh_clickhouse().await;
    let topics = fresh_topics(&stack.kafka.brokers, 2).await;
    let (raw, dead) = (topics.raw.clone(), topics.dead_letter.clone());
    let onboarding = in_process::start_onboarding(&sim, postgres.clone(), |_| {})
        .await
        .unwrap();

    let mut cipher = None;
    let ingress = in_process::start_ingress(
        &sim,
        postgres.clone(),
        &stack.kafka.brokers,
        &topics,
        |config| {
            // The default, whatever the environment says (the local stack widens it for demo
            // data).
            config.verify.replay_window = Duration::from_secs(3600);
            cipher = Some(config.cipher.clone());
        },
    )
    .await
    .unwrap();
    let cipher = cipher.expect("ingress's cipher");

    let mut pipeline_config = pipeline::Config::from_env().unwrap();
    pipeline_config.server.listen_on_free_ports();
    pipeline_config.clickhouse = clickhouse.clone();
    pipeline_config.topics.raw = raw.clone();
    pipeline_config.topics.dead_letter = dead.clone();
    pipeline_config.consumer.group = unique("group");
    pipeline_config.batch.max_wait = Duration::from_millis(200);
    let topics = pipeline_config.topics.clone();
    let built = pipeline::build(pipeline_config).await.unwrap();
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(pipeline::Pipeline::consume(
        clickhouse.clone(),
        stack.kafka.brokers.clone(),
        topics,
        built.worker,
        built.maintenance,
        stop.clone(),
    ));
    let _pipeline = TestApp::spawn(built.app);

    let connection = onboarding::webhook_connections::create(
        &postgres.pool().unwrap(),
        &cipher,
        "Data Center",
        "https://jira.example.test",
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let target = Target::new(
        onboarding.address.parse().unwrap(),
        ingress.address.parse().unwrap(),
    );
    let send = |event: &Value, identifier: &str| {
        let (sim, target, connection) = (&sim, &target, &connection);
        let (event, options) = (event.clone(), once(identifier));
        async move {
            sim.send_admin_webhook(target, &connection.id, &connection.secret, &event, options)
                .await
                .unwrap()
        }
    };
    let delivery_id_answered = |delivery: &jira_simulator::Delivery| {
        let answer: Value = serde_json::from_str(&delivery.last_body).unwrap();
        answer["delivery_id"].as_str().unwrap().to_owned()
    };

    // Jira's delivery; ingress hears of the connection through a notification.
    let event = event_made("issue_created", Duration::from_secs(60));
    let original = eventually(
        Duration::from_secs(10),
        "ingress to accept the connection's webhooks",
        || async {
            let delivery = send(&event, "jira-delivery-1").await;
            if delivery.is_accepted() {
                Ok(delivery)
            } else {
                Err(format!("{delivery:?}"))
            }
        },
    )
    .await;
    let delivery_id = delivery_id_answered(&original);
    assert_eq!(delivery_id, original.body_sha256);

    // The capture, replayed with identifiers of the attacker's choosing, at once and in a burst.
    let replays =
        futures::future::join_all((0..8).map(|n| send(&event, &format!("attacker-{n}")))).await;
    for replay in &replays {
        assert!(replay.is_accepted(), "{replay:?}");
        assert_eq!(delivery_id_answered(replay), delivery_id, "one delivery");
    }
    // The same capture once it is older than the window: refused, stored nowhere.
    let stale = send(
        &event_made("comment_created", Duration::from_secs(2 * 3600)),
        "attacker-late",
    )
    .await;
    assert_eq!(stale.statuses(), vec![Some(401)], "{stale:?}");
    assert!(stale.last_body.contains("stale_delivery"), "{stale:?}");

    // A later event on the same partition: once it is stored, everything before it was read.
    let later = send(
        &event_made("worklog_created", Duration::from_secs(1)),
        "jira-delivery-2",
    )
    .await;
    assert!(later.is_accepted(), "{later:?}");
    let client = clickhouse.client();
    eventually(
        Duration::from_secs(60),
        "the later event stored",
        || async {
            let stored = client
                .query("SELECT toUInt64(count()) FROM events WHERE delivery_id = ?")
                .bind(&later.body_sha256)
                .fetch_one::<u64>()
                .await
                .unwrap_or(0);
            if stored > 0 {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        },
    )
    .await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query(sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(
        count("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events").await,
        2,
        "the replayed delivery and the later one"
    );
    assert_eq!(
        count("SELECT toUInt64(count()) FROM events FINAL").await,
        2,
        "each stored once"
    );
    let stale_rows = client
        .query("SELECT toUInt64(count()) FROM events WHERE delivery_id = ?")
        .bind(&stale.body_sha256)
        .fetch_one::<u64>()
        .await
        .unwrap();
    assert_eq!(stale_rows, 0, "nothing of the stale replay");

    stop.cancel();
    consuming.await.unwrap().unwrap();
}
