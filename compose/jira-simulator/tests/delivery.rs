//! Jira's retry rule, against a tiny server that answers from a script: retried on 5xx, 429 and
//! timeouts with the same identifier and a counting retry header; never retried on a 401.

mod common;

use std::time::Duration;

use common::{Reply, Stack};
use jira_simulator::{AttemptResult, DeliveryOptions, Outcome, Target, WorkspaceSpec};
use serde_json::json;

async fn installed() -> (
    Stack,
    jira_simulator::Simulator,
    jira_simulator::ConnectInstallation,
) {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = simulator
        .install_connect(&stack.target(), &WorkspaceSpec::random())
        .await
        .expect("installs");
    (stack, simulator, installation)
}

#[tokio::test]
async fn two_503s_then_202_is_accepted_after_2_retries_with_the_same_identifier() {
    let (stack, simulator, installation) = installed().await;
    stack
        .ingress
        .script([Reply::Status(503), Reply::Status(503), Reply::Status(202)]);

    let delivery = simulator
        .send_connect_event(
            &stack.target(),
            &installation,
            &json!({"webhookEvent": "jira:issue_updated"}),
            common::fast_delivery(),
        )
        .await
        .expect("delivers");

    assert_eq!(delivery.outcome, Outcome::Accepted { status: 202 });
    assert_eq!(delivery.retries(), 2);
    assert_eq!(delivery.statuses(), [Some(503), Some(503), Some(202)]);
    let requests = stack.ingress.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.header("x-atlassian-webhook-identifier"),
            Some(delivery.identifier.as_str())
        );
    }
    let retry_headers: Vec<_> = requests
        .iter()
        .map(|request| request.header("x-atlassian-webhook-retry"))
        .collect();
    assert_eq!(retry_headers, [None, Some("1"), Some("2")]);
}

#[tokio::test]
async fn a_401_is_final() {
    let (stack, simulator, installation) = installed().await;
    stack.ingress.script([Reply::Status(401)]);
    let delivery = simulator
        .send_connect_event(
            &stack.target(),
            &installation,
            &json!({}),
            common::fast_delivery(),
        )
        .await
        .expect("delivers");
    assert_eq!(delivery.outcome, Outcome::Refused { status: 401 });
    assert_eq!(delivery.retries(), 0);
    assert_eq!(stack.ingress.requests().len(), 1);
}

#[tokio::test]
async fn throttling_and_timeouts_are_retried_until_the_retries_run_out() {
    let (stack, simulator, installation) = installed().await;
    stack.ingress.script([
        Reply::Status(429),
        Reply::After(Duration::from_millis(500), 202),
        Reply::Status(500),
    ]);
    let options = DeliveryOptions {
        max_retries: 2,
        timeout: Duration::from_millis(200),
        ..common::fast_delivery()
    };
    let delivery = simulator
        .send_connect_event(&stack.target(), &installation, &json!({}), options)
        .await
        .expect("delivers");
    let results: Vec<_> = delivery
        .attempts
        .iter()
        .map(|attempt| attempt.result.clone())
        .collect();
    assert_eq!(
        results,
        [
            AttemptResult::Status(429),
            AttemptResult::TimedOut,
            AttemptResult::Status(500)
        ]
    );
    assert_eq!(delivery.outcome, Outcome::RetriesExhausted);
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_reported() {
    let (stack, simulator, installation) = installed().await;
    // A port that was free a moment ago: nothing listens there once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let closed = url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let target = Target::new(stack.onboarding.url.clone(), closed);
    let options = DeliveryOptions {
        max_retries: 1,
        ..common::fast_delivery()
    };
    let delivery = simulator
        .send_connect_event(&target, &installation, &json!({}), options)
        .await
        .expect("delivers");
    assert_eq!(delivery.outcome, Outcome::RetriesExhausted);
    assert_eq!(delivery.attempts.len(), 2);
    assert!(
        matches!(
            delivery.attempts[0].result,
            AttemptResult::ConnectionFailed(_)
        ),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn a_chosen_identifier_replays_a_delivery() {
    let (stack, simulator, installation) = installed().await;
    let options = DeliveryOptions {
        identifier: Some("replayed-1".into()),
        ..common::fast_delivery()
    };
    for _ in 0..2 {
        simulator
            .send_connect_event(&stack.target(), &installation, &json!({}), options.clone())
            .await
            .expect("delivers");
    }
    let identifiers: Vec<_> = stack
        .ingress
        .requests()
        .iter()
        .map(|r| {
            r.header("x-atlassian-webhook-identifier")
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        identifiers,
        [Some("replayed-1".to_owned()), Some("replayed-1".to_owned())]
    );
}
