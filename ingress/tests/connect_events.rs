//! Connect webhooks end to end: the simulator installs through onboarding and signs events as
//! Jira does; ingress verifies them and produces envelopes to the test's own topic.

mod support;

use std::time::Duration;

use contracts::Source;
use jira_simulator::{connect_qsh, sign_connect_token};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Harness, fixture, once};
use test_kit::eventually;

async fn post(
    harness: &Harness,
    authorization: Option<String>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = harness
        .ingress
        .client
        .post(format!("{}/atlassian/events", harness.ingress.address))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_signed_event_lands_in_the_topic_byte_for_byte() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let body = fixture("jira/issue_updated_status.json");
    let delivery = harness
        .sim
        .send_connect_body(&harness.target, &installation, body.clone().into(), once())
        .await
        .unwrap();
    assert!(delivery.is_accepted(), "{delivery:?}");

    let envelopes = harness.envelopes(&harness.raw_topic, 1).await;
    let (envelope, _) = &envelopes[0];
    assert_eq!(envelope.payload, body, "the payload is stored untouched");
    assert_eq!(envelope.client_key, installation.client_key);
    assert_eq!(envelope.delivery_id, delivery.body_sha256);
    assert_eq!(envelope.source, Source::Connect);
    assert_eq!(envelope.retry, 0);
    assert!(envelope.received_at_ms > 0);
}

#[tokio::test]
async fn a_retried_delivery_is_known_by_its_body_whatever_identifier_it_claims() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let token = sign_connect_token(
        &installation,
        &json!({"iss": installation.client_key, "qsh": connect_qsh("POST", "/atlassian/events", "", ""), "iat": now(), "exp": now() + 180}),
    )
    .unwrap();
    let response = harness
        .ingress
        .client
        .post(format!("{}/atlassian/events", harness.ingress.address))
        .header("Authorization", format!("JWT {token}"))
        .header("X-Atlassian-Webhook-Identifier", "delivery-42")
        .header("X-Atlassian-Webhook-Retry", "2")
        .body(fixture("jira/comment_created.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let (envelope, _) = &harness.envelopes(&harness.raw_topic, 1).await[0];
    // The identifier header is signed by nothing: a replay could claim any.
    assert_eq!(
        envelope.delivery_id,
        hex::encode(Sha256::digest(fixture("jira/comment_created.json")))
    );
    assert_eq!(envelope.retry, 2);
}

#[tokio::test]
async fn a_delivery_without_an_identifier_is_identified_by_its_content() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let token = |qsh: &str| {
        sign_connect_token(
            &installation,
            &json!({"iss": installation.client_key, "qsh": qsh, "iat": now(), "exp": now() + 180}),
        )
        .unwrap()
    };
    let qsh = connect_qsh("POST", "/atlassian/events", "", "");
    let body = fixture("jira/worklog_created.json");
    for _ in 0..2 {
        let response = post(&harness, Some(format!("JWT {}", token(&qsh))), body.clone()).await;
        assert_eq!(response.status(), 202);
    }
    let envelopes = harness.envelopes(&harness.raw_topic, 2).await;
    assert_eq!(envelopes[0].0.delivery_id, envelopes[1].0.delivery_id);
    assert_eq!(
        envelopes[0].0.delivery_id.as_str().len(),
        64,
        "a SHA-256 in hex"
    );
}

#[tokio::test]
async fn each_way_a_connect_event_can_be_untrusted_gets_401_saying_which() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let qsh = connect_qsh("POST", "/atlassian/events", "", "");
    let claims = |overrides: Value| {
        let mut claims =
            json!({"iss": installation.client_key, "qsh": qsh, "iat": now(), "exp": now() + 180});
        for (key, value) in overrides.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let signed = |overrides: Value| {
        format!(
            "JWT {}",
            sign_connect_token(&installation, &claims(overrides)).unwrap()
        )
    };
    let mut wrong_secret = installation.clone();
    wrong_secret.shared_secret = "not-the-shared-secret-at-all-0123456789abcdef".to_owned();
    let unsigned_none = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "JWT {}.{}.",
            engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
            engine.encode(claims(json!({})).to_string())
        )
    };
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(installation.shared_secret.as_bytes()),
    )
    .unwrap();

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no Authorization header", None, "missing_token"),
        ("not a JWT", Some("JWT garbage".into()), "malformed_token"),
        (
            "signed with another secret",
            Some(format!(
                "JWT {}",
                sign_connect_token(&wrong_secret, &claims(json!({}))).unwrap()
            )),
            "bad_signature",
        ),
        (
            "for an unknown workspace",
            Some(signed(json!({"iss": "never-installed"}))),
            "unknown_installation",
        ),
        (
            "bound to another request",
            Some(signed(
                json!({"qsh": connect_qsh("POST", "/other", "", "")}),
            )),
            "qsh_mismatch",
        ),
        (
            "expired",
            Some(signed(json!({"iat": now() - 900, "exp": now() - 600}))),
            "expired",
        ),
        (
            "issued in the future",
            Some(signed(json!({"iat": now() + 900, "exp": now() + 1000}))),
            "issued_in_the_future",
        ),
        ("alg none", Some(unsigned_none), "unsupported_algorithm"),
        (
            "alg HS384",
            Some(format!("JWT {hs384}")),
            "unsupported_algorithm",
        ),
        (
            "no qsh",
            Some(signed(json!({"qsh": null}))),
            "missing_claim",
        ),
    ];
    for (case, authorization, code) in cases {
        let response = post(&harness, authorization, fixture("jira/issue_created.json")).await;
        assert_eq!(error_code(response).await, (401, code.to_owned()), "{case}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_event_gets_400_and_is_kept_as_a_dead_letter() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"<xml>not json</xml>".to_vec()),
        ("no webhookEvent", br#"{"issue":{"key":"SEC-1"}}"#.to_vec()),
        ("invalid UTF-8", b"{\"webhookEvent\":\"\xff\xfe\"}".to_vec()),
    ];
    for (case, body) in &cases {
        let delivery = harness
            .sim
            .send_connect_body(&harness.target, &installation, body.clone().into(), once())
            .await
            .unwrap();
        assert_eq!(delivery.statuses(), vec![Some(400)], "{case}");
    }
    let dead = harness
        .envelopes(&harness.dead_letter_topic, cases.len())
        .await;
    for ((_, body), (envelope, reason)) in cases.iter().zip(&dead) {
        assert_eq!(&envelope.payload, body);
        assert!(reason.is_some(), "a dead letter says why");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let harness = Harness::start_with(|config| config.max_body_bytes = 16 * 1024).await;
    let installation = harness.install_connect().await;
    let mut event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
    event["issue"]["fields"]["description"] = json!("x".repeat(32 * 1024));
    let delivery = harness
        .sim
        .send_connect_event(&harness.target, &installation, &event, once())
        .await
        .unwrap();
    assert_eq!(delivery.statuses(), vec![Some(413)]);
}

#[tokio::test]
async fn uninstall_stops_events_within_a_second() {
    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    harness
        .sim
        .uninstall_connect(&harness.target, &installation)
        .await
        .unwrap();
    let event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
    let refused = eventually(
        Duration::from_secs(1),
        "events refused after the uninstall",
        || async {
            let delivery = harness
                .sim
                .send_connect_event(&harness.target, &installation, &event, once())
                .await
                .unwrap();
            if delivery.statuses() == vec![Some(401)] {
                Ok(delivery)
            } else {
                Err(format!("{:?}", delivery.statuses()))
            }
        },
    )
    .await;
    assert!(
        refused.last_body.contains("uninstalled"),
        "{}",
        refused.last_body
    );
}

#[tokio::test]
async fn after_a_reinstall_only_the_new_secret_is_accepted() {
    let harness = Harness::start().await;
    let old = harness.install_connect().await;
    let new = harness
        .sim
        .reinstall_connect(&harness.target, &old)
        .await
        .unwrap();
    let event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
    // Wait for the rotation to reach ingress, then check both secrets.
    eventually(Duration::from_secs(5), "the old secret refused", || async {
        let statuses = harness
            .sim
            .send_connect_event(&harness.target, &old, &event, once())
            .await
            .unwrap()
            .statuses();
        if statuses == vec![Some(401)] {
            Ok(())
        } else {
            Err(format!("{statuses:?}"))
        }
    })
    .await;
    let delivery = harness
        .sim
        .send_connect_event(&harness.target, &new, &event, once())
        .await
        .unwrap();
    assert!(delivery.is_accepted(), "{delivery:?}");
}

#[tokio::test]
async fn a_deleted_organizations_workspace_is_refused_until_connected_again() {
    use accounts_store::{installations::read_model, organizations, users};

    let harness = Harness::start().await;
    let installation = harness.install_connect().await;
    let client = harness.pool.get().await.unwrap();
    let owner = users::create(
        &client,
        &format!("{}@example.test", test_kit::unique("owner")),
        "not a real hash",
    )
    .await
    .unwrap()
    .unwrap();
    let organization = organizations::create_with_owner(&client, "Deleted soon", owner)
        .await
        .unwrap();
    assert!(
        organizations::connect_installation(&client, &installation.client_key, organization)
            .await
            .unwrap()
    );
    let event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
    let send = || async {
        harness
            .sim
            .send_connect_event(&harness.target, &installation, &event, once())
            .await
            .unwrap()
    };
    assert!(send().await.is_accepted());

    // The owner deletes the organization; the workspace stays installed in Jira and keeps
    // sending, but nobody is left to read it.
    organizations::delete(&client, organization).await.unwrap();
    let refused = eventually(
        Duration::from_secs(5),
        "events refused after the organization is deleted",
        || async {
            let delivery = send().await;
            if delivery.statuses() == vec![Some(401)] {
                Ok(delivery)
            } else {
                Err(format!("{:?}", delivery.statuses()))
            }
        },
    )
    .await;
    assert!(refused.last_body.contains("uninstalled"), "{refused:?}");

    // Later the Jira admin connects it again through a setup link: it collects again.
    let id = read_model::by_client_key(&client, &installation.client_key)
        .await
        .unwrap()
        .unwrap()
        .id;
    let again = organizations::create_with_owner(&client, "Connected again", owner)
        .await
        .unwrap();
    assert!(
        organizations::connect_installation_by_id(&client, *id.as_uuid(), again)
            .await
            .unwrap()
    );
    eventually(
        Duration::from_secs(5),
        "events taken again after the new connection",
        || async {
            let delivery = send().await;
            if delivery.is_accepted() {
                Ok(())
            } else {
                Err(format!("{:?}", delivery.statuses()))
            }
        },
    )
    .await;
}
