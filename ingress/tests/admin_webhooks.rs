//! Webhooks a Jira admin registered by hand, signed with the connection's HMAC secret, trusted
//! while the signed body's timestamp is within the replay window.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Harness, fixture, once};
use test_kit::eventually;

/// A fixture event as Jira would make it `age` ago (negative: a clock ahead of ours).
fn event_made(name: &str, age_secs: i64) -> Value {
    let mut event: Value = serde_json::from_slice(&fixture(name)).unwrap();
    event["timestamp"] = (chrono::Utc::now().timestamp_millis() - age_secs * 1000).into();
    event
}

/// A harness whose ingress has the default window, whatever the environment says.
async fn harness_with_an_hour_window() -> Harness {
    Harness::start_with(|config| config.verify.replay_window = Duration::from_secs(3600)).await
}

async fn new_connection(harness: &Harness) -> onboarding::webhook_connections::CreatedConnection {
    onboarding::webhook_connections::create(
        &harness.pool,
        &harness.cipher,
        "Data Center",
        "https://jira.example.test",
        Duration::from_secs(3600),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_correctly_signed_admin_webhook_is_accepted_and_a_wrong_one_refused() {
    let harness = harness_with_an_hour_window().await;
    let connection = new_connection(&harness).await;
    let event = event_made("jira/issue_created.json", 5);
    let send = |id: String, secret: String| {
        let harness = &harness;
        let event = &event;
        async move {
            harness
                .sim
                .send_admin_webhook(&harness.target, &id, &secret, event, once())
                .await
                .unwrap()
        }
    };
    // The connection reaches ingress through a notification; wait (bounded) for it.
    eventually(
        Duration::from_secs(5),
        "ingress to accept the new connection's webhooks",
        || async {
            let delivery = send(connection.id.clone(), connection.secret.clone()).await;
            if delivery.is_accepted() {
                Ok(())
            } else {
                Err(format!("{delivery:?}"))
            }
        },
    )
    .await;
    let (envelope, _) = &harness.envelopes(&harness.raw_topic, 1).await[0];
    assert_eq!(envelope.source, contracts::Source::WebhookSecret);
    assert_eq!(envelope.client_key, connection.id);

    let wrong = send(connection.id.clone(), "the-wrong-secret".to_owned()).await;
    assert_eq!(wrong.statuses(), vec![Some(401)]);
    assert!(
        wrong.last_body.contains("bad_signature"),
        "{}",
        wrong.last_body
    );
    let unknown = send("wh_unknown".to_owned(), connection.secret.clone()).await;
    assert_eq!(unknown.statuses(), vec![Some(401)]);
    assert!(unknown.last_body.contains("unknown_installation"));

    let unsigned = harness
        .ingress
        .client
        .post(format!(
            "{}/webhooks/{}",
            harness.ingress.address, connection.id
        ))
        .body(fixture("jira/issue_created.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body["error"], "missing_signature");
}

#[tokio::test]
async fn a_captured_webhook_replayed_is_the_same_delivery_and_past_the_window_is_refused() {
    let harness = harness_with_an_hour_window().await;
    let connection = new_connection(&harness).await;
    let body = serde_json::to_vec(&event_made("jira/issue_updated_status.json", 30)).unwrap();
    let signature = jira_simulator::admin_webhook_signature(&connection.secret, &body);
    // What an attacker who captured the request sends: its body and signature, and any
    // identifier and retry count they like (those headers are signed by nothing).
    let post = |body: Vec<u8>, signature: String, identifier: String| {
        let harness = &harness;
        let path = format!("{}/webhooks/{}", harness.ingress.address, connection.id);
        async move {
            let response = harness
                .ingress
                .client
                .post(path)
                .header("Content-Type", "application/json")
                .header(jira_simulator::SIGNATURE_HEADER, signature)
                .header(jira_simulator::IDENTIFIER_HEADER, identifier)
                .header(jira_simulator::RETRY_HEADER, "1")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            (status, answer)
        }
    };
    let first = eventually(
        Duration::from_secs(5),
        "ingress to accept the new connection's webhooks",
        || async {
            match post(body.clone(), signature.clone(), "jira-1".to_owned()).await {
                (202, answer) => Ok(answer),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let delivery_id = first["delivery_id"].as_str().unwrap().to_owned();
    let replays = futures::future::join_all(
        (0..5).map(|n| post(body.clone(), signature.clone(), format!("attacker-{n}"))),
    )
    .await;
    for (status, answer) in &replays {
        assert_eq!(*status, 202, "{answer}");
        assert_eq!(
            answer["delivery_id"],
            delivery_id.as_str(),
            "the same delivery"
        );
    }
    let envelopes = harness.envelopes(&harness.raw_topic, 6).await;
    assert!(
        envelopes
            .iter()
            .all(|(envelope, _)| envelope.delivery_id == delivery_id),
        "{:?}",
        envelopes
            .iter()
            .map(|(envelope, _)| envelope.delivery_id.as_str())
            .collect::<Vec<_>>()
    );

    // A body Jira made longer ago than the window, or further ahead, or undated: signed, and
    // still refused, so a capture is good for an hour at most.
    let mut undated = event_made("jira/issue_created.json", 0);
    undated.as_object_mut().unwrap().remove("timestamp");
    for (case, event, code) in [
        (
            "made an hour and a minute ago",
            event_made("jira/issue_created.json", 3660),
            "stale_delivery",
        ),
        (
            "made an hour and a minute ahead",
            event_made("jira/issue_created.json", -3660),
            "delivery_from_the_future",
        ),
        ("undated", undated, "no_timestamp"),
    ] {
        let body = serde_json::to_vec(&event).unwrap();
        let signature = jira_simulator::admin_webhook_signature(&connection.secret, &body);
        let (status, answer) = post(body, signature, format!("jira-{case}")).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some(code)),
            "{case}"
        );
    }
    let within = event_made("jira/issue_created.json", 3540);
    let body = serde_json::to_vec(&within).unwrap();
    let signature = jira_simulator::admin_webhook_signature(&connection.secret, &body);
    assert_eq!(
        post(body, signature, "jira-late-retry".to_owned()).await.0,
        202,
        "a retry 59 minutes on is still taken"
    );
}
