//! Shutdown lets in-flight requests finish within the grace period, and no longer than that.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use service_runtime::{Application, Routes, ServerConfig};
use test_kit::{TestApp, eventually};

/// An app whose `/slow` takes `request_takes` to answer (the in-flight request shutdown has to
/// deal with), and a flag raised once a request is inside it.
async fn app_with_a_slow_route(request_takes: Duration, grace: Duration) -> (TestApp, SlowRoute) {
    let entered = SlowRoute(Arc::new(AtomicBool::new(false)));
    let raise = Arc::clone(&entered.0);
    let router = Router::new().route(
        "/slow",
        get(move || async move {
            raise.store(true, Ordering::SeqCst);
            // The slowness shutdown is tested against, not a wait for something.
            tokio::time::sleep(request_takes).await;
            "done"
        }),
    );
    let config = ServerConfig {
        shutdown_grace: grace,
        ..ServerConfig::loopback()
    };
    let app = TestApp::spawn(
        Application::bind(
            &config,
            Routes {
                public: Some(router),
                admin: Router::new(),
            },
        )
        .await
        .unwrap(),
    );
    (app, entered)
}

struct SlowRoute(Arc<AtomicBool>);

impl SlowRoute {
    /// Returns once a request is being handled: only then is it in flight when shutdown starts.
    async fn wait_until_entered(&self) {
        eventually(Duration::from_secs(5), "a request inside /slow", || async {
            if self.0.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("none yet")
            }
        })
        .await;
    }
}

#[tokio::test]
async fn an_in_flight_request_finishes_after_shutdown_is_requested() {
    let (app, slow) =
        app_with_a_slow_route(Duration::from_millis(500), Duration::from_secs(5)).await;
    let request = tokio::spawn(app.client.get(format!("{}/slow", app.address)).send());
    slow.wait_until_entered().await;
    app.stop().await.unwrap();
    let response = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_slower_than_the_grace_period() {
    let (app, slow) =
        app_with_a_slow_route(Duration::from_secs(60), Duration::from_millis(300)).await;
    let request = tokio::spawn(app.client.get(format!("{}/slow", app.address)).send());
    slow.wait_until_entered().await;
    let started = Instant::now();
    app.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "shutdown waited for the 60 s request"
    );
    request.abort();
}
