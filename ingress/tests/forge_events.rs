//! Forge Remote events: Forge Invocation Tokens minted by the simulator with its own RSA key,
//! published as a JWKS that ingress fetches.

mod support;

use jira_simulator::{Simulator, SimulatorConfig};
use serde_json::{Value, json};
use support::{Harness, fixture, once};
use test_kit::eventually;

async fn post(harness: &Harness, authorization: Option<String>) -> (u16, String) {
    let mut request = harness
        .ingress
        .client
        .post(format!("{}/forge/events", harness.ingress.address))
        .body(fixture("forge/issue_created.json"));
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_forge_event_with_a_valid_token_lands_in_the_topic() {
    let harness = Harness::start().await;
    let installation = harness.install_forge().await;
    let event: Value = serde_json::from_slice(&fixture("forge/issue_updated_status.json")).unwrap();
    let delivery = harness
        .sim
        .send_forge_event(&harness.target, &installation, &event, once())
        .await
        .unwrap();
    assert!(delivery.is_accepted(), "{delivery:?}");
    let (envelope, _) = &harness.envelopes(&harness.raw_topic, 1).await[0];
    assert_eq!(envelope.source, contracts::Source::Forge);
    assert_eq!(envelope.client_key, installation.installation_id);
    assert_eq!(
        serde_json::from_slice::<Value>(&envelope.payload).unwrap(),
        event
    );
}

#[tokio::test]
async fn each_way_a_forge_token_can_be_untrusted_gets_401_saying_which() {
    let harness = Harness::start().await;
    let installation = harness.install_forge().await;
    let stranger = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let bearer = |overrides: Value| {
        format!(
            "Bearer {}",
            harness.sim.mint_fit(&installation, &overrides).unwrap()
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Flip one character inside the signature (not the last, whose spare bits may make the
    // base64 merely malformed rather than a wrong signature).
    let tampered =
        test_kit::flip_signature_char(&harness.sim.mint_fit(&installation, &json!({})).unwrap());
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&tampered).unwrap();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"guessing"),
    )
    .unwrap();
    let unknown = harness.sim.new_forge_installation();

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "missing_token"),
        (
            "bad signature",
            Some(format!("Bearer {tampered}")),
            "bad_signature",
        ),
        (
            "signed by a key Atlassian does not publish",
            Some(format!(
                "Bearer {}",
                stranger.mint_fit(&installation, &json!({})).unwrap()
            )),
            "unknown_signing_key",
        ),
        (
            "another app's audience",
            Some(bearer(
                json!({"aud": "ari:cloud:ecosystem::app/someone-else"}),
            )),
            "wrong_audience",
        ),
        (
            "wrong issuer",
            Some(bearer(json!({"iss": "forge/something-else"}))),
            "wrong_issuer",
        ),
        (
            "expired",
            Some(bearer(
                json!({"iat": now - 900, "nbf": now - 900, "exp": now - 600}),
            )),
            "expired",
        ),
        (
            "HS256",
            Some(format!("Bearer {hs256}")),
            "unsupported_algorithm",
        ),
        (
            "unknown installation",
            Some(format!(
                "Bearer {}",
                harness.sim.mint_fit(&unknown, &json!({})).unwrap()
            )),
            "unknown_installation",
        ),
    ];
    for (case, authorization, code) in cases {
        assert_eq!(
            post(&harness, authorization).await,
            (401, code.to_owned()),
            "{case}"
        );
    }
}

#[tokio::test]
async fn an_uninstalled_forge_installation_is_refused() {
    let harness = Harness::start().await;
    let installation = harness.install_forge().await;
    let client = harness.pool.get().await.unwrap();
    accounts_store::installations::set_state(
        &client,
        &installation.installation_id,
        accounts_store::installations::State::Uninstalled,
    )
    .await
    .unwrap();
    let event: Value = serde_json::from_slice(&fixture("forge/issue_created.json")).unwrap();
    let refused = eventually(
        std::time::Duration::from_secs(1),
        "events refused after the uninstall",
        || async {
            let delivery = harness
                .sim
                .send_forge_event(&harness.target, &installation, &event, once())
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
    assert!(refused.last_body.contains("uninstalled"));
}

#[tokio::test]
async fn a_retried_forge_delivery_keeps_its_delivery_id_so_it_is_counted_once() {
    let harness = Harness::start().await;
    let installation = harness.install_forge().await;
    let event: Value = serde_json::from_slice(&fixture("forge/issue_updated_status.json")).unwrap();
    // Forge retrying, and the same event arriving wrapped in `payload`: one event, one id.
    for body in [
        event.clone(),
        event.clone(),
        json!({"payload": event.clone()}),
    ] {
        let delivery = harness
            .sim
            .send_forge_event(&harness.target, &installation, &body, once())
            .await
            .unwrap();
        assert!(delivery.is_accepted(), "{delivery:?}");
    }
    let mut later = event;
    later["timestamp"] = json!("1795000000999");
    harness
        .sim
        .send_forge_event(&harness.target, &installation, &later, once())
        .await
        .unwrap();
    let envelopes = harness.envelopes(&harness.raw_topic, 4).await;
    let ids: Vec<&str> = envelopes
        .iter()
        .map(|(e, _)| e.delivery_id.as_str())
        .collect();
    assert!(ids[0].starts_with("forge-"), "{ids:?}");
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
    assert_ne!(ids[0], ids[3], "another event, another id");
}

#[tokio::test]
async fn a_forge_token_carries_one_delivery_however_often_and_however_fast_it_is_replayed() {
    let harness = Harness::start().await;
    let installation = harness.install_forge().await;
    let event = fixture("forge/issue_updated_status.json");
    let token = format!(
        "Bearer {}",
        harness.sim.mint_fit(&installation, &json!({})).unwrap()
    );
    let send = |authorization: String, body: Vec<u8>| {
        let harness = &harness;
        async move {
            let response = harness
                .ingress
                .client
                .post(format!("{}/forge/events", harness.ingress.address))
                .header("Content-Type", "application/json")
                .header("Authorization", authorization)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            (status, answer)
        }
    };

    // A captured request sent 20 times at once, then 5 more one after the other, then with
    // another body under the same token: the token carries one delivery.
    let mut answers =
        futures::future::join_all((0..20).map(|_| send(token.clone(), event.clone()))).await;
    for _ in 0..5 {
        answers.push(send(token.clone(), event.clone()).await);
    }
    answers.push(send(token.clone(), fixture("forge/issue_created.json")).await);
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, answer)| answer)
        .collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    for (status, answer) in answers.iter().filter(|(status, _)| *status != 202) {
        assert_eq!(
            (*status, answer["error"].as_str()),
            (401, Some("token_reused"))
        );
    }

    // Forge's own retry comes with a new token: taken, and the same delivery as before.
    let fresh = format!(
        "Bearer {}",
        harness.sim.mint_fit(&installation, &json!({})).unwrap()
    );
    let (status, retried) = send(fresh, event.clone()).await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["delivery_id"], accepted[0]["delivery_id"]);

    // A token without a `jti` cannot be told apart from its replays.
    let unnamed = format!(
        "Bearer {}",
        harness
            .sim
            .mint_fit(&installation, &json!({"jti": null}))
            .unwrap()
    );
    let (status, answer) = send(unnamed, event).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("missing_claim"))
    );

    let envelopes = harness.envelopes(&harness.raw_topic, 2).await;
    assert_eq!(envelopes[0].0.delivery_id, envelopes[1].0.delivery_id);
    let metrics = harness.ingress.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("ingress_forge_tokens_tracked ")),
        "{metrics}"
    );
}
