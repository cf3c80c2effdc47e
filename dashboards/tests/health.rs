//! Dashboards against the real stack: ready with ClickHouse and Postgres, and its readiness
//! follows each of them going away and coming back.

use test_kit::{Stack, TcpGate, TestApp};

async fn config() -> dashboards::Config {
    let mut config = dashboards::Config::from_env().expect("config");
    config.server.listen_on_free_ports();
    // A database of its own, never the stack's (see `assert_binary_stops_cleanly_on_sigterm`).
    config.postgres = Stack::from_env().fresh_postgres().await;
    config
}

#[tokio::test]
async fn ready_when_clickhouse_and_postgres_answer() {
    let app = TestApp::spawn(dashboards::build(config().await).await.unwrap());
    app.assert_ready().await;
    app.stop().await.unwrap();
}

/// Started beside a warehouse the pipeline has not migrated yet (a fresh cluster takes tens of
/// seconds), the dashboards wait rather than fail each page on a missing table.
#[tokio::test]
async fn not_ready_until_the_warehouse_is_migrated() {
    let mut config = config().await;
    let database = Stack::from_env().fresh_clickhouse().await;
    config.clickhouse = database.clone();
    let app = TestApp::spawn(dashboards::build(config).await.unwrap());
    app.assert_not_ready_until("warehouse_schema", async {
        warehouse::migrate(&database).await.unwrap();
    })
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn not_ready_while_clickhouse_is_cut_off_and_ready_again_after() {
    let mut config = config().await;
    let (gate, routed) = TcpGate::for_clickhouse(&config.clickhouse).await;
    config.clickhouse = routed;
    let app = TestApp::spawn(dashboards::build(config).await.unwrap());
    app.assert_readiness_follows(&gate, "clickhouse").await;
}

#[tokio::test]
async fn not_ready_while_postgres_is_cut_off_and_ready_again_after() {
    let mut config = config().await;
    let (gate, routed) = TcpGate::for_postgres(&config.postgres).await;
    config.postgres = routed;
    let app = TestApp::spawn(dashboards::build(config).await.unwrap());
    app.assert_readiness_follows(&gate, "postgres").await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_on_the_admin_port_only() {
    let app = TestApp::spawn(dashboards::build(config().await).await.unwrap());
    app.assert_ready().await;
    test_kit::assert_operational_routes_on_the_admin_port_only(&app).await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_binary_exits_cleanly_on_sigterm() {
    test_kit::assert_binary_stops_cleanly_on_sigterm(
        env!("CARGO_BIN_EXE_dashboards"),
        Some("DASHBOARDS_ADDR"),
        "DASHBOARDS_ADMIN_ADDR",
    )
    .await;
}
