//! Connect as Jira plays it, checked the way an app checks it: install callbacks verified with the
//! key served for their kid, webhooks verified with the shared secret, qsh recomputed here.

mod common;

use common::{APP_BASE_URL, Stack};
use jira_simulator::{
    ConnectInstallation, Simulator, WorkspaceSpec, connect_qsh, sign_connect_token,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

/// `printf 'POST&/atlassian/lifecycle/installed&' | sha256sum`: the qsh of the install callback,
/// relative to the app's base URL `https://metafrazo.example/app`.
const INSTALLED_QSH: &str = "b367f4491506132418b9b3ed0bad9250430a5b0185ac27033fe2e906ae65b72f";

async fn verify_install_token(simulator: &Simulator, token: &str) -> Value {
    let kid = decode_header(token).expect("header").kid.expect("a kid");
    let url = simulator
        .install_keys_base_url()
        .expect("serving")
        .join(&kid)
        .expect("url");
    let pem = reqwest::get(url)
        .await
        .expect("answers")
        .text()
        .await
        .expect("pem");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[APP_BASE_URL]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
    decode::<Value>(
        token,
        &DecodingKey::from_rsa_pem(pem.as_bytes()).expect("pem"),
        &validation,
    )
    .expect("the install key verifies the callback")
    .claims
}

async fn install(stack: &Stack, simulator: &Simulator) -> ConnectInstallation {
    simulator
        .install_connect(&stack.target(), &WorkspaceSpec::named("acme-eng"))
        .await
        .expect("installs")
}

#[tokio::test]
async fn install_posts_a_signed_lifecycle_callback_to_onboarding() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = install(&stack, &simulator).await;

    let request = stack.onboarding.only_request();
    assert_eq!(
        request.path, "/atlassian/lifecycle/installed",
        "the base URL's path stays public"
    );
    assert!(stack.ingress.requests().is_empty());
    let claims = verify_install_token(&simulator, &request.token("JWT")).await;
    assert_eq!(claims["iss"], installation.client_key.as_str());
    assert_eq!(claims["sub"], installation.installer_account_id.as_str());
    assert_eq!(claims["aud"], json!([APP_BASE_URL]));
    assert_eq!(claims["qsh"], INSTALLED_QSH);
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        180
    );

    let body = request.json();
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            jira_simulator::EventFixtures::default_dir().join("lifecycle_installed.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    let keys = |value: &Value| {
        value
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&body),
        keys(&fixture),
        "the body has the fixture's shape"
    );
    assert_eq!(body["eventType"], "installed");
    assert_eq!(body["key"], "io.metafrazo.jira");
    assert_eq!(body["clientKey"], installation.client_key.as_str());
    assert_eq!(body["sharedSecret"], installation.shared_secret.as_str());
    assert_eq!(body["baseUrl"], "https://acme-eng.atlassian.net");
    assert_eq!(body["cloudId"], installation.cloud_id.as_str());
    assert!(
        installation
            .installation_id
            .starts_with("ari:cloud:ecosystem::installation/")
    );
    assert!(installation.installer_account_id.starts_with("712020:"));
    assert!(installation.shared_secret.len() >= 43);
    assert_eq!(installation.app_base_url, APP_BASE_URL);
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn reinstall_keeps_the_client_key_and_changes_the_secret_and_uninstall_is_signed_too() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let first = install(&stack, &simulator).await;
    let second = simulator
        .reinstall_connect(&stack.target(), &first)
        .await
        .expect("reinstalls");
    assert_eq!(second.client_key, first.client_key);
    assert_eq!(second.cloud_id, first.cloud_id);
    assert_ne!(second.shared_secret, first.shared_secret);
    simulator
        .uninstall_connect(&stack.target(), &second)
        .await
        .expect("uninstalls");

    let requests = stack.onboarding.requests();
    let paths: Vec<_> = requests
        .iter()
        .map(|request| request.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "/atlassian/lifecycle/installed",
            "/atlassian/lifecycle/installed",
            "/atlassian/lifecycle/uninstalled"
        ]
    );
    assert_eq!(
        requests[1].json()["sharedSecret"],
        second.shared_secret.as_str()
    );
    let uninstall = &requests[2];
    assert_eq!(uninstall.json()["eventType"], "uninstalled");
    let claims = verify_install_token(&simulator, &uninstall.token("JWT")).await;
    // printf 'POST&/atlassian/lifecycle/uninstalled&' | sha256sum
    assert_eq!(
        claims["qsh"],
        "0a70bc9c9922bc4daff533255404ffc5848e7de5d4c009e9032528d667d722c8"
    );
}

#[tokio::test]
async fn a_refused_install_is_an_error_that_quotes_the_answer() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    stack.onboarding.script([common::Reply::Status(401)]);
    let err = simulator
        .install_connect(&stack.target(), &WorkspaceSpec::random())
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            jira_simulator::SimulatorError::LifecycleRefused { status: 401, .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn connect_events_go_to_the_ingress_signed_with_the_shared_secret() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = install(&stack, &simulator).await;
    let payload = json!({ "webhookEvent": "jira:issue_updated", "timestamp": 1 });

    let delivery = simulator
        .send_connect_event(
            &stack.target(),
            &installation,
            &payload,
            common::fast_delivery(),
        )
        .await
        .expect("delivers");
    assert!(delivery.is_accepted());

    let request = stack.ingress.only_request();
    assert_eq!(request.path, "/atlassian/events");
    assert_eq!(request.json(), payload);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request.header("x-atlassian-webhook-retry").is_none());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["iss", "exp", "iat"]);
    let claims = decode::<Value>(
        &request.token("JWT"),
        &DecodingKey::from_secret(installation.shared_secret.as_bytes()),
        &validation,
    )
    .expect("the shared secret verifies the webhook")
    .claims;
    assert_eq!(claims["iss"], installation.client_key.as_str());
    // printf 'POST&/atlassian/events&' | sha256sum
    assert_eq!(
        claims["qsh"],
        "07fdb1805eb775e64845d4cb73b44f95c1993b59ab7ac194ef832e660c0c7870"
    );
    assert_eq!(
        claims["qsh"],
        connect_qsh("POST", "/app/atlassian/events", "", "/app").as_str()
    );
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        180
    );
}

#[tokio::test]
async fn the_email_endpoint_answers_the_app_for_the_installer_only() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = simulator
        .install_connect(
            &stack.target(),
            &WorkspaceSpec::named("acme-eng").with_installer("ada"),
        )
        .await
        .expect("installs");
    let base = simulator.url().expect("serving");
    let lookup = |account_id: &str, secret: &str| {
        let query = format!(
            "accountId={}",
            jira_simulator::qsh::percent_encode(account_id)
        );
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({
            "iss": installation.app_key,
            "iat": now,
            "exp": now + 60,
            "qsh": connect_qsh("GET", "/rest/api/3/user/email", &query, ""),
        });
        let signer = ConnectInstallation {
            shared_secret: secret.to_owned(),
            ..installation.clone()
        };
        let token = sign_connect_token(&signer, &claims).expect("signs");
        let url = base
            .join(&format!("/rest/api/3/user/email?{query}"))
            .expect("url");
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("JWT {token}"))
                .send()
                .await
                .expect("answers");
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or_default(),
            )
        }
    };

    let (status, body) = lookup(
        &installation.installer_account_id,
        &installation.shared_secret,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "accountId": installation.installer_account_id, "email": "ada@example.test" })
    );
    assert_eq!(
        lookup(
            &installation.installer_account_id,
            "wrong-secret-wrong-secret-wrong-secret-xx"
        )
        .await
        .0,
        401
    );
    assert_eq!(
        lookup("712020:someone-else", &installation.shared_secret)
            .await
            .0,
        404
    );

    let unsigned = base
        .join(&format!(
            "/rest/api/3/user/email?accountId={}",
            installation.installer_account_id
        ))
        .expect("url");
    assert_eq!(reqwest::get(unsigned).await.expect("answers").status(), 401);
}

#[tokio::test]
async fn the_addon_resource_answers_the_app_while_installed_and_404_once_jira_lost_it() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let installation = simulator
        .install_connect(&stack.target(), &WorkspaceSpec::named("acme-ops"))
        .await
        .expect("installs");
    let base = simulator.url().expect("serving");
    let path = format!("/rest/atlassian-connect/1/addons/{}", installation.app_key);
    let ask = |secret: &str, qsh_path: &str| {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = json!({
            "iss": installation.app_key,
            "iat": now,
            "exp": now + 60,
            "qsh": connect_qsh("GET", qsh_path, "", ""),
        });
        let signer = ConnectInstallation {
            shared_secret: secret.to_owned(),
            ..installation.clone()
        };
        let token = sign_connect_token(&signer, &claims).expect("signs");
        let url = base.join(&path).expect("url");
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("JWT {token}"))
                .send()
                .await
                .expect("answers");
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or_default(),
            )
        }
    };

    let (status, body) = ask(&installation.shared_secret, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key"], installation.app_key.as_str());
    assert_eq!(body["state"], "ENABLED");
    assert_eq!(body["host"]["baseUrl"], installation.site_base_url.as_str());
    let cases = [
        (
            "wrong-secret-wrong-secret-wrong-secret-xx",
            path.as_str(),
            401,
            "a secret no installation has",
        ),
        (
            installation.shared_secret.as_str(),
            "/rest/api/3/user/email",
            401,
            "a qsh for another request",
        ),
    ];
    for (secret, qsh_path, want, case) in cases {
        assert_eq!(ask(secret, qsh_path).await.0, want, "{case}");
    }
    let unsigned = base.join(&path).expect("url");
    assert_eq!(reqwest::get(unsigned).await.expect("answers").status(), 401);

    simulator.fail_installation_checks(true);
    assert_eq!(ask(&installation.shared_secret, &path).await.0, 503);
    simulator.fail_installation_checks(false);

    simulator
        .forget_connect_installation(&installation)
        .await
        .expect("forgets");
    assert_eq!(ask(&installation.shared_secret, &path).await.0, 404);
    assert_eq!(
        simulator.installation_checks_answered(),
        6,
        "every call is counted"
    );
}
