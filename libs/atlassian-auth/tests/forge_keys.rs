//! The Forge key cache against a JWKS server the test scripts: a key source that is down never
//! turns into refused tokens ("unknown"), it recovers without waiting out the minute between
//! refreshes, and keys already held are served while a fetch hangs.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use atlassian_auth::forge_fit::{FetchLimits, ForgeKeyError, ForgeKeys};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A real 2048-bit RSA modulus: `DecodingKey::from_jwk` parses it like Atlassian's.
const MODULUS: &str = "zbjF6kFYD6KjdaIE8SGyhH1zK7qG3n7plsLq8tGHsxtF6uRtNSEKXIoIELau-GLq4WQ1YenRAmrQ9Y_nuxNjJRyJEalygHaaoRNgaMw72yXQDunY8xEGU2xJan15ZE1TymiqqlyI9VeUZCVdo9Imx_stUWIyl4CnAqgBTcfAT0Mv9h-xY3eHMhhDPpDQXINDrTFvK1AK66Cv-7Cy9TaxXOsjQSd_2UeN_sCBdI0itbtcbaDAToFDA4F_8c0gYcty3-6qBHDjit4QGVO5iQ7migk_ubOjmmOTk65P8u7DXExshxt4_jXTpVzoF2xwsvjKrnVfyThHZbdmt1SqnAlB5w";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Fail,
    Serve,
    /// Holds the request until the test releases it.
    Hang,
}

#[derive(Clone)]
struct Jwks {
    answer: Arc<Mutex<Answer>>,
    kids: Arc<Mutex<Vec<&'static str>>>,
    /// Told when a request starts hanging.
    hanging: Arc<Notify>,
    release: Arc<Notify>,
}

impl Jwks {
    fn set(&self, answer: Answer, kids: &[&'static str]) {
        *self.answer.lock().unwrap() = answer;
        *self.kids.lock().unwrap() = kids.to_vec();
    }
}

async fn serve(State(jwks): State<Jwks>) -> axum::response::Response {
    let answer = *jwks.answer.lock().unwrap();
    if answer == Answer::Hang {
        let released = jwks.release.notified();
        jwks.hanging.notify_one();
        released.await;
    }
    if answer == Answer::Fail {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    let keys: Vec<Value> = jwks
        .kids
        .lock()
        .unwrap()
        .iter()
        .map(|kid| json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": MODULUS, "e": "AQAB"}))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

async fn start(limits: FetchLimits) -> (Jwks, ForgeKeys) {
    let jwks = Jwks {
        answer: Arc::new(Mutex::new(Answer::Serve)),
        kids: Arc::default(),
        hanging: Arc::new(Notify::new()),
        release: Arc::new(Notify::new()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/jwks.json", get(serve))
        .with_state(jwks.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (jwks, ForgeKeys::with_limits(url.parse().unwrap(), limits))
}

fn unavailable(answer: &Result<jsonwebtoken::DecodingKey, ForgeKeyError>) -> bool {
    matches!(answer, Err(ForgeKeyError::Unavailable(_)))
}

#[tokio::test]
async fn a_key_source_that_is_down_answers_unavailable_until_it_is_back_never_unknown() {
    let (jwks, keys) = start(FetchLimits {
        refresh: Duration::from_secs(3600),
        retry_after_failure: Duration::from_millis(200),
    })
    .await;
    jwks.set(Answer::Fail, &[]);
    assert!(unavailable(&keys.key("k1").await), "the failed fetch");
    assert!(
        unavailable(&keys.key("k1").await),
        "a token right after it: still ours to retry (503), not the caller's (401)"
    );
    jwks.set(Answer::Serve, &["k1"]);
    // Within the back-off the failure stands; after it the next token fetches again, long
    // before the hour between refreshes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match keys.key("k1").await {
            Ok(_) => break,
            Err(ForgeKeyError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("the key source is back but the key is refused: {err}"),
        }
    }
    assert!(
        matches!(keys.key("invented").await, Err(ForgeKeyError::Unknown)),
        "after a good fetch, a kid Atlassian does not publish is unknown without another fetch"
    );
}

#[tokio::test]
async fn a_key_already_held_is_served_while_a_fetch_hangs() {
    let (jwks, keys) = start(FetchLimits {
        refresh: Duration::ZERO,
        retry_after_failure: Duration::ZERO,
    })
    .await;
    jwks.set(Answer::Serve, &["k1"]);
    keys.key("k1").await.expect("the first fetch");
    jwks.set(Answer::Hang, &["k1", "k2"]);
    let fetching = tokio::spawn({
        let keys = keys.clone();
        async move { keys.key("k2").await.is_ok() }
    });
    // The lookup of k2 holds the fetch lock, its fetch waiting on the server.
    jwks.hanging.notified().await;
    // Well inside the HTTP client's 5 s timeout: a lookup that waited on the fetch would still
    // be waiting here.
    let held = tokio::time::timeout(Duration::from_secs(2), keys.key("k1")).await;
    assert!(
        matches!(held, Ok(Ok(_))),
        "a held key waited on the hanging fetch"
    );
    assert!(!fetching.is_finished(), "the fetch was still hanging");
    jwks.release.notify_one();
    assert!(fetching.await.unwrap(), "the released fetch brings k2");
}
