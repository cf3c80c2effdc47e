//! The keys the simulator publishes verify what it signs: the Connect install key as a PEM per
//! kid, and the Forge JWKS.

mod common;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

#[tokio::test]
async fn the_install_key_served_for_the_kid_verifies_a_signed_install_token() {
    let simulator = common::simulator().await;
    let url = simulator
        .install_keys_base_url()
        .expect("serving")
        .join(simulator.kid())
        .expect("url");
    let response = reqwest::get(url).await.expect("the key server answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let pem = response.text().await.expect("body");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({ "iss": "client-key", "aud": ["https://app.example"], "iat": now, "exp": now + 180 });
    let token = simulator.sign_install_token(&claims).expect("signs");
    assert_eq!(
        decode_header(&token).expect("header").kid.as_deref(),
        Some(simulator.kid())
    );
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://app.example"]);
    let verified = decode::<Value>(
        &token,
        &DecodingKey::from_rsa_pem(pem.as_bytes()).expect("a PEM"),
        &validation,
    )
    .expect("the served key verifies the token");
    assert_eq!(verified.claims, claims);
}

#[tokio::test]
async fn an_unknown_kid_is_404() {
    let simulator = common::simulator().await;
    let url = simulator
        .install_keys_base_url()
        .expect("serving")
        .join("0e50fccb-239d-4991-a5db-dc850ba3f236")
        .expect("url");
    assert_eq!(reqwest::get(url).await.expect("answers").status(), 404);
}

#[tokio::test]
async fn the_forge_jwks_verifies_a_minted_fit() {
    let simulator = common::simulator().await;
    let jwks: Value = reqwest::get(simulator.jwks_url().expect("serving"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let key = &jwks["keys"][0];
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    assert_eq!(key["kid"], simulator.kid());
    let n = key["n"].as_str().expect("n");
    assert!(
        !n.contains('=') && !n.contains('+') && !n.contains('/'),
        "base64url without padding"
    );

    let installation = simulator.new_forge_installation();
    let fit = simulator
        .mint_fit(&installation, &json!({}))
        .expect("mints");
    assert_eq!(
        decode_header(&fit).expect("header").kid.as_deref(),
        Some(simulator.kid())
    );
    let app_ari = "ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a";
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[app_ari]);
    validation.set_issuer(&["forge/invocation-token"]);
    validation.validate_nbf = true;
    let decoding =
        DecodingKey::from_rsa_components(n, key["e"].as_str().expect("e")).expect("components");
    let claims = decode::<Value>(&fit, &decoding, &validation)
        .expect("the JWKS verifies the FIT")
        .claims;
    assert_eq!(claims["app"]["id"], app_ari);
    assert_eq!(
        claims["app"]["installationId"],
        installation.installation_id.as_str()
    );
    assert_eq!(
        claims["app"]["apiBaseUrl"],
        installation.api_base_url.as_str()
    );
    assert_eq!(claims["context"]["cloudId"], installation.cloud_id.as_str());
    assert_eq!(claims["context"]["siteUrl"], installation.site_url.as_str());
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        25
    );
    assert!(claims["jti"].is_string());

    let other = simulator
        .mint_fit(&installation, &json!({}))
        .expect("mints");
    let other_claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&other)
        .expect("decodes")
        .claims;
    assert_ne!(
        other_claims["jti"], claims["jti"],
        "every FIT has its own jti"
    );
}

#[tokio::test]
async fn fit_overrides_set_nested_claims_and_remove_others() {
    let simulator = common::simulator().await;
    let installation = simulator.new_forge_installation();
    let fit = simulator
        .mint_fit(&installation, &json!({ "aud": "ari:cloud:ecosystem::app/other", "app": { "installationId": "forged" }, "jti": null }))
        .expect("mints");
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&fit)
        .expect("decodes")
        .claims;
    assert_eq!(claims["aud"], "ari:cloud:ecosystem::app/other");
    assert_eq!(claims["app"]["installationId"], "forged");
    assert_eq!(
        claims["app"]["apiBaseUrl"],
        installation.api_base_url.as_str(),
        "untouched claims stay"
    );
    assert!(claims.get("jti").is_none());
    assert!(
        simulator
            .mint_fit(&installation, &json!("not an object"))
            .is_err()
    );
}

#[tokio::test]
async fn a_key_file_keeps_the_kid_across_restarts() {
    let path = std::env::temp_dir().join(format!(
        "jira-simulator-restart-{}/key.pem",
        uuid::Uuid::new_v4()
    ));
    let config = jira_simulator::SimulatorConfig {
        key_file: Some(path.clone()),
        ..Default::default()
    };
    let first = jira_simulator::Simulator::start(config.clone())
        .await
        .expect("starts");
    let kid = first.kid().to_owned();
    first.shutdown().await;
    let again = jira_simulator::Simulator::start(config)
        .await
        .expect("restarts");
    assert_eq!(again.kid(), kid);
    let url = again
        .install_keys_base_url()
        .expect("serving")
        .join(&kid)
        .expect("url");
    assert_eq!(reqwest::get(url).await.expect("answers").status(), 200);
    std::fs::remove_dir_all(path.parent().expect("folder")).expect("clean up");
}
