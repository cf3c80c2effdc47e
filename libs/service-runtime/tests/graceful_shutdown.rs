//! Shutdown lets in-flight requests finish within the grace period, and no longer than that.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use service_runtime::{Application, ServerConfig};
use test_kit::TestApp;

async fn app_with_a_slow_route(request_takes: Duration, grace: Duration) -> TestApp {
    let router = Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(request_takes).await;
            "done"
        }),
    );
    let config = ServerConfig {
        shutdown_grace: grace,
        ..ServerConfig::loopback()
    };
    TestApp::spawn(Application::bind(&config, router).await.unwrap())
}

#[tokio::test]
async fn an_in_flight_request_finishes_after_shutdown_is_requested() {
    let app = app_with_a_slow_route(Duration::from_millis(500), Duration::from_secs(5)).await;
    let request = tokio::spawn(app.client.get(format!("{}/slow", app.address)).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
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
    let app = app_with_a_slow_route(Duration::from_secs(60), Duration::from_millis(300)).await;
    let request = tokio::spawn(app.client.get(format!("{}/slow", app.address)).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    app.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "shutdown waited for the 60 s request"
    );
    request.abort();
}
