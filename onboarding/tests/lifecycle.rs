//! Atlassian's install callbacks against a real Postgres, signed by the Jira simulator's own
//! RSA key and served from its install-key endpoint: a signed install is stored with its secret
//! encrypted, a reinstall rotates the secret, and every untrusted callback gets 401 and changes
//! nothing.

use jira_simulator::{
    ConnectInstallation, Simulator, SimulatorConfig, Target, WorkspaceSpec, connect_qsh,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use test_kit::{Stack, TestApp};

const PUBLIC_BASE_URL: &str = "https://metafrazo.test";
const INSTALLED: &str = "/atlassian/lifecycle/installed";

struct Setup {
    sim: Simulator,
    app: TestApp,
    target: Target,
    pool: deadpool_postgres::Pool,
    cipher: service_runtime::secret_cipher::SecretCipher,
}

async fn setup() -> Setup {
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let mut config = onboarding::Config::from_env().unwrap();
    config.server.listen_on_free_ports();
    // Tests run the development fallbacks (the simulator, the committed key).
    config.server.deployment = service_runtime::config::Deployment::Local;
    config.postgres = Stack::from_env().fresh_postgres().await;
    config.atlassian.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
    config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
    let pool = config.postgres.pool().unwrap();
    let cipher = config.cipher.clone();
    let app = TestApp::spawn(onboarding::build(config).await.unwrap());
    let target = Target::new(app.address.parse().unwrap(), app.address.parse().unwrap());
    Setup {
        sim,
        app,
        target,
        pool,
        cipher,
    }
}

impl Setup {
    async fn stored(&self, client_key: &str) -> Option<(String, Vec<u8>)> {
        let client = self.pool.get().await.unwrap();
        accounts_store::installations::state_of(&client, client_key)
            .await
            .unwrap()
            .map(|(_, state, secret)| (state, secret.unwrap_or_default()))
    }

    async fn count(&self) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one("SELECT count(*) FROM installations", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Claims as Atlassian signs them for a POST to `path`, with `overrides` merged in.
    fn claims(&self, client_key: &str, path: &str, overrides: Value) -> Value {
        let now = chrono_now();
        let mut claims = json!({
            "iss": client_key,
            "sub": "712020:installer",
            "aud": [PUBLIC_BASE_URL],
            "qsh": connect_qsh("POST", path, "", ""),
            "iat": now,
            "exp": now + 180,
        });
        for (key, value) in overrides.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    }

    async fn post(
        &self,
        path: &str,
        authorization: Option<String>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(format!("{}{path}", self.app.address))
            .json(body);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        request.send().await.unwrap()
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn install_body(client_key: &str) -> Value {
    json!({
        "key": "io.metafrazo.jira",
        "clientKey": client_key,
        "sharedSecret": "s3cr3t-that-is-long-enough-to-be-atlassians-0123456789",
        "baseUrl": "https://forged.atlassian.net",
        "productType": "jira",
        "description": "Atlassian JIRA at https://forged.atlassian.net",
        "eventType": "installed",
    })
}

async fn assert_refused(response: reqwest::Response, code: &str) {
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn a_signed_install_is_stored_with_its_secret_encrypted() {
    let setup = setup().await;
    let installation: ConnectInstallation = setup
        .sim
        .install_connect(&setup.target, &WorkspaceSpec::named("acme"))
        .await
        .unwrap();
    let (state, stored) = setup
        .stored(&installation.client_key)
        .await
        .expect("stored");
    assert_eq!(state, "installed");
    let plaintext = installation.shared_secret.as_bytes();
    assert!(
        !stored
            .windows(plaintext.len())
            .any(|window| window == plaintext)
    );
    assert_eq!(
        setup.cipher.decrypt(&stored).unwrap().expose_secret(),
        plaintext
    );
}

#[tokio::test]
async fn a_reinstall_keeps_the_installation_and_rotates_its_secret() {
    let setup = setup().await;
    let first = setup
        .sim
        .install_connect(&setup.target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let client = setup.pool.get().await.unwrap();
    let (id_before, _, _) = accounts_store::installations::state_of(&client, &first.client_key)
        .await
        .unwrap()
        .unwrap();
    let second = setup
        .sim
        .reinstall_connect(&setup.target, &first)
        .await
        .unwrap();
    assert_ne!(first.shared_secret, second.shared_secret);
    let (id_after, state, stored) =
        accounts_store::installations::state_of(&client, &first.client_key)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        id_before, id_after,
        "a reinstall keeps the installation's id"
    );
    assert_eq!(state, "installed");
    assert_eq!(
        setup
            .cipher
            .decrypt(&stored.unwrap())
            .unwrap()
            .expose_secret(),
        second.shared_secret.as_bytes()
    );
}

#[tokio::test]
async fn uninstall_marks_the_installation_inactive_and_keeps_it() {
    let setup = setup().await;
    let installation = setup
        .sim
        .install_connect(&setup.target, &WorkspaceSpec::random())
        .await
        .unwrap();
    setup
        .sim
        .uninstall_connect(&setup.target, &installation)
        .await
        .unwrap();
    let (state, _) = setup.stored(&installation.client_key).await.expect("kept");
    assert_eq!(state, "uninstalled");
}

#[tokio::test]
async fn an_unsigned_install_is_refused_and_changes_nothing() {
    let setup = setup().await;
    let response = setup.post(INSTALLED, None, &install_body("unsigned")).await;
    assert_refused(response, "missing_token").await;
    assert_eq!(setup.count().await, 0);
}

#[tokio::test]
async fn untrusted_install_callbacks_are_refused_and_change_nothing() {
    let setup = setup().await;
    let other_sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let key = "victim";
    let signed = |claims: Value| format!("JWT {}", setup.sim.sign_install_token(&claims).unwrap());
    let valid = setup.claims(key, INSTALLED, json!({}));
    // Flip one character inside the signature (not the last, whose spare bits may make the
    // base64 merely malformed rather than a wrong signature).
    let tampered = test_kit::flip_signature_char(&setup.sim.sign_install_token(&valid).unwrap());
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &valid,
        &jsonwebtoken::EncodingKey::from_secret(b"an old shared secret someone kept"),
    )
    .unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signature does not verify",
            format!("JWT {tampered}"),
            "bad_signature",
        ),
        (
            "signed by a key the install-key server does not publish",
            format!("JWT {}", other_sim.sign_install_token(&valid).unwrap()),
            "untrusted_key",
        ),
        (
            "HS256 instead of Atlassian's RS256",
            format!("JWT {hs256}"),
            "unsupported_algorithm",
        ),
        (
            "for another app's base URL",
            signed(setup.claims(key, INSTALLED, json!({"aud": ["https://evil.example"]}))),
            "wrong_audience",
        ),
        (
            "expired",
            signed(setup.claims(
                key,
                INSTALLED,
                json!({"iat": chrono_now() - 900, "exp": chrono_now() - 600}),
            )),
            "expired",
        ),
        (
            "bound to another request",
            signed(setup.claims(key, "/atlassian/lifecycle/uninstalled", json!({}))),
            "qsh_mismatch",
        ),
        (
            "issued for another client key",
            signed(setup.claims("someone-else", INSTALLED, json!({}))),
            "client_key_mismatch",
        ),
        ("not a JWT", "JWT not.a.token".to_owned(), "malformed_token"),
    ];
    for (case, authorization, code) in cases {
        let response = setup
            .post(INSTALLED, Some(authorization), &install_body(key))
            .await;
        assert_eq!(response.status(), 401, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{case}: {body}");
    }
    assert_eq!(
        setup.count().await,
        0,
        "no refused callback stored anything"
    );
}

#[tokio::test]
async fn a_replayed_install_callback_is_refused() {
    let setup = setup().await;
    let key = "replayed";
    let authorization = format!(
        "JWT {}",
        setup
            .sim
            .sign_install_token(&setup.claims(key, INSTALLED, json!({})))
            .unwrap()
    );
    let first = setup
        .post(INSTALLED, Some(authorization.clone()), &install_body(key))
        .await;
    assert_eq!(first.status(), 204);
    let (_, secret_before) = setup.stored(key).await.unwrap();

    let mut replayed_body = install_body(key);
    replayed_body["sharedSecret"] = json!("an-attacker-chosen-secret-that-is-long-enough-000");
    let replay = setup
        .post(INSTALLED, Some(authorization), &replayed_body)
        .await;
    assert_refused(replay, "replayed").await;
    let (_, secret_after) = setup.stored(key).await.unwrap();
    assert_eq!(secret_before, secret_after, "the replay changed nothing");
}

#[tokio::test]
async fn the_descriptor_names_our_base_url_and_lifecycle_callbacks() {
    let setup = setup().await;
    let descriptor: Value = setup
        .app
        .get("/atlassian-connect.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(descriptor["baseUrl"], PUBLIC_BASE_URL);
    assert_eq!(descriptor["lifecycle"]["installed"], INSTALLED);
    assert_eq!(descriptor["authentication"]["type"], "jwt");
}
