//! `POST /forge/lifecycle` against the running stack, the simulator playing Forge Remote: an
//! install mails the installer (found with the app system token) a setup link that completes into
//! an organization; preUninstall marks it uninstalled and keeps the organization; every way a
//! FIT can be wrong gets 401 and creates nothing; an unknown eventType gets 400.

mod support;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jira_simulator::{INSTALLED_EVENT, UNINSTALLED_EVENT};
use serde_json::{Value, json};
use support::{Harness, email, setup_path};
use test_kit::flip_signature_char;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The token with its header replaced and, for `none`, its signature dropped; HS256 is signed
/// with a key anyone could pick.
fn with_algorithm(fit: &str, alg: &str, kid: &str) -> String {
    let claims_segment = fit.split('.').nth(1).unwrap();
    match alg {
        "none" => {
            let header = URL_SAFE_NO_PAD
                .encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
            format!("{header}.{claims_segment}.")
        }
        _ => {
            let claims: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims_segment).unwrap()).unwrap();
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some(kid.to_owned());
            jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(b"a secret anyone could choose"),
            )
            .unwrap()
        }
    }
}

/// What a case does to a freshly minted FIT.
type Tamper<'a> = dyn Fn(&str) -> String + 'a;

async fn installation_state(harness: &Harness, installation_id: &str) -> Option<String> {
    let client = harness.pool.get().await.unwrap();
    client
        .query_opt(
            "SELECT state FROM installations WHERE client_key = $1",
            &[&installation_id],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

#[tokio::test]
async fn a_forge_install_mails_a_setup_link_that_completes_and_pre_uninstall_keeps_the_organization()
 {
    let harness = Harness::start().await;
    let installation = harness.sim.new_forge_installation();
    let installer = email("forge-admin");
    let install = harness
        .sim
        .install_forge(&harness.target, &installation, &installer)
        .await
        .unwrap();
    let mail = harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 0)
        .await;
    assert_eq!(mail.to, vec![installer.clone()]);

    let client = harness.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT source, base_url, cloud_id, api_base_url, installer_account_id, secret,
                    forge_system_token
             FROM installations WHERE client_key = $1",
            &[&installation.installation_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "forge");
    assert_eq!(row.get::<_, &str>(1), installation.site_url);
    assert_eq!(row.get::<_, &str>(2), installation.cloud_id);
    assert_eq!(row.get::<_, &str>(3), installation.api_base_url);
    assert_eq!(row.get::<_, &str>(4), install.installer_account_id);
    assert!(
        row.get::<_, Option<Vec<u8>>>(5).is_none(),
        "no Connect secret"
    );
    let stored_token: Vec<u8> = row.get(6);
    assert!(
        !stored_token
            .windows(install.system_token.len())
            .any(|window| window == install.system_token.as_bytes()),
        "the system token is stored encrypted"
    );

    let path = setup_path(&mail);
    let mut browser = harness.signed_up(&email("forge-owner")).await;
    browser
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("name your organization");
    browser
        .submit(&path, &[("action", "create"), ("organization", "Forge Co")])
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    let organization: Option<uuid::Uuid> = client
        .query_one(
            "SELECT organization_id FROM installations WHERE client_key = $1",
            &[&installation.installation_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(organization.is_some(), "the link made an organization");

    harness
        .sim
        .uninstall_forge(&harness.target, &install)
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT state, organization_id FROM installations WHERE client_key = $1",
            &[&installation.installation_id],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, &str>(0),
        "uninstalled",
        "ingress refuses its events"
    );
    assert_eq!(row.get::<_, Option<uuid::Uuid>>(1), organization);
}

#[tokio::test]
async fn a_forge_installer_email_refused_while_permissions_propagate_is_retried_until_sent() {
    let harness = Harness::start().await;
    harness.sim.lag_forge_permissions(2);
    let installation = harness.sim.new_forge_installation();
    let installer = email("forge-lagging");
    harness
        .sim
        .install_forge(&harness.target, &installation, &installer)
        .await
        .unwrap();
    let mail = harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 0)
        .await;
    assert_eq!(mail.to, vec![installer]);
    let client = harness.pool.get().await.unwrap();
    let attempts: i32 = client
        .query_one("SELECT attempts FROM outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 3, "two refused lookups, then the one that sent");
}

#[tokio::test]
async fn every_bad_forge_invocation_token_gets_401_and_creates_nothing() {
    let harness = Harness::start().await;
    let sim = &harness.sim;
    let now = now();
    let cases: Vec<(&str, Box<Tamper>, Value)> = vec![
        ("bad signature", Box::new(flip_signature_char), json!({})),
        (
            "another app's aud",
            Box::new(str::to_owned),
            json!({"aud": "ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000000"}),
        ),
        (
            "wrong iss",
            Box::new(str::to_owned),
            json!({"iss": "someone/else"}),
        ),
        (
            "expired",
            Box::new(str::to_owned),
            json!({"iat": now - 300, "nbf": now - 300, "exp": now - 120}),
        ),
        (
            "alg none",
            Box::new(|fit: &str| with_algorithm(fit, "none", sim.kid())),
            json!({}),
        ),
        (
            "HS256",
            Box::new(|fit: &str| with_algorithm(fit, "HS256", sim.kid())),
            json!({}),
        ),
    ];
    for (case, tamper, overrides) in cases {
        let installation = sim.new_forge_installation();
        let fit = tamper(&sim.mint_fit(&installation, &overrides).unwrap());
        let body = sim.forge_lifecycle_body(&installation, INSTALLED_EVENT, Some("712020:someone"));
        let answer = sim
            .post_forge_lifecycle(&harness.target, &body, &fit, Some("a-system-token"))
            .await
            .unwrap();
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        let error: Value = serde_json::from_str(&answer.body).unwrap();
        assert!(error["error"].is_string(), "{case}: {error}");
        assert_eq!(
            installation_state(&harness, &installation.installation_id).await,
            None,
            "{case} created an installation"
        );
    }
    assert_eq!(harness.count("SELECT count(*) FROM outbox").await, 0);

    // A replayed token (same jti) is refused, even for another event.
    let installation = sim.new_forge_installation();
    let fit = sim.mint_fit(&installation, &json!({})).unwrap();
    let install_body =
        sim.forge_lifecycle_body(&installation, INSTALLED_EVENT, Some("712020:someone"));
    let first = sim
        .post_forge_lifecycle(&harness.target, &install_body, &fit, Some("a-system-token"))
        .await
        .unwrap();
    assert_eq!(first.status, 204, "{}", first.body);
    let uninstall_body = sim.forge_lifecycle_body(&installation, UNINSTALLED_EVENT, None);
    let replayed = sim
        .post_forge_lifecycle(&harness.target, &uninstall_body, &fit, None)
        .await
        .unwrap();
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    assert!(replayed.body.contains("replayed"), "{}", replayed.body);
    assert_eq!(
        installation_state(&harness, &installation.installation_id)
            .await
            .as_deref(),
        Some("installed"),
        "the replay changed nothing"
    );
}

#[tokio::test]
async fn an_unknown_forge_event_type_gets_400() {
    let harness = Harness::start().await;
    let installation = harness.sim.new_forge_installation();
    let fit = harness.sim.mint_fit(&installation, &json!({})).unwrap();
    let body = harness
        .sim
        .forge_lifecycle_body(&installation, "avi:forge:exploded:app", None);
    let answer = harness
        .sim
        .post_forge_lifecycle(&harness.target, &body, &fit, None)
        .await
        .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        installation_state(&harness, &installation.installation_id).await,
        None
    );
}
