//! A table of hostile requests against every public route of ingress and onboarding's
//! Atlassian-facing POST routes: bad JWTs of each kind, huge headers and bodies, invalid UTF-8,
//! deep JSON, wrong content types, and a body sent a byte at a time. Each row names the status
//! it must get; the table is printed, and afterwards both services still answer `/healthz` on
//! their admin ports.

mod support;

use std::{
    io::Write,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jira_simulator::{
    ForgeInstallation, Simulator, SimulatorConfig, connect_qsh, sign_connect_token,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, header::HeaderValue};
use serde_json::{Value, json};
use support::{Harness, PUBLIC_BASE_URL, fixture};
use test_kit::{TestApp, flip_signature_char};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Below hyper's 400 KiB header buffer, so it reaches our code: the token is refused, not the
/// request.
const BIG_HEADER: usize = 64 * 1024;
/// Well over hyper's header buffer (about 400 KiB; where exactly it trips depends on how the
/// bytes arrive): refused by the HTTP layer itself, before any route.
const OVERSIZED_HEADER: usize = 1024 * 1024;
/// Onboarding's lifecycle bodies are capped at 64 KiB.
const ONBOARDING_BODY_LIMIT: usize = 64 * 1024;
/// A slow client's body must arrive within this (INGRESS_BODY_READ_TIMEOUT_MS in the test).
const BODY_READ_TIMEOUT: Duration = Duration::from_millis(1000);
/// INGRESS_REPLAY_WINDOW_SECS in the test: its default, whatever the environment says.
const REPLAY_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, PartialEq)]
enum Service {
    Ingress,
    Onboarding,
}

struct Row {
    name: String,
    service: Service,
    method: Method,
    path: String,
    headers: Vec<(&'static str, HeaderValue)>,
    body: Vec<u8>,
    expected: u16,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

/// Nested arrays deeper than any parser's recursion limit should go.
fn deep_json() -> Vec<u8> {
    vec![b'['; 100_000]
}

/// As deep as fits under onboarding's body limit, so the parser, not the limit, meets it.
fn deep_json_under_onboarding_limit() -> Vec<u8> {
    vec![b'['; ONBOARDING_BODY_LIMIT - 1]
}

/// A JSON event with a byte that is not UTF-8 in a string.
fn invalid_utf8() -> Vec<u8> {
    b"{\"webhookEvent\":\"jira:issue_created\",\"x\":\"\xff\xfe\"}".to_vec()
}

/// Unsigned: `alg: none`, an empty signature.
fn alg_none(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// RS256/HS256 confusion: HS256 with the RSA public key's bytes as the secret, which a verifier
/// that lets the token choose its algorithm would accept.
fn hs256_with_public_key(claims: &Value, public_key_pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(public_key_pem.as_bytes()),
    )
    .unwrap()
}

/// The JWT-shaped strings every signed route must refuse whatever it expects.
fn garbage_tokens() -> Vec<(&'static str, String)> {
    vec![
        ("malformed JWT", "not-a-jwt".to_owned()),
        ("bad base64 JWT", "@@@.%%%.!!!".to_owned()),
        (
            "JWT of JSON that is not claims",
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#),
                URL_SAFE_NO_PAD.encode(b"[1,2,3]"),
                URL_SAFE_NO_PAD.encode(b"sig")
            ),
        ),
        ("64 KiB token", "a".repeat(BIG_HEADER)),
    ]
}

struct Rows(Vec<Row>);

impl Rows {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: impl Into<String>,
        service: Service,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, HeaderValue)>,
        body: Vec<u8>,
        expected: u16,
    ) {
        self.0.push(Row {
            name: name.into(),
            service,
            method,
            path: path.to_owned(),
            headers,
            body,
            expected,
        });
    }
}

#[tokio::test]
async fn hostile_requests_get_the_right_status_and_the_services_keep_serving() {
    let harness = Harness::start_tweaked(
        |config| {
            config.body_read_timeout = BODY_READ_TIMEOUT;
            config.verify.replay_window = REPLAY_WINDOW;
        },
        |config| config.atlassian.body_read_timeout = BODY_READ_TIMEOUT,
    )
    .await;
    let connect = harness.install_connect().await;
    let forge = harness.install_forge().await;
    let webhook = onboarding::webhook_connections::create(
        &harness.pool,
        &harness.cipher,
        "Data Center",
        "https://jira.example.test",
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let stranger = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let json_type = || ("content-type", value("application/json"));

    let mut rows = Rows(Vec::new());
    ingress_connect_rows(&mut rows, &harness, &connect);
    ingress_forge_rows(&mut rows, &harness, &forge, &stranger);
    ingress_webhook_rows(&mut rows, &webhook.id, &webhook.secret);
    onboarding_rows(&mut rows, &harness, &forge, &stranger).await;
    // Operational routes (on the admin port only: unknown paths here) and paths no route
    // answers.
    for path in ["/healthz", "/readyz", "/metrics"] {
        rows.add(
            format!("GET {path}"),
            Service::Ingress,
            Method::GET,
            path,
            vec![],
            vec![],
            404,
        );
        rows.add(
            format!("GET {path} with a 64 KiB header"),
            Service::Ingress,
            Method::GET,
            path,
            vec![("x-padding", value(&"p".repeat(BIG_HEADER)))],
            vec![],
            404,
        );
        rows.add(
            format!("POST {path}"),
            Service::Ingress,
            Method::POST,
            path,
            vec![json_type()],
            b"{}".to_vec(),
            404,
        );
    }
    rows.add(
        "GET /atlassian/events",
        Service::Ingress,
        Method::GET,
        "/atlassian/events",
        vec![],
        vec![],
        405,
    );
    rows.add(
        "unknown path",
        Service::Ingress,
        Method::POST,
        "/../../etc/passwd",
        vec![],
        vec![],
        404,
    );
    rows.add(
        "path of 4 KiB",
        Service::Ingress,
        Method::GET,
        &format!("/{}", "x".repeat(4096)),
        vec![],
        vec![],
        404,
    );
    rows.add(
        "headers over hyper's buffer",
        Service::Ingress,
        Method::POST,
        "/atlassian/events",
        vec![("x-padding", value(&"p".repeat(OVERSIZED_HEADER)))],
        vec![],
        431,
    );

    // A new connection per request: an answer sent before the body was read closes its
    // connection, and a pooled client could race that close into a false "no answer".
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut table = Vec::new();
    let mut wrong = Vec::new();
    for row in &rows.0 {
        let base = match row.service {
            Service::Ingress => &harness.ingress.address,
            Service::Onboarding => &harness.onboarding.address,
        };
        let mut request = client
            .request(row.method.clone(), format!("{base}{}", row.path))
            .body(row.body.clone());
        for (name, value) in &row.headers {
            request = request.header(*name, value.clone());
        }
        let (got, body) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (
                    status.to_string(),
                    response.bytes().await.unwrap_or_default(),
                )
            }
            Err(err) => (format!("no answer ({err})"), Default::default()),
        };
        // Every 4xx our own routers answer is a JSON error; hyper's 431 has no body at all.
        let json_ok = row.service == Service::Onboarding
            || row.expected == 431
            || !(400..500).contains(&row.expected)
            || serde_json::from_slice::<Value>(&body).is_ok_and(|body| body["error"].is_string());
        if got != row.expected.to_string() || !json_ok {
            wrong.push(format!(
                "{}: expected {}, got {got} {}",
                row.name,
                row.expected,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        table.push((row.name.clone(), row.expected.to_string(), got));
    }

    for (app, path, authorization) in [
        (&harness.ingress, "/atlassian/events", "JWT not-yet-checked"),
        (&harness.ingress, "/forge/events", "Bearer not-yet-checked"),
        (&harness.ingress, "/webhooks/wh_any", ""),
        (
            &harness.onboarding,
            "/atlassian/lifecycle/installed",
            "JWT not-yet-checked",
        ),
        (
            &harness.onboarding,
            "/forge/lifecycle",
            "Bearer not-yet-checked",
        ),
        // A form route: the body deadline holds for the pages' forms too.
        (&harness.onboarding, "/sign-in", ""),
    ] {
        let (slow_got, healthy_meanwhile) = slow_body(app, path, authorization).await;
        let name = format!("{path}: body a byte every 200 ms");
        if !(slow_got == "408" || slow_got == "closed") {
            wrong.push(format!("{name}: expected 408 or closed, got {slow_got}"));
        }
        if !healthy_meanwhile {
            wrong.push(format!("{name}: /healthz did not answer meanwhile"));
        }
        table.push((name, "408 or closed".to_owned(), slow_got));
    }

    print_table(&table);
    for app in [&harness.ingress, &harness.onboarding] {
        assert_eq!(
            app.admin_get("/healthz").await.status(),
            200,
            "{} after the table",
            app.address
        );
    }
    assert!(
        wrong.is_empty(),
        "{} rows wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn ingress_connect_rows(
    rows: &mut Rows,
    harness: &Harness,
    installation: &jira_simulator::ConnectInstallation,
) {
    let path = "/atlassian/events";
    let claims = |overrides: Value| {
        let mut claims = json!({
            "iss": installation.client_key,
            "qsh": connect_qsh("POST", path, "", ""),
            "iat": now(),
            "exp": now() + 180,
        });
        for (key, value) in overrides.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let jwt = |token: &str| ("authorization", value(&format!("JWT {token}")));
    let valid = || jwt(&sign_connect_token(installation, &claims(json!({}))).unwrap());
    let event = fixture("jira/issue_created.json");
    let json_type = || ("content-type", value("application/json"));
    let mut add =
        |name: &str, headers: Vec<(&'static str, HeaderValue)>, body: Vec<u8>, expected| {
            rows.add(
                format!("{path}: {name}"),
                Service::Ingress,
                Method::POST,
                path,
                headers,
                body,
                expected,
            );
        };

    add("no Authorization", vec![json_type()], event.clone(), 401);
    for (name, token) in garbage_tokens() {
        add(name, vec![json_type(), jwt(&token)], event.clone(), 401);
    }
    let signed = sign_connect_token(installation, &claims(json!({}))).unwrap();
    add(
        "wrong signature",
        vec![json_type(), jwt(&flip_signature_char(&signed))],
        event.clone(),
        401,
    );
    add(
        "expired",
        vec![
            json_type(),
            jwt(&sign_connect_token(
                installation,
                &claims(json!({"iat": now() - 900, "exp": now() - 600})),
            )
            .unwrap()),
        ],
        event.clone(),
        401,
    );
    add(
        "alg none",
        vec![json_type(), jwt(&alg_none(&claims(json!({}))))],
        event.clone(),
        401,
    );
    add(
        "HS256 signed with the RSA public key",
        vec![
            json_type(),
            jwt(&hs256_with_public_key(
                &claims(json!({})),
                harness.sim.public_key_pem(),
                harness.sim.kid(),
            )),
        ],
        event.clone(),
        401,
    );
    add(
        "Authorization not UTF-8",
        vec![
            json_type(),
            (
                "authorization",
                HeaderValue::from_bytes(b"JWT \xff\xfe").unwrap(),
            ),
        ],
        event.clone(),
        401,
    );
    add(
        "body over INGRESS_MAX_BODY_BYTES",
        vec![json_type(), valid()],
        vec![b' '; 1024 * 1024 + 1],
        413,
    );
    add(
        "body over the limit, unsigned",
        vec![json_type()],
        vec![b' '; 1024 * 1024 + 1],
        413,
    );
    add(
        "signed, body not UTF-8",
        vec![json_type(), valid()],
        invalid_utf8(),
        400,
    );
    add(
        "signed, 100k nested arrays",
        vec![json_type(), valid()],
        deep_json(),
        400,
    );
    add(
        "signed, empty body",
        vec![json_type(), valid()],
        vec![],
        400,
    );
    add(
        "signed, form content type",
        vec![
            ("content-type", value("application/x-www-form-urlencoded")),
            valid(),
        ],
        event.clone(),
        415,
    );
    add(
        "signed, text/plain",
        vec![("content-type", value("text/plain")), valid()],
        event.clone(),
        415,
    );
    add(
        "content type not UTF-8",
        vec![
            (
                "content-type",
                HeaderValue::from_bytes(b"application/\xffjson").unwrap(),
            ),
            valid(),
        ],
        event,
        415,
    );
}

fn ingress_forge_rows(
    rows: &mut Rows,
    harness: &Harness,
    installation: &ForgeInstallation,
    stranger: &Simulator,
) {
    let path = "/forge/events";
    let bearer = |token: &str| ("authorization", value(&format!("Bearer {token}")));
    let valid = || bearer(&harness.sim.mint_fit(installation, &json!({})).unwrap());
    let event = fixture("forge/issue_created.json");
    let json_type = || ("content-type", value("application/json"));
    let claims = json!({
        "iss": "forge/invocation-token",
        "aud": "ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a",
        "iat": now(), "nbf": now(), "exp": now() + 25,
        "app": {"installationId": installation.installation_id},
    });
    let mut add =
        |name: &str, headers: Vec<(&'static str, HeaderValue)>, body: Vec<u8>, expected| {
            rows.add(
                format!("{path}: {name}"),
                Service::Ingress,
                Method::POST,
                path,
                headers,
                body,
                expected,
            );
        };

    add("no Authorization", vec![json_type()], event.clone(), 401);
    for (name, token) in garbage_tokens() {
        add(name, vec![json_type(), bearer(&token)], event.clone(), 401);
    }
    let signed = harness.sim.mint_fit(installation, &json!({})).unwrap();
    add(
        "wrong signature",
        vec![json_type(), bearer(&flip_signature_char(&signed))],
        event.clone(),
        401,
    );
    add(
        "expired",
        vec![
            json_type(),
            bearer(
                &harness
                    .sim
                    .mint_fit(
                        installation,
                        &json!({"iat": now() - 900, "nbf": now() - 900, "exp": now() - 600}),
                    )
                    .unwrap(),
            ),
        ],
        event.clone(),
        401,
    );
    add(
        "alg none",
        vec![json_type(), bearer(&alg_none(&claims))],
        event.clone(),
        401,
    );
    add(
        "HS256 signed with the JWKS's RSA public key",
        vec![
            json_type(),
            bearer(&hs256_with_public_key(
                &claims,
                harness.sim.public_key_pem(),
                harness.sim.kid(),
            )),
        ],
        event.clone(),
        401,
    );
    add(
        "unknown kid",
        vec![
            json_type(),
            bearer(&stranger.mint_fit(installation, &json!({})).unwrap()),
        ],
        event.clone(),
        401,
    );
    add(
        "token without a jti",
        vec![
            json_type(),
            bearer(
                &harness
                    .sim
                    .mint_fit(installation, &json!({"jti": null}))
                    .unwrap(),
            ),
        ],
        event.clone(),
        401,
    );
    // A captured request sent again: the first use of a token is taken, any other refused.
    let captured = harness.sim.mint_fit(installation, &json!({})).unwrap();
    add(
        "a token's first delivery",
        vec![json_type(), bearer(&captured)],
        event.clone(),
        202,
    );
    add(
        "the same token and body again",
        vec![json_type(), bearer(&captured)],
        event.clone(),
        401,
    );
    add(
        "the same token, another body",
        vec![json_type(), bearer(&captured)],
        fixture("forge/comment_created.json"),
        401,
    );
    add(
        "body over INGRESS_MAX_BODY_BYTES",
        vec![json_type(), valid()],
        vec![b' '; 1024 * 1024 + 1],
        413,
    );
    add(
        "signed, body not UTF-8",
        vec![json_type(), valid()],
        invalid_utf8(),
        400,
    );
    add(
        "signed, 100k nested arrays",
        vec![json_type(), valid()],
        deep_json(),
        400,
    );
    add(
        "signed, multipart content type",
        vec![
            ("content-type", value("multipart/form-data; boundary=x")),
            valid(),
        ],
        event,
        415,
    );
}

fn ingress_webhook_rows(rows: &mut Rows, connection: &str, secret: &str) {
    let path = format!("/webhooks/{connection}");
    let signature = |body: &[u8]| {
        (
            jira_simulator::SIGNATURE_HEADER,
            value(&jira_simulator::admin_webhook_signature(secret, body)),
        )
    };
    let event = fixture("jira/issue_created.json");
    let json_type = || ("content-type", value("application/json"));
    let mut add = |name: &str,
                   path: &str,
                   headers: Vec<(&'static str, HeaderValue)>,
                   body: Vec<u8>,
                   expected| {
        rows.add(
            format!("/webhooks: {name}"),
            Service::Ingress,
            Method::POST,
            path,
            headers,
            body,
            expected,
        );
    };

    add("no signature", &path, vec![json_type()], event.clone(), 401);
    add(
        "signature not hex",
        &path,
        vec![
            json_type(),
            (jira_simulator::SIGNATURE_HEADER, value("sha256=zz")),
        ],
        event.clone(),
        401,
    );
    add(
        "wrong signature",
        &path,
        vec![
            json_type(),
            (
                jira_simulator::SIGNATURE_HEADER,
                value(&format!("sha256={}", "0".repeat(64))),
            ),
        ],
        event.clone(),
        401,
    );
    add(
        "64 KiB signature",
        &path,
        vec![
            json_type(),
            (
                jira_simulator::SIGNATURE_HEADER,
                value(&format!("sha256={}", "a".repeat(BIG_HEADER))),
            ),
        ],
        event.clone(),
        401,
    );
    add(
        "unknown connection",
        "/webhooks/wh_never_created",
        vec![json_type(), signature(&event)],
        event.clone(),
        401,
    );
    add(
        "connection id not UTF-8",
        "/webhooks/%FF%FE",
        vec![json_type(), signature(&event)],
        event.clone(),
        404,
    );
    // Signed bodies Jira made too long ago, too far ahead, or without saying when.
    let made = |at_ms: Option<Value>| {
        let mut event: Value = serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap();
        match at_ms {
            Some(at_ms) => event["timestamp"] = at_ms,
            None => {
                event.as_object_mut().unwrap().remove("timestamp");
            }
        }
        serde_json::to_vec(&event).unwrap()
    };
    let window_ms = REPLAY_WINDOW.as_millis() as i64;
    let now_ms = now() * 1000;
    for (name, body) in [
        (
            "signed, made a minute past the replay window",
            made(Some(json!(now_ms - window_ms - 60_000))),
        ),
        (
            "signed, made a minute ahead of the replay window",
            made(Some(json!(now_ms + window_ms + 60_000))),
        ),
        ("signed, no timestamp", made(None)),
        ("signed, timestamp not a number", made(Some(json!("soon")))),
        (
            "signed, a second timestamp",
            format!(
                r#"{{"webhookEvent":"jira:issue_created","timestamp":{now_ms},"timestamp":1}}"#
            )
            .into_bytes(),
        ),
    ] {
        add(
            name,
            &path,
            vec![json_type(), signature(&body)],
            body.clone(),
            401,
        );
    }
    add(
        "signed, body not UTF-8",
        &path,
        vec![json_type(), signature(&invalid_utf8())],
        invalid_utf8(),
        400,
    );
    add(
        "signed, 100k nested arrays",
        &path,
        vec![json_type(), signature(&deep_json())],
        deep_json(),
        400,
    );
    add(
        "body over INGRESS_MAX_BODY_BYTES",
        &path,
        vec![json_type()],
        vec![b' '; 1024 * 1024 + 1],
        413,
    );
    add(
        "signed, text/plain",
        &path,
        vec![("content-type", value("text/plain")), signature(&event)],
        event,
        415,
    );
}

async fn onboarding_rows(
    rows: &mut Rows,
    harness: &Harness,
    forge: &ForgeInstallation,
    stranger: &Simulator,
) {
    let descriptor: Value = harness
        .onboarding
        .get("/atlassian-connect.json")
        .await
        .json()
        .await
        .unwrap();
    let base_url = descriptor["baseUrl"]
        .as_str()
        .unwrap_or(PUBLIC_BASE_URL)
        .to_owned();
    let lifecycle = "/atlassian/lifecycle/installed";
    let install_claims = |overrides: Value| {
        let mut claims = json!({
            "iss": "hostile-client-key",
            "aud": [base_url],
            "qsh": connect_qsh("POST", lifecycle, "", ""),
            "iat": now(),
            "exp": now() + 180,
        });
        for (key, value) in overrides.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let jwt = |token: &str| ("authorization", value(&format!("JWT {token}")));
    let install_token = |overrides| {
        harness
            .sim
            .sign_install_token(&install_claims(overrides))
            .unwrap()
    };
    let json_type = || ("content-type", value("application/json"));
    let install_body =
        serde_json::to_vec(&json!({"key": "nobody", "clientKey": "hostile-client-key"})).unwrap();
    let mut add = |name: &str,
                   path: &str,
                   headers: Vec<(&'static str, HeaderValue)>,
                   body: Vec<u8>,
                   expected| {
        rows.add(
            format!("onboarding {path}: {name}"),
            Service::Onboarding,
            Method::POST,
            path,
            headers,
            body,
            expected,
        );
    };

    add(
        "no Authorization",
        lifecycle,
        vec![json_type()],
        install_body.clone(),
        401,
    );
    for (name, token) in garbage_tokens() {
        add(
            name,
            lifecycle,
            vec![json_type(), jwt(&token)],
            install_body.clone(),
            401,
        );
    }
    add(
        "wrong signature",
        lifecycle,
        vec![
            json_type(),
            jwt(&flip_signature_char(&install_token(json!({})))),
        ],
        install_body.clone(),
        401,
    );
    add(
        "expired",
        lifecycle,
        vec![
            json_type(),
            jwt(&install_token(
                json!({"iat": now() - 900, "exp": now() - 600}),
            )),
        ],
        install_body.clone(),
        401,
    );
    add(
        "alg none",
        lifecycle,
        vec![json_type(), jwt(&alg_none(&install_claims(json!({}))))],
        install_body.clone(),
        401,
    );
    add(
        "HS256 signed with the RSA public key",
        lifecycle,
        vec![
            json_type(),
            jwt(&hs256_with_public_key(
                &install_claims(json!({})),
                harness.sim.public_key_pem(),
                harness.sim.kid(),
            )),
        ],
        install_body.clone(),
        401,
    );
    add(
        "unknown kid",
        lifecycle,
        vec![
            json_type(),
            jwt(&stranger
                .sign_install_token(&install_claims(json!({})))
                .unwrap()),
        ],
        install_body.clone(),
        401,
    );
    add(
        "body over 64 KiB",
        lifecycle,
        vec![json_type()],
        vec![b' '; ONBOARDING_BODY_LIMIT + 1],
        413,
    );
    add(
        "signed, body not UTF-8",
        lifecycle,
        vec![json_type(), jwt(&install_token(json!({})))],
        invalid_utf8(),
        400,
    );
    add(
        "signed, 64k nested arrays",
        lifecycle,
        vec![json_type(), jwt(&install_token(json!({})))],
        deep_json_under_onboarding_limit(),
        400,
    );
    add(
        "text/plain, unsigned",
        lifecycle,
        vec![("content-type", value("text/plain"))],
        install_body.clone(),
        401,
    );
    add(
        "unknown lifecycle event",
        "/atlassian/lifecycle/exploded",
        vec![json_type()],
        install_body,
        404,
    );

    let bearer = |token: &str| ("authorization", value(&format!("Bearer {token}")));
    let fit = |overrides: Value| harness.sim.mint_fit(forge, &overrides).unwrap();
    let fit_claims = json!({
        "iss": "forge/invocation-token",
        "aud": "ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a",
        "iat": now(), "nbf": now(), "exp": now() + 25,
        "app": {"installationId": forge.installation_id},
    });
    let forge_body = serde_json::to_vec(&json!({"eventType": "avi:forge:installed:app"})).unwrap();
    for path in [
        "/forge/lifecycle",
        "/forge/ui/status",
        "/forge/ui/link",
        "/forge/ui/resend",
    ] {
        add(
            "no Authorization",
            path,
            vec![json_type()],
            forge_body.clone(),
            401,
        );
        for (name, token) in garbage_tokens() {
            add(
                name,
                path,
                vec![json_type(), bearer(&token)],
                forge_body.clone(),
                401,
            );
        }
        add(
            "wrong signature",
            path,
            vec![json_type(), bearer(&flip_signature_char(&fit(json!({}))))],
            forge_body.clone(),
            401,
        );
        add(
            "expired",
            path,
            vec![
                json_type(),
                bearer(&fit(
                    json!({"iat": now() - 900, "nbf": now() - 900, "exp": now() - 600}),
                )),
            ],
            forge_body.clone(),
            401,
        );
        add(
            "alg none",
            path,
            vec![json_type(), bearer(&alg_none(&fit_claims))],
            forge_body.clone(),
            401,
        );
        add(
            "HS256 signed with the JWKS's RSA public key",
            path,
            vec![
                json_type(),
                bearer(&hs256_with_public_key(
                    &fit_claims,
                    harness.sim.public_key_pem(),
                    harness.sim.kid(),
                )),
            ],
            forge_body.clone(),
            401,
        );
        add(
            "unknown kid",
            path,
            vec![
                json_type(),
                bearer(&stranger.mint_fit(forge, &json!({})).unwrap()),
            ],
            forge_body.clone(),
            401,
        );
        add(
            "wrong content type, unsigned",
            path,
            vec![("content-type", value("text/plain"))],
            forge_body.clone(),
            401,
        );
    }
    add(
        "body over 64 KiB",
        "/forge/lifecycle",
        vec![json_type()],
        vec![b' '; ONBOARDING_BODY_LIMIT + 1],
        413,
    );
    add(
        "signed, body not UTF-8",
        "/forge/lifecycle",
        vec![json_type(), bearer(&fit(json!({})))],
        invalid_utf8(),
        400,
    );
    add(
        "signed, 64k nested arrays",
        "/forge/lifecycle",
        vec![json_type(), bearer(&fit(json!({})))],
        deep_json_under_onboarding_limit(),
        400,
    );
    // The admin page's calls carry no body we read: a huge one changes nothing.
    add(
        "body over 64 KiB, unsigned",
        "/forge/ui/link",
        vec![json_type()],
        vec![b' '; ONBOARDING_BODY_LIMIT + 1],
        401,
    );
    // Address confirmation (issue 17): a link we never made, pressed from another site's form
    // or by a script without the page's token, confirms nothing.
    let form_type = || ("content-type", value("application/x-www-form-urlencoded"));
    let made_up = format!(
        "/account/confirm-email/{}",
        accounts_store::tokens::mint().text
    );
    for (name, path) in [
        ("made-up link", made_up.as_str()),
        ("link cut short", "/account/confirm-email/abc"),
        ("send again, not signed in", "/account/confirm-email"),
    ] {
        add(
            &format!("{name}, forged CSRF"),
            path,
            vec![form_type()],
            b"csrf=forged".to_vec(),
            403,
        );
        add(
            &format!("{name}, another site's form"),
            path,
            vec![form_type(), ("origin", value("https://evil.example"))],
            b"csrf=forged".to_vec(),
            403,
        );
        add(
            &format!("{name}, body over 64 KiB"),
            path,
            vec![form_type()],
            vec![b'a'; ONBOARDING_BODY_LIMIT + 1],
            413,
        );
    }
}

/// Sends an event's headers, then its body a byte every 200 ms over a raw connection,
/// while another client asks `/healthz`. Answers what the slow client got (a status, or
/// `closed`) and whether the health check was answered meanwhile.
async fn slow_body(app: &TestApp, path: &str, authorization: &str) -> (String, bool) {
    let address = app.address.trim_start_matches("http://").to_owned();
    let body = b"{\"webhookEvent\":\"jira:issue_created\",\"timestamp\":1}";
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
                 Authorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let trickle = async {
        for byte in body {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            // The trickle is the slow client under test, not a wait for something.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // All sent (ten seconds) without an answer: the server waited it out.
        std::future::pending::<()>().await;
    };
    // The answer (or the close) is read as it comes, while the client is still trickling.
    let answer = async {
        let mut answer = vec![0; 1024];
        match reader.read(&mut answer).await {
            Ok(0) | Err(_) => "closed".to_owned(),
            Ok(read) => String::from_utf8_lossy(&answer[..read])
                .split_whitespace()
                .nth(1)
                .unwrap_or("garbled")
                .to_owned(),
        }
    };
    let health = async {
        // Asked halfway through the slow client's hold, the moment the test is about: not a
        // wait for something to happen.
        tokio::time::sleep(BODY_READ_TIMEOUT / 2).await;
        app.admin_get("/healthz").await.status() == 200
    };
    let slow = async {
        tokio::select! {
            got = answer => got,
            () = trickle => unreachable!("trickling never ends by itself"),
            () = tokio::time::sleep(BODY_READ_TIMEOUT * 5) => "no answer in time".to_owned(),
        }
    };
    let (got, healthy) = tokio::join!(slow, health);
    assert!(
        started.elapsed() < BODY_READ_TIMEOUT * 5 + Duration::from_secs(1),
        "the slow client was held for {:?}",
        started.elapsed()
    );
    (got, healthy)
}

/// Printed past the test harness's capture, so `compose/local test` shows it on success too.
fn print_table(rows: &[(String, String, String)]) {
    let width = rows.iter().map(|(name, ..)| name.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\nhostile requests ({} rows)", rows.len());
    let _ = writeln!(out, "{:width$}  expected       got", "request");
    for (name, expected, got) in rows {
        let _ = writeln!(out, "{name:width$}  {expected:13}  {got}");
    }
}
