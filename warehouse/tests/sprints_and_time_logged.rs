//! The sprint and time-logged queries against the real ClickHouse, on hand-written rows: each
//! number of a small story, with copies of deliveries inserted again and worklog deliveries in
//! any order.

use chrono::{DateTime, TimeZone, Utc};
use contracts::InstallationId;
use test_kit::Stack;
use warehouse::{
    EventRow, FieldChangeRow, SprintRow, WorklogRow,
    queries::{Filters, Scope, sprints, time_logged},
};

const HOUR: i64 = 3_600_000;

fn t0() -> DateTime<Utc> {
    // A Monday.
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

fn at(hours: i64) -> i64 {
    t0().timestamp_millis() + hours * HOUR
}

fn sprint(installation: InstallationId, event_type: &str, at_ms: i64) -> SprintRow {
    SprintRow {
        installation_id: installation,
        sprint_id: "7".into(),
        occurred_at_ms: at_ms,
        delivery_id: format!("sprint-{event_type}"),
        event_type: event_type.into(),
        board_id: "3".into(),
        name: "Sprint 7".into(),
        state: match event_type {
            "sprint_created" => "future",
            "sprint_started" => "active",
            _ => "closed",
        }
        .into(),
        start_ms: if event_type == "sprint_created" {
            -1
        } else {
            at(24)
        },
        end_ms: -1,
        complete_ms: -1,
    }
}

fn issue(installation: InstallationId, n: u32, at_ms: i64, category: &str) -> EventRow {
    EventRow {
        installation_id: installation,
        delivery_id: format!("issue-{n}-{at_ms}"),
        source: "connect".into(),
        family: "issue".into(),
        event_type: "issue_updated".into(),
        occurred_at_ms: at_ms,
        received_at_ms: at_ms,
        project_key: "SEC".into(),
        issue_id: format!("{n}"),
        issue_key: format!("SEC-{n}"),
        issue_type: "Task".into(),
        status: if category == "done" { "Done" } else { "To Do" }.into(),
        status_category: category.into(),
        ..EventRow::default()
    }
}

fn moved(event: &EventRow, from: &str, to: &str) -> FieldChangeRow {
    FieldChangeRow {
        installation_id: event.installation_id,
        delivery_id: event.delivery_id.clone(),
        item_index: 0,
        occurred_at_ms: event.occurred_at_ms,
        project_key: event.project_key.clone(),
        issue_id: event.issue_id.clone(),
        issue_key: event.issue_key.clone(),
        issue_type: event.issue_type.clone(),
        field: "Sprint".into(),
        field_id: "customfield_10020".into(),
        from_value: from.into(),
        to_value: to.into(),
        from_string: String::new(),
        to_string: String::new(),
        status_category: event.status_category.clone(),
        priority: event.priority.clone(),
        assignee_account_id: event.assignee_account_id.clone(),
        labels: event.labels.clone(),
        components: event.components.clone(),
    }
}

fn worklog(
    installation: InstallationId,
    id: &str,
    event_type: &str,
    at_ms: i64,
    started_ms: i64,
    seconds: i64,
) -> WorklogRow {
    WorklogRow {
        installation_id: installation,
        worklog_id: id.into(),
        version: WorklogRow::version_of(at_ms, event_type),
        delivery_id: format!("{id}-{event_type}-{at_ms}"),
        occurred_at_ms: at_ms,
        event_type: event_type.into(),
        issue_id: "1".into(),
        author_account_id: "ana".into(),
        started_ms,
        time_spent_seconds: seconds,
        deleted: u8::from(event_type == "worklog_deleted"),
    }
}

/// One insert of `rows` into `table` (a macro: the `clickhouse` crate's `Row` is awkward to
/// be generic over).
macro_rules! insert {
    ($client:expr, $table:literal, $row:ty, $rows:expr) => {{
        let mut insert = $client.insert::<$row>($table).await.unwrap();
        for row in $rows {
            insert.write(row).await.unwrap();
        }
        insert.end().await.unwrap();
    }};
}

fn scope(installation: InstallationId, time_zone: &str) -> Scope {
    Scope {
        installations: vec![installation],
        from: t0(),
        to: t0() + chrono::Duration::days(28),
        time_zone: time_zone.into(),
        filters: Filters::default(),
        visibility: Default::default(),
    }
}

#[tokio::test]
async fn a_sprint_counts_committed_added_removed_and_completed_once_whatever_the_copies() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let installation = InstallationId::new_random();
    // Created at 0 h, started at 24 h, closed at 240 h.
    let sprints_rows = [
        sprint(installation, "sprint_created", at(0)),
        sprint(installation, "sprint_started", at(24)),
        sprint(installation, "sprint_closed", at(240)),
    ];
    // 1: planned at 1 h, done at 100 h (committed, completed). 2: planned at 2 h, removed at
    // 50 h (committed, removed). 3: added at 30 h, still to do at the close, carried over to 8
    // at 241 h (added). 4: added at 40 h, removed at 60 h (added, removed).
    let events = [
        issue(installation, 1, at(1), "new"),
        issue(installation, 1, at(100), "done"),
        issue(installation, 2, at(2), "new"),
        issue(installation, 2, at(50), "new"),
        issue(installation, 3, at(30), "new"),
        issue(installation, 3, at(241), "new"),
        issue(installation, 4, at(40), "new"),
        issue(installation, 4, at(60), "new"),
    ];
    let changes = [
        moved(&events[0], "", "7"),
        moved(&events[2], "", "7"),
        moved(&events[3], "7", ""),
        moved(&events[4], "6", "6, 7"),
        moved(&events[5], "6, 7", "8"),
        moved(&events[6], "", "7"),
        moved(&events[7], "7", ""),
    ];
    for _copy in 0..2 {
        insert!(client, "sprints", SprintRow, &sprints_rows);
        insert!(client, "field_changes", FieldChangeRow, &changes);
        insert!(client, "events", EventRow, &events);
    }

    let found = sprints(&client, &scope(installation, "UTC")).await.unwrap();
    assert_eq!(found.sprints.len(), 1, "{found:?}");
    let sprint = &found.sprints[0];
    let keys = |issues: &warehouse::queries::SprintIssues| {
        issues
            .issues
            .iter()
            .map(|issue| issue.issue_key.clone())
            .collect::<Vec<_>>()
    };
    assert!(sprint.exact, "{:?}", sprint.notes);
    assert_eq!(keys(sprint.committed.as_ref().unwrap()), ["SEC-1", "SEC-2"]);
    assert_eq!(keys(&sprint.added), ["SEC-3", "SEC-4"]);
    assert_eq!(keys(&sprint.removed), ["SEC-2", "SEC-4"]);
    assert_eq!(keys(sprint.completed.as_ref().unwrap()), ["SEC-1"]);
    assert_eq!(sprint.committed.as_ref().unwrap().count, 2);
    assert_eq!(sprint.name, "Sprint 7");
    assert_eq!(sprint.state, "closed");
}

#[tokio::test]
async fn a_sprint_started_before_the_connection_has_no_committed_count() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let installation = InstallationId::new_random();
    insert!(
        client,
        "sprints",
        SprintRow,
        &[sprint(installation, "sprint_closed", at(240))]
    );
    let found = sprints(&client, &scope(installation, "UTC")).await.unwrap();
    let sprint = &found.sprints[0];
    assert_eq!(sprint.committed, None);
    assert!(!sprint.exact);
    assert_eq!(sprint.notes.len(), 2, "{:?}", sprint.notes);
    assert_eq!(sprint.completed.as_ref().map(|c| c.count), Some(0));
}

#[tokio::test]
async fn time_logged_counts_each_worklog_as_its_newest_delivery_left_it() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let installation = InstallationId::new_random();
    insert!(
        client,
        "events",
        EventRow,
        &[issue(installation, 1, at(0), "new")]
    );
    // a: created 1 h on Monday 2 Nov, updated to 2 h; b: created then deleted; c: started on
    // Sunday 8 Nov at 20:00 UTC, which is Monday 9 Nov in Kolkata.
    let rows = [
        worklog(installation, "a", "worklog_updated", at(5), at(1), 7_200),
        worklog(installation, "a", "worklog_created", at(2), at(1), 3_600),
        worklog(installation, "b", "worklog_deleted", at(9), at(3), 0),
        worklog(installation, "b", "worklog_created", at(4), at(3), 1_800),
        worklog(
            installation,
            "c",
            "worklog_created",
            at(7 * 24 - 4),
            at(7 * 24 - 4),
            600,
        ),
    ];
    // The newest first, then each delivery again: order and copies change nothing.
    insert!(client, "worklogs", WorklogRow, &rows);
    insert!(client, "worklogs", WorklogRow, &rows[..3]);

    let utc = time_logged(&client, &scope(installation, "UTC"))
        .await
        .unwrap();
    assert_eq!(utc.total_seconds, 7_800);
    assert_eq!(utc.worklogs, 2);
    assert_eq!(
        utc.weeks.iter().map(|w| w.seconds).collect::<Vec<_>>(),
        [7_800, 0, 0, 0]
    );
    assert_eq!(utc.projects[0].key, "SEC");
    assert_eq!(utc.people[0].key, "ana");
    assert_eq!(utc.people[0].issues[0].issue_key, "SEC-1");

    let kolkata = time_logged(&client, &scope(installation, "Asia/Kolkata"))
        .await
        .unwrap();
    // The range starts at midnight UTC, 05:30 in Kolkata: the Monday of that week, then 4 more.
    assert_eq!(
        kolkata.weeks.iter().map(|w| w.seconds).collect::<Vec<_>>(),
        [7_200, 600, 0, 0, 0]
    );
}

#[tokio::test]
async fn erasing_an_installation_empties_its_sprints_and_worklogs() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let (gone, kept) = (InstallationId::new_random(), InstallationId::new_random());
    for installation in [gone, kept] {
        insert!(
            client,
            "sprints",
            SprintRow,
            &[sprint(installation, "sprint_started", at(24))]
        );
        insert!(
            client,
            "worklogs",
            WorklogRow,
            &[worklog(
                installation,
                "a",
                "worklog_created",
                at(2),
                at(1),
                60
            )]
        );
    }
    warehouse::erase_installations(&client, &[gone])
        .await
        .unwrap();
    for table in ["sprints", "worklogs"] {
        test_kit::eventually(
            std::time::Duration::from_secs(20),
            &format!("{table} of the erased installation to go"),
            || async {
                let left: Vec<String> = client
                    .query(&format!(
                        "SELECT DISTINCT installation_id FROM {table} ORDER BY installation_id"
                    ))
                    .fetch_all()
                    .await
                    .map_err(|err| err.to_string())?;
                if left == [kept.to_string()] {
                    Ok(())
                } else {
                    Err(format!("{left:?}"))
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn upgrading_finds_the_sprint_moves_stored_before_migration_9() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate::migrate_to(&database, 8).await.unwrap();
    let installation = InstallationId::new_random();
    let planned = issue(installation, 1, at(1), "new");
    // As a version 8 warehouse stored it: its columns then (no security level yet).
    client
        .query(
            "INSERT INTO events (installation_id, delivery_id, source, family, event_type,
                 occurred_at_ms, received_at_ms, project_key, issue_id, issue_key, issue_type,
                 status, status_category)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(planned.installation_id.to_string())
        .bind(&planned.delivery_id)
        .bind(&planned.source)
        .bind(&planned.family)
        .bind(&planned.event_type)
        .bind(planned.occurred_at_ms)
        .bind(planned.received_at_ms)
        .bind(&planned.project_key)
        .bind(&planned.issue_id)
        .bind(&planned.issue_key)
        .bind(&planned.issue_type)
        .bind(&planned.status)
        .bind(&planned.status_category)
        .execute()
        .await
        .unwrap();
    insert!(
        client,
        "field_changes",
        FieldChangeRow,
        &[moved(&planned, "", "7")]
    );
    warehouse::migrate(&database).await.unwrap();
    insert!(
        client,
        "sprints",
        SprintRow,
        &[
            sprint(installation, "sprint_created", at(0)),
            sprint(installation, "sprint_started", at(24)),
        ]
    );
    let found = sprints(&client, &scope(installation, "UTC")).await.unwrap();
    let committed = found.sprints[0].committed.as_ref().unwrap();
    assert_eq!(committed.count, 1, "{found:?}");
    assert_eq!(committed.issues[0].issue_key, "SEC-1");
}
