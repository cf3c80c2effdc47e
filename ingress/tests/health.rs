//! The ingress answers health, readiness and metrics against the real stack, and its readiness
//! follows its dependencies.

use test_kit::{Stack, TcpGate, TestApp};

/// The stack's config, on a free port, with a fresh database onboarding has migrated.
async fn config() -> ingress::Config {
    let mut config = ingress::Config::from_env().expect("config");
    config.server.listen_on_free_ports();
    // Tests run the development fallbacks (the simulator, the committed key).
    config.server.deployment = service_runtime::config::Deployment::Local;
    config.postgres = Stack::from_env().fresh_postgres().await;
    accounts_store::migrate(&config.postgres.pool().unwrap())
        .await
        .unwrap();
    config
}

#[tokio::test]
async fn ready_when_kafka_and_postgres_answer() {
    let app = TestApp::spawn(ingress::build(config().await).await.unwrap());
    app.wait_until_ready().await;
    assert_eq!(app.admin_get("/healthz").await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("dependency_up{dependency=\"kafka\"} 1"),
        "{metrics}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn stays_ready_while_postgres_is_cut_off_serving_from_its_cache() {
    let mut config = config().await;
    let (gate, routed) = TcpGate::for_postgres(&config.postgres).await;
    config.postgres = routed;
    let app = TestApp::spawn(ingress::build(config).await.unwrap());
    app.wait_until_ready().await;
    gate.close().await;
    app.assert_ready().await;
}

#[tokio::test]
async fn not_ready_and_says_why_when_no_broker_answers() {
    let mut config = config().await;
    config.kafka.brokers = "127.0.0.1:1".to_owned();
    let app = TestApp::spawn(ingress::build(config).await.unwrap());
    let response = app.admin_get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_ne!(body["dependencies"]["kafka"], "ok", "{body}");
    assert_eq!(app.admin_get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_on_the_admin_port_only() {
    let app = TestApp::spawn(ingress::build(config().await).await.unwrap());
    app.wait_until_ready().await;
    test_kit::assert_operational_routes_on_the_admin_port_only(&app).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_sigterm() {
    test_kit::assert_binary_stops_cleanly_on_sigterm(
        env!("CARGO_BIN_EXE_ingress"),
        Some("INGRESS_ADDR"),
        "INGRESS_ADMIN_ADDR",
    )
    .await;
}
