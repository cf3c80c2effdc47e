//! The retention job against the real ClickHouse: months older than the retention leave every
//! partitioned table (raw rows and rollups), recent months stay, and the drops are counted.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use clickhouse::Client;
use pipeline::{RetentionConfig, retention::Retention};
use test_kit::Stack;
use warehouse::{EventRow, FieldChangeRow, SprintRow, WorklogRow, retention::PARTITIONED_TABLES};

fn issue_created(delivery: &str, at_ms: i64) -> EventRow {
    EventRow {
        installation_id: contracts::InstallationId::new_random(),
        delivery_id: delivery.into(),
        source: "connect".into(),
        family: "issue".into(),
        event_type: "issue_created".into(),
        occurred_at_ms: at_ms,
        received_at_ms: at_ms,
        project_id: "1".into(),
        project_key: "SEC".into(),
        issue_id: delivery.into(),
        issue_key: "SEC-1".into(),
        issue_type: "Bug".into(),
        status: "To Do".into(),
        status_category: "new".into(),
        priority: "High".into(),
        actor_account_id: "u".into(),
        payload: "{}".into(),
        ..EventRow::default()
    }
}

fn resolution(event: &EventRow) -> FieldChangeRow {
    FieldChangeRow {
        installation_id: event.installation_id,
        delivery_id: event.delivery_id.clone(),
        item_index: 0,
        occurred_at_ms: event.occurred_at_ms,
        project_key: event.project_key.clone(),
        issue_id: event.issue_id.clone(),
        issue_key: event.issue_key.clone(),
        issue_type: event.issue_type.clone(),
        field: "resolution".into(),
        field_id: "resolution".into(),
        from_value: String::new(),
        to_value: "10000".into(),
        from_string: String::new(),
        to_string: "Done".into(),
        status_category: "done".into(),
        priority: event.priority.clone(),
        assignee_account_id: event.assignee_account_id.clone(),
        labels: event.labels.clone(),
        components: event.components.clone(),
    }
}

fn sprint(event: &EventRow) -> SprintRow {
    SprintRow {
        installation_id: event.installation_id,
        sprint_id: "1".into(),
        occurred_at_ms: event.occurred_at_ms,
        delivery_id: event.delivery_id.clone(),
        event_type: "sprint_started".into(),
        board_id: "1".into(),
        name: "Sprint 1".into(),
        state: "active".into(),
        start_ms: event.occurred_at_ms,
        end_ms: -1,
        complete_ms: -1,
    }
}

fn worklog(event: &EventRow) -> WorklogRow {
    WorklogRow {
        installation_id: event.installation_id,
        worklog_id: "1".into(),
        version: WorklogRow::version_of(event.occurred_at_ms, "worklog_created"),
        delivery_id: event.delivery_id.clone(),
        occurred_at_ms: event.occurred_at_ms,
        event_type: "worklog_created".into(),
        issue_id: event.issue_id.clone(),
        author_account_id: "u".into(),
        started_ms: event.occurred_at_ms,
        time_spent_seconds: 60,
        deleted: 0,
    }
}

async fn months_of(client: &Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT DISTINCT partition FROM system.parts
             WHERE database = currentDatabase() AND table = ? AND active ORDER BY partition",
        )
        .bind(table)
        .fetch_all::<String>()
        .await
        .unwrap()
}

#[tokio::test]
async fn months_older_than_the_retention_leave_every_table_and_recent_ones_stay() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let old = issue_created(
        "old",
        Utc.with_ymd_and_hms(2023, 1, 15, 9, 0, 0)
            .unwrap()
            .timestamp_millis(),
    );
    let recent = issue_created(
        "recent",
        Utc.with_ymd_and_hms(2026, 10, 2, 9, 0, 0)
            .unwrap()
            .timestamp_millis(),
    );
    let mut insert = client
        .insert::<FieldChangeRow>("field_changes")
        .await
        .unwrap();
    for event in [&old, &recent] {
        insert.write(&resolution(event)).await.unwrap();
        insert
            .write(&FieldChangeRow {
                item_index: 1,
                field: "Sprint".into(),
                field_id: "customfield_10020".into(),
                to_value: "1".into(),
                to_string: "Sprint 1".into(),
                ..resolution(event)
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client.insert::<SprintRow>("sprints").await.unwrap();
    for event in [&old, &recent] {
        insert.write(&sprint(event)).await.unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client.insert::<WorklogRow>("worklogs").await.unwrap();
    for event in [&old, &recent] {
        insert.write(&worklog(event)).await.unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client.insert::<EventRow>("events").await.unwrap();
    for event in [&old, &recent] {
        insert.write(event).await.unwrap();
    }
    insert.end().await.unwrap();
    // Both months' hours sealed, as the sealing job does once they are quiet (a second here).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut cursor = warehouse::sealing::SealCursor::default();
    let pass = warehouse::sealing::seal_quiet_hours(&client, &mut cursor, 10, 1)
        .await
        .unwrap();
    assert_eq!(pass.sealed, 2, "an hour of each month");
    for table in PARTITIONED_TABLES {
        assert_eq!(
            months_of(&client, table).await,
            ["202301", "202610"],
            "{table} before"
        );
    }

    let registry = prometheus::Registry::new();
    let config = RetentionConfig {
        months: 25,
        interval: Duration::from_secs(3600),
    };
    let job = Retention::new(client.clone(), config, &registry).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let dropped = job.run_once(today).await.unwrap();

    assert_eq!(dropped.len(), PARTITIONED_TABLES.len(), "{dropped:?}");
    for table in PARTITIONED_TABLES {
        assert_eq!(months_of(&client, table).await, ["202610"], "{table} after");
    }
    let counted: u64 = registry
        .gather()
        .iter()
        .filter(|family| family.name() == pipeline::metrics::PARTITIONS_DROPPED_TOTAL)
        .flat_map(|family| family.get_metric())
        .map(|metric| metric.get_counter().value() as u64)
        .sum();
    assert_eq!(counted, PARTITIONED_TABLES.len() as u64);
    assert!(
        job.run_once(today).await.unwrap().is_empty(),
        "a second pass finds nothing"
    );

    let keep_forever = Retention::new(
        client.clone(),
        RetentionConfig {
            months: 0,
            ..config
        },
        &prometheus::Registry::new(),
    )
    .unwrap();
    let far_future = NaiveDate::from_ymd_opt(2099, 1, 1).unwrap();
    assert!(
        keep_forever.run_once(far_future).await.unwrap().is_empty(),
        "0 keeps everything"
    );
    assert_eq!(months_of(&client, "events").await, ["202610"]);
}
