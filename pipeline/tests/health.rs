//! The pipeline's admin port against the real stack: ready with Kafka and ClickHouse, and its
//! readiness follows ClickHouse going away and coming back.

use test_kit::{Stack, TcpGate, TestApp};

/// A config on a ClickHouse database of its own, not yet migrated: a build with a newer
/// migration must not migrate the stack's.
async fn unmigrated_config() -> pipeline::Config {
    let mut config = pipeline::Config::from_env().expect("config");
    config.server.listen_on_free_ports();
    config.clickhouse = Stack::from_env().fresh_clickhouse().await;
    config
}

async fn config() -> pipeline::Config {
    let config = unmigrated_config().await;
    // Migrated as the consuming side would as it starts; these tests spawn the admin port alone.
    warehouse::migrate(&config.clickhouse)
        .await
        .expect("migrate the test database");
    config
}

#[tokio::test]
async fn not_ready_until_the_warehouse_is_migrated() {
    let config = unmigrated_config().await;
    let database = config.clickhouse.clone();
    let app = TestApp::spawn(pipeline::build(config).await.unwrap().app);
    app.assert_not_ready_until("warehouse_schema", async {
        warehouse::migrate(&database).await.unwrap();
    })
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn ready_when_kafka_and_clickhouse_answer() {
    let app = TestApp::spawn(pipeline::build(config().await).await.unwrap().app);
    app.assert_ready().await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn not_ready_while_clickhouse_is_cut_off_and_ready_again_after() {
    let mut config = config().await;
    let (gate, routed) = TcpGate::for_clickhouse(&config.clickhouse).await;
    config.clickhouse = routed;
    let app = TestApp::spawn(pipeline::build(config).await.unwrap().app);
    app.assert_readiness_follows(&gate, "clickhouse").await;
}

/// The pipeline has no public port at all: health, readiness and metrics are on its admin port.
#[tokio::test]
async fn health_readiness_and_metrics_answer_on_the_admin_port_only() {
    let pipeline = pipeline::build(config().await).await.unwrap();
    assert_eq!(pipeline.app.public_addr(), None, "no public port");
    let app = TestApp::spawn(pipeline.app);
    app.assert_ready().await;
    assert_eq!(app.admin_get("/healthz").await.status(), 200);
    assert!(app.metrics().await.contains("pipeline_consumed_total"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_sigterm() {
    test_kit::assert_binary_stops_cleanly_on_sigterm(
        env!("CARGO_BIN_EXE_pipeline"),
        None,
        "PIPELINE_ADMIN_ADDR",
    )
    .await;
}
