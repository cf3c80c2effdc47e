//! Property test: no request panics the ingress. Generated methods, paths, Authorization values
//! (garbage, and valid tokens or signatures over generated bodies, so the bodies get past
//! verification), content types and bodies go to a running ingress; every answer must be a
//! status below 500 (or 503, the broker's trouble) and every 4xx a JSON `{"error", …}` body.

mod support;

use std::sync::Arc;

use jira_simulator::{ConnectInstallation, ForgeInstallation, connect_qsh, sign_connect_token};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use reqwest::{Method, header::HeaderValue};
use serde_json::{Value, json};
use support::Harness;

/// What signs a generated request, if anything.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// Any header value at all.
    Raw(Vec<u8>),
    /// `JWT`/`Bearer` and any text after it.
    Scheme(&'static str, String),
    /// A valid token or signature for the route the request goes to.
    Valid,
}

#[derive(Debug, Clone)]
struct Generated {
    method: Method,
    path: String,
    auth: Auth,
    content_type: Option<Vec<u8>>,
    body: Vec<u8>,
}

/// Bytes a header value may hold (visible ASCII, tab, obs-text), as any client could send.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')],
        0..max,
    )
}

/// Any text, percent-encoded into a path (slashes kept, so it can have many segments).
fn encode_path(text: &[u8]) -> String {
    let mut path = String::from("/");
    for byte in text {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(byte) {
            path.push(*byte as char);
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

fn path(webhook_id: String) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(vec![
            "/atlassian/events".to_owned(),
            "/forge/events".to_owned(),
            format!("/webhooks/{webhook_id}"),
        ]),
        1 => proptest::sample::select(vec!["/healthz", "/readyz", "/metrics", "/"]).prop_map(str::to_owned),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(|id| format!("/webhooks{}", encode_path(&id))),
        1 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(|text| encode_path(&text)),
    ]
}

fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        proptest::sample::select(vec!["jira:issue_created", "avi:jira:created:issue", ""])
            .prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(vec![
                            "webhookEvent",
                            "eventType",
                            "payload",
                            "issue",
                            "timestamp"
                        ])
                        .prop_map(str::to_owned),
                        any::<String>(),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    });
    value.prop_map(|value| serde_json::to_vec(&value).expect("a Value serializes"))
}

fn generated(webhook_id: String) -> impl Strategy<Value = Generated> {
    let method = proptest::sample::select(vec![
        Method::POST,
        Method::POST,
        Method::POST,
        Method::GET,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::HEAD,
    ]);
    let auth = prop_oneof![
        1 => Just(Auth::None),
        1 => header_bytes(200).prop_map(Auth::Raw),
        1 => (proptest::sample::select(vec!["JWT", "Bearer", "jwt", "Basic"]), any::<String>())
            .prop_map(|(scheme, rest)| Auth::Scheme(scheme, rest)),
        3 => Just(Auth::Valid),
    ];
    let content_type = prop_oneof![
        2 => Just(None),
        4 => Just(Some(b"application/json".to_vec())),
        1 => header_bytes(60).prop_map(Some),
    ];
    let body = prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..2048),
        3 => json_body(),
        1 => (1usize..50_000).prop_map(|depth| vec![b'{'; depth]),
    ];
    (method, path(webhook_id), auth, content_type, body).prop_map(
        |(method, path, auth, content_type, body)| Generated {
            method,
            path,
            auth,
            content_type,
            body,
        },
    )
}

struct Target {
    harness: Harness,
    /// A new connection per request: an answer sent before the body was read (401, 413, 415)
    /// closes its connection, and a pooled client could race that close into a false failure.
    client: reqwest::Client,
    connect: ConnectInstallation,
    forge: ForgeInstallation,
    webhook_id: String,
    webhook_secret: String,
}

impl Target {
    /// The Authorization (or signature) header a request carries.
    fn auth_header(&self, request: &Generated) -> Option<(&'static str, HeaderValue)> {
        let value = match &request.auth {
            Auth::None => return None,
            Auth::Raw(bytes) => HeaderValue::from_bytes(bytes).ok()?,
            Auth::Scheme(scheme, rest) => {
                HeaderValue::from_str(&format!("{scheme} {rest}")).ok()?
            }
            Auth::Valid if request.path == "/atlassian/events" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let claims = json!({
                    "iss": self.connect.client_key,
                    "qsh": connect_qsh(request.method.as_str(), "/atlassian/events", "", ""),
                    "iat": now,
                    "exp": now + 180,
                });
                let token = sign_connect_token(&self.connect, &claims).unwrap();
                HeaderValue::from_str(&format!("JWT {token}")).unwrap()
            }
            Auth::Valid if request.path == "/forge/events" => {
                let token = self.harness.sim.mint_fit(&self.forge, &json!({})).unwrap();
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
            }
            Auth::Valid => {
                let signature =
                    jira_simulator::admin_webhook_signature(&self.webhook_secret, &request.body);
                return Some((
                    jira_simulator::SIGNATURE_HEADER,
                    HeaderValue::from_str(&signature).unwrap(),
                ));
            }
        };
        Some(("authorization", value))
    }

    async fn send(&self, request: Generated) -> Result<(), TestCaseError> {
        let mut builder = self
            .client
            .request(
                request.method.clone(),
                format!("{}{}", self.harness.ingress.address, request.path),
            )
            .body(request.body.clone());
        if let Some((name, value)) = self.auth_header(&request) {
            builder = builder.header(name, value);
        }
        if let Some(content_type) = request
            .content_type
            .as_deref()
            .and_then(|bytes| HeaderValue::from_bytes(bytes).ok())
        {
            builder = builder.header("content-type", content_type);
        }
        // A panicking handler drops the connection: no answer at all fails the case.
        let response = builder
            .send()
            .await
            .map_err(|err| TestCaseError::fail(format!("no answer: {err}")))?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        prop_assert!(
            status.as_u16() < 500 || status.as_u16() == 503,
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
        if status.is_client_error() && request.method != Method::HEAD {
            let error: Value = serde_json::from_slice(&body).map_err(|_| {
                TestCaseError::fail(format!(
                    "{status} without a JSON body: {:?}",
                    String::from_utf8_lossy(&body)
                ))
            })?;
            prop_assert!(error["error"].is_string(), "{status} {error}");
        }
        Ok(())
    }
}

#[test]
fn no_request_panics_the_ingress_or_gets_a_500() {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    let target = runtime.block_on(async {
        let harness = Harness::start().await;
        let connect = harness.install_connect().await;
        let forge = harness.install_forge().await;
        let webhook = onboarding::webhook_connections::create(
            &harness.pool,
            &harness.cipher,
            "Data Center",
            "https://jira.example.test",
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
        Target {
            harness,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap(),
            connect,
            forge,
            webhook_id: webhook.id,
            webhook_secret: webhook.secret,
        }
    });
    // PROPTEST_CASES changes the count (256 by default); nothing is written to the source tree.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&generated(target.webhook_id.clone()), |request| {
        runtime.block_on(target.send(request))
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    runtime.block_on(async {
        assert_eq!(
            target.harness.ingress.admin_get("/healthz").await.status(),
            200
        );
    });
}
