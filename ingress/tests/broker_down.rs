//! With the broker down, ingress answers 503 with Retry-After (never a 202 for an event it
//! could not store), reports not ready, and once the broker is back the retried deliveries are
//! stored: nothing accepted is lost, nothing refused for this reason is lost either.

mod support;

use std::time::Duration;

use jira_simulator::DeliveryOptions;
use serde_json::Value;
use support::{Harness, fixture, once};
use test_kit::TestBroker;

#[tokio::test]
async fn broker_down_gives_503_and_the_retried_events_are_stored_once_it_is_back() {
    let mut broker = TestBroker::start().await;
    let brokers = broker.brokers.clone();
    let harness = Harness::start_with(move |config| {
        config.kafka.brokers = brokers;
        config.producer.produce_timeout = Duration::from_millis(1500);
    })
    .await;
    let installation = harness.install_connect().await;
    let event = |name: &str| -> Value { serde_json::from_slice(&fixture(name)).unwrap() };

    let before = harness
        .sim
        .send_connect_event(
            &harness.target,
            &installation,
            &event("jira/issue_created.json"),
            once(),
        )
        .await
        .unwrap();
    assert!(before.is_accepted());

    broker.stop().await;
    let refused = harness
        .ingress
        .client
        .post(format!("{}/atlassian/events", harness.ingress.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        401,
        "verification does not need the broker"
    );
    let during = harness
        .sim
        .send_connect_event(
            &harness.target,
            &installation,
            &event("jira/comment_created.json"),
            once(),
        )
        .await
        .unwrap();
    assert_eq!(during.statuses(), vec![Some(503)], "{during:?}");
    harness
        .ingress
        .wait_until_not_ready("the broker is down")
        .await;

    // Jira retries; the broker comes back while it does.
    let retrying = {
        let sim = &harness.sim;
        let target = &harness.target;
        let installation = &installation;
        let payload = event("jira/issue_resolved.json");
        async move {
            sim.send_connect_event(
                target,
                installation,
                &payload,
                DeliveryOptions {
                    max_retries: 6,
                    backoff: Duration::from_millis(300),
                    timeout: Duration::from_secs(10),
                    identifier: Some("retried-through-the-outage".to_owned()),
                },
            )
            .await
            .unwrap()
        }
    };
    let restart = async {
        // How long the outage lasts: the retries under test have to ride it out.
        tokio::time::sleep(Duration::from_secs(2)).await;
        broker.start_again().await;
    };
    let (retried, ()) = tokio::join!(retrying, restart);
    assert!(retried.is_accepted(), "{retried:?}");
    assert!(
        retried.statuses().contains(&Some(503)),
        "the first attempts met the outage: {retried:?}"
    );

    let stored = harness.envelopes(&harness.raw_topic, 2).await;
    let ids: Vec<&str> = stored
        .iter()
        .map(|(envelope, _)| envelope.delivery_id.as_str())
        .collect();
    assert!(ids.contains(&before.body_sha256.as_str()), "{ids:?}");
    assert!(ids.contains(&retried.body_sha256.as_str()), "{ids:?}");
}
