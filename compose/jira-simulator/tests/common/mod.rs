//! The test harness: a simulator per test, and a fake app (a tiny axum server) that serves a
//! descriptor, records every request, and answers from a script. Both stop when dropped.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part of the harness.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use jira_simulator::{DeliveryOptions, Simulator, SimulatorConfig, Target};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use url::Url;

/// The public base URL the fake app's descriptor declares; its path must not reach the local URL.
pub const APP_BASE_URL: &str = "https://metafrazo.example/app";

pub async fn simulator() -> Simulator {
    Simulator::start(SimulatorConfig::default())
        .await
        .expect("the simulator starts")
}

/// Retries in milliseconds rather than seconds, so the retry tests are fast.
pub fn fast_delivery() -> DeliveryOptions {
    DeliveryOptions {
        backoff: Duration::from_millis(5),
        ..DeliveryOptions::default()
    }
}

pub fn descriptor() -> Value {
    json!({
        "key": "io.metafrazo.jira",
        "name": "MetaFrazo",
        "baseUrl": APP_BASE_URL,
        "authentication": { "type": "jwt" },
        "apiMigrations": { "signed-install": true },
        "lifecycle": {
            "installed": "/atlassian/lifecycle/installed",
            "uninstalled": "/atlassian/lifecycle/uninstalled"
        },
        "modules": { "webhooks": [ { "event": "jira:issue_updated", "url": "/atlassian/events" } ] },
        "scopes": ["READ"]
    })
}

#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Answer only after this long: longer than the delivery timeout makes a timed-out attempt.
    After(Duration, u16),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The token of an `Authorization: <scheme> <token>` header.
    pub fn token(&self, scheme: &str) -> String {
        let authorization = self
            .header("authorization")
            .expect("an Authorization header");
        authorization
            .strip_prefix(&format!("{scheme} "))
            .unwrap_or_else(|| panic!("{scheme} scheme in {authorization:?}"))
            .to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    descriptor: Option<Value>,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeApp {
    pub url: Url,
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

impl FakeApp {
    /// Answers 200 to everything not scripted; serves `descriptor` at `/atlassian-connect.json`.
    pub async fn start(descriptor: Option<Value>) -> Self {
        let shared = Arc::new(Shared {
            descriptor,
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the fake app");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Router::new().fallback(answer).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            url: Url::parse(&format!("http://{addr}")).expect("url"),
            shared,
            _stop: stop,
        }
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().expect("script").extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests").clone()
    }

    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "exactly one request: {requests:#?}");
        requests.into_iter().next().expect("one request")
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/atlassian-connect.json" {
        return match &shared.descriptor {
            Some(descriptor) => Json(descriptor.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    shared.requests.lock().expect("requests").push(Recorded {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    });
    let reply = shared
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(Reply::Status(200));
    let status = match reply {
        Reply::Status(status) => status,
        Reply::After(delay, status) => {
            tokio::time::sleep(delay).await;
            status
        }
    };
    StatusCode::from_u16(status)
        .expect("a valid status")
        .into_response()
}

/// Onboarding and the ingress as two fake apps, so a test can see where each request went.
pub struct Stack {
    pub onboarding: FakeApp,
    pub ingress: FakeApp,
}

impl Stack {
    pub async fn start() -> Self {
        Self {
            onboarding: FakeApp::start(Some(descriptor())).await,
            ingress: FakeApp::start(None).await,
        }
    }

    pub fn target(&self) -> Target {
        Target::new(self.onboarding.url.clone(), self.ingress.url.clone())
    }
}
