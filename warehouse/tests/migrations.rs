//! Migrations against the stack's real ClickHouse (18.16 locally), each test in a fresh database.

use test_kit::Stack;

#[tokio::test]
async fn migrating_twice_applies_each_migration_once() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    let first = warehouse::migrate(&database).await.unwrap();
    assert_eq!(first.len() as u32, warehouse::migrate::latest_version());
    let second = warehouse::migrate(&database).await.unwrap();
    assert!(second.is_empty(), "nothing left to apply: {second:?}");
    for table in ["events", "field_changes"] {
        let exists: u8 = client
            .query("SELECT toUInt8(count()) FROM system.tables WHERE database = currentDatabase() AND name = ?")
            .bind(table)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(exists, 1, "{table} exists");
    }
}

#[tokio::test]
async fn a_warehouse_migrated_by_a_newer_build_is_refused() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    client
        .query("INSERT INTO schema_migrations (version, name) VALUES (?, 'from the future')")
        .bind(warehouse::migrate::latest_version() + 1)
        .execute()
        .await
        .unwrap();
    let err = warehouse::migrate(&database).await.unwrap_err();
    assert!(
        matches!(err, warehouse::MigrateError::NewerSchema { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn the_schema_check_is_red_until_the_warehouse_is_migrated() {
    use service_runtime::DependencyCheck;

    let database = Stack::from_env().fresh_clickhouse().await;
    let check = warehouse::migrate::SchemaCheck(database.client());
    let before = check.check().await.unwrap_err();
    assert!(before.contains("schema version"), "{before}");
    warehouse::migrate::migrate_to(&database, 3).await.unwrap();
    let partly = check.check().await.unwrap_err();
    assert!(partly.contains("at version 3"), "{partly}");
    warehouse::migrate(&database).await.unwrap();
    assert_eq!(check.check().await, Ok(()));
}
