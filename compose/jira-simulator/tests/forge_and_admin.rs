//! Forge events (a FIT as bearer token, fresh for every attempt) and Jira Data Center admin
//! webhooks (an HMAC of the body), delivered to the ingress under the same retry rule.

mod common;

use common::{Reply, Stack};
use hmac::{Hmac, Mac};
use jira_simulator::{EventFixtures, Outcome};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use rand::SeedableRng;
use serde_json::Value;
use sha2::Sha256;

#[tokio::test]
async fn forge_events_carry_a_fit_the_jwks_verifies_on_every_attempt() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = simulator.new_forge_installation();
    let fixtures =
        EventFixtures::load(&EventFixtures::default_forge_dir()).expect("forge fixtures");
    let payload = fixtures.generate(&mut rand::rngs::StdRng::seed_from_u64(1));
    stack.ingress.script([Reply::Status(502)]);

    let delivery = simulator
        .send_forge_event(
            &stack.target(),
            &installation,
            &payload,
            common::fast_delivery(),
        )
        .await
        .expect("delivers");
    assert_eq!(delivery.outcome, Outcome::Accepted { status: 200 });
    assert_eq!(delivery.retries(), 1);

    let jwk = simulator.jwk();
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).expect("components");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a"]);
    let requests = stack.ingress.requests();
    let mut jtis = Vec::new();
    for request in &requests {
        assert_eq!(request.path, "/forge/events");
        assert_eq!(request.json(), payload);
        let claims = decode::<Value>(&request.token("Bearer"), &key, &validation)
            .expect("a valid FIT")
            .claims;
        assert_eq!(
            claims["app"]["installationId"],
            installation.installation_id.as_str()
        );
        jtis.push(claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1], "each attempt gets its own FIT");
}

#[tokio::test]
async fn admin_webhooks_are_signed_with_an_hmac_of_the_body() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let payload = serde_json::json!({ "webhookEvent": "jira:issue_created", "timestamp": 1 });
    stack
        .ingress
        .script([Reply::Status(429), Reply::Status(204)]);

    let delivery = simulator
        .send_admin_webhook(
            &stack.target(),
            "conn-42",
            "dc-secret",
            &payload,
            common::fast_delivery(),
        )
        .await
        .expect("delivers");
    assert_eq!(delivery.outcome, Outcome::Accepted { status: 204 });

    let requests = stack.ingress.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.path, "/webhooks/conn-42");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"dc-secret").expect("any key length");
        mac.update(&request.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(request.header("x-hub-signature"), Some(expected.as_str()));
        assert_eq!(
            request.header("x-atlassian-webhook-identifier"),
            Some(delivery.identifier.as_str())
        );
    }
    assert_eq!(requests[1].header("x-atlassian-webhook-retry"), Some("1"));
}

#[tokio::test]
async fn myself_answers_a_live_app_system_token_and_401_once_jira_uninstalled_the_app() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = simulator.new_forge_installation();
    let install = simulator
        .install_forge(&stack.target(), &installation, "ada@example.test")
        .await
        .expect("installs");
    let url = simulator
        .url()
        .expect("serving")
        .join("/rest/api/3/myself")
        .expect("url");
    let ask = |token: String| {
        let url = url.clone();
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answers");
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or_default(),
            )
        }
    };

    let (status, body) = ask(install.system_token.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accountType"], "app");
    assert_eq!(ask("forge-system-unknown".to_owned()).await.0, 401);

    simulator
        .forget_forge_installation(&install)
        .await
        .expect("forgets");
    assert_eq!(ask(install.system_token.clone()).await.0, 401);
}
