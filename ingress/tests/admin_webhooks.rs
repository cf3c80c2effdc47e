//! Webhooks a Jira admin registered by hand, signed with the connection's HMAC secret.

mod support;

use serde_json::Value;
use support::{Harness, fixture, once};
use test_kit::eventually;

#[tokio::test]
async fn a_correctly_signed_admin_webhook_is_accepted_and_a_wrong_one_refused() {
    let harness = Harness::start().await;
    let connection = onboarding::webhook_connections::create(
        &harness.pool,
        &harness.cipher,
        "Data Center",
        "https://jira.example.test",
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
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
        std::time::Duration::from_secs(5),
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
