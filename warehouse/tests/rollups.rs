//! The rollups behind weekly rates and trends, against the real ClickHouse: a delivery inserted
//! again in other blocks (each block fires the materialized views once more) changes no
//! number, the numbers really come from the rollups, and upgrading a warehouse that already
//! holds rows backfills them.

mod support;

use chrono::{DateTime, TimeZone, Utc};
use clickhouse::{Client, Row};
use serde::Serialize;
use support::{Generated, generate, id, insert};
use test_kit::Stack;
use warehouse::{
    EventRow,
    queries::{Filters, Scope, Trends, WeeklyRates, trends, weekly_rates},
    retention::PARTITIONED_TABLES,
};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap()
}

/// Whole UTC hours in UTC: every number of these views comes from the rollups.
fn whole_hours(installations: &[&str], time_zone: &str) -> Scope {
    Scope {
        installations: installations.iter().map(|name| id(name)).collect(),
        from: start(),
        to: start() + chrono::Duration::days(35),
        time_zone: time_zone.into(),
        filters: Filters::default(),
        visibility: Default::default(),
    }
}

async fn views(client: &Client, scope: &Scope) -> (WeeklyRates, Trends) {
    let fields = ["assignee".to_owned(), "priority".to_owned()];
    (
        weekly_rates(client, scope).await.unwrap(),
        trends(client, scope, &fields).await.unwrap(),
    )
}

async fn insert_events(client: &Client, rows: &[EventRow]) {
    let mut insert = client.insert::<EventRow>("events").await.unwrap();
    for row in rows {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
}

/// Leaves only the rollups: what the views answer then, they answer from the rollups.
async fn truncate_raw_rows(client: &Client) {
    support::on_each_table(
        client,
        "TRUNCATE TABLE {table}",
        &["events", "field_changes"],
    )
    .await;
}

#[tokio::test]
async fn copies_inserted_in_other_blocks_change_no_rollup_backed_number() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let generated = generate(start(), &["inst-a", "inst-b"]);
    insert(&client, &generated).await;
    let scope = whole_hours(&["inst-a", "inst-b"], "UTC");
    let before = views(&client, &scope).await;
    assert!(
        before
            .0
            .weeks
            .iter()
            .any(|w| w.counts.values().any(|n| *n > 0)),
        "the stream has events in range"
    );

    // Every delivery again, in three blocks of its own and then all together: four more
    // firings of each materialized view with rows already counted.
    for chunk in generated.events.chunks(generated.events.len() / 3 + 1) {
        insert_events(&client, chunk).await;
    }
    insert(&client, &generated).await;
    let topology = warehouse::Topology::of(&client).await.unwrap();
    let parts: u64 = client
        .query(
            "SELECT toUInt64(count()) FROM system.parts
             WHERE database = currentDatabase() AND table = ? AND active",
        )
        .bind(topology.local_name("activity_hourly"))
        .fetch_one()
        .await
        .unwrap();
    assert!(parts > 1, "the copies sit in parts of their own, unmerged");
    assert_eq!(views(&client, &scope).await, before, "after the copies");

    // Also once merged, and with the raw rows gone: the numbers were the rollups' own.
    for table in PARTITIONED_TABLES {
        test_kit::synthetic::merge(&client, table).await.unwrap();
    }
    assert_eq!(views(&client, &scope).await, before, "after merging");
    truncate_raw_rows(&client).await;
    assert_eq!(
        views(&client, &scope).await,
        before,
        "from the rollups alone"
    );
}

/// A changelog item as schema version 2 stored it, before `status_category`.
#[derive(Row, Serialize)]
struct FieldChangeV2 {
    installation_id: contracts::InstallationId,
    delivery_id: String,
    item_index: u16,
    occurred_at_ms: i64,
    project_key: String,
    issue_id: String,
    issue_key: String,
    issue_type: String,
    field: String,
    field_id: String,
    from_value: String,
    to_value: String,
    from_string: String,
    to_string: String,
}

/// An event as schema versions 1 to 4 stored it, before `occurred_at_note`.
#[derive(Row, Serialize)]
struct EventV4 {
    installation_id: contracts::InstallationId,
    delivery_id: String,
    source: String,
    family: String,
    event_type: String,
    occurred_at_ms: i64,
    received_at_ms: i64,
    project_id: String,
    project_key: String,
    issue_id: String,
    issue_key: String,
    issue_type: String,
    status: String,
    status_category: String,
    priority: String,
    actor_account_id: String,
    payload: String,
}

async fn insert_as_version_2(client: &Client, generated: &Generated) {
    let mut insert = client.insert::<EventV4>("events").await.unwrap();
    for e in &generated.events {
        let row = EventV4 {
            installation_id: e.installation_id,
            delivery_id: e.delivery_id.clone(),
            source: e.source.clone(),
            family: e.family.clone(),
            event_type: e.event_type.clone(),
            occurred_at_ms: e.occurred_at_ms,
            received_at_ms: e.received_at_ms,
            project_id: e.project_id.clone(),
            project_key: e.project_key.clone(),
            issue_id: e.issue_id.clone(),
            issue_key: e.issue_key.clone(),
            issue_type: e.issue_type.clone(),
            status: e.status.clone(),
            status_category: e.status_category.clone(),
            priority: e.priority.clone(),
            actor_account_id: e.actor_account_id.clone(),
            payload: e.payload.clone(),
        };
        insert.write(&row).await.unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client
        .insert::<FieldChangeV2>("field_changes")
        .await
        .unwrap();
    for c in &generated.changes {
        let row = FieldChangeV2 {
            installation_id: c.installation_id,
            delivery_id: c.delivery_id.clone(),
            item_index: c.item_index,
            occurred_at_ms: c.occurred_at_ms,
            project_key: c.project_key.clone(),
            issue_id: c.issue_id.clone(),
            issue_key: c.issue_key.clone(),
            issue_type: c.issue_type.clone(),
            field: c.field.clone(),
            field_id: c.field_id.clone(),
            from_value: c.from_value.clone(),
            to_value: c.to_value.clone(),
            from_string: c.from_string.clone(),
            to_string: c.to_string.clone(),
        };
        insert.write(&row).await.unwrap();
    }
    insert.end().await.unwrap();
}

#[tokio::test]
async fn upgrading_a_warehouse_with_rows_backfills_the_rollups() {
    let stack = Stack::from_env();
    let generated = generate(start(), &["inst-a", "inst-b"]);

    let fresh_database = stack.fresh_clickhouse().await;
    let fresh = fresh_database.client();
    warehouse::migrate(&fresh_database).await.unwrap();
    insert(&fresh, &generated).await;

    let upgraded_database = stack.fresh_clickhouse().await;
    let upgraded = upgraded_database.client();
    warehouse::migrate::migrate_to(&upgraded_database, 2)
        .await
        .unwrap();
    insert_as_version_2(&upgraded, &generated).await;
    warehouse::migrate(&upgraded_database).await.unwrap();

    for time_zone in ["UTC", "Asia/Kolkata"] {
        let scope = whole_hours(&["inst-a"], time_zone);
        assert_eq!(
            views(&upgraded, &scope).await,
            views(&fresh, &scope).await,
            "{time_zone}"
        );
    }
    // From the rollups alone too (UTC, whole hours), so the backfill itself is what counts.
    let scope = whole_hours(&["inst-a"], "UTC");
    let want = views(&fresh, &scope).await;
    truncate_raw_rows(&upgraded).await;
    let got = views(&upgraded, &scope).await;
    assert_eq!(got.0.weeks.len(), want.0.weeks.len());
    for (got, want) in got.0.weeks.iter().zip(&want.0.weeks) {
        assert_eq!(got.counts, want.counts, "week of {}", want.start);
    }
    assert_eq!(got.1, want.1, "trends from the backfilled rollups");
}
