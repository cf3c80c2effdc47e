//! Trends over a small hand-made history whose numbers are worked out below, with every
//! delivery stored twice and another organization's events beside it.

mod support;

use chrono::{NaiveDate, TimeZone, Utc};
use support::{Generated, change, event, id, insert};
use test_kit::Stack;
use warehouse::queries::{Filters, Scope, trends};

fn at(day: u32, hour: u32) -> i64 {
    Utc.with_ymd_and_hms(2026, 9, day, hour, 0, 0)
        .unwrap()
        .timestamp_millis()
}

fn history(installation: &str) -> Generated {
    let mut events = Vec::new();
    let mut changes = Vec::new();
    let mut created = |issue: &str, ms: i64| {
        let mut row = event(
            installation,
            format!("{installation}-created-{issue}"),
            "issue_created",
            ms,
            "SEC",
            "new",
        );
        row.issue_id = issue.into();
        events.push(row);
    };
    created("1", at(7, 10));
    created("2", at(8, 0));
    created("3", at(8, 12));
    let mut update = |delivery: &str, issue: &str, ms: i64, field: &str, from: &str, to: &str| {
        let mut row = event(
            installation,
            format!("{installation}-{delivery}"),
            "issue_updated",
            ms,
            "SEC",
            "done",
        );
        row.issue_id = issue.into();
        changes.push(change(&row, 0, field, from, to));
        events.push(row);
    };
    update("resolve-1", "1", at(9, 10), "resolution", "", "10000");
    update("resolve-4", "4", at(10, 9), "resolution", "", "10000"); // created before we connected
    update("assign-3", "3", at(8, 13), "assignee", "", "712020:bob");
    update("resolve-2", "2", at(14, 12), "resolution", "", "10000");
    update("reopen-2", "2", at(15, 8), "resolution", "10000", "");
    update("priority-3", "3", at(16, 8), "priority", "3", "1");
    update("resolve-2-again", "2", at(17, 0), "resolution", "", "10001");
    Generated { events, changes }
}

#[tokio::test]
async fn trends_match_the_worked_example_and_ignore_duplicates() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let mine = history("inst-a");
    insert(&client, &mine).await;
    insert(&client, &mine).await;
    insert(&client, &history("inst-other-org")).await;

    let scope = Scope {
        installations: vec![id("inst-a")],
        from: Utc.with_ymd_and_hms(2026, 9, 7, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 9, 21, 0, 0, 0).unwrap(),
        time_zone: "UTC".into(),
        filters: Filters::default(),
        visibility: Default::default(),
    };
    let fields = vec!["assignee".to_owned(), "priority".to_owned()];
    let result = trends(&client, &scope, &fields).await.unwrap();
    assert_eq!(result.weeks.len(), 2);
    let (first, second) = (&result.weeks[0], &result.weeks[1]);

    assert_eq!(first.start, NaiveDate::from_ymd_opt(2026, 9, 7).unwrap());
    assert_eq!((first.created, first.resolved, first.reopened), (3, 2, 0));
    assert_eq!(first.backlog, 1, "3 created − 2 resolved");
    assert_eq!(
        first.median_hours_to_resolution,
        Some(48.0),
        "only issue 1's creation is known"
    );
    assert_eq!(first.field_changes["assignee"], 1);
    assert_eq!(first.field_changes["priority"], 0);

    assert_eq!(second.start, NaiveDate::from_ymd_opt(2026, 9, 14).unwrap());
    assert_eq!(
        (second.created, second.resolved, second.reopened),
        (0, 2, 1)
    );
    assert_eq!(second.backlog, 0, "1 − 2 resolved + 1 reopened");
    // Issue 2 resolved after 156 h and again after 216 h: the upper middle of two is 216.
    assert_eq!(second.median_hours_to_resolution, Some(216.0));
    assert_eq!(second.field_changes["priority"], 1);
    assert_eq!(second.field_changes["assignee"], 0);
}
