//! The single-event feed and detail against the real ClickHouse, with every delivery stored
//! twice: pages cover each delivery exactly once, newest first; filters narrow; another
//! organization's event is not found.

mod support;

use chrono::{TimeZone, Utc};
use support::{generate, id, insert};
use test_kit::Stack;
use warehouse::queries::{
    FeedFilters, Filters, Scope, Visibility, event, event_at, export, feed, trends, weekly_rates,
};

fn scope(installations: &[&str]) -> Scope {
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    Scope {
        installations: installations.iter().map(|name| id(name)).collect(),
        from: start,
        to: start + chrono::Duration::days(40),
        time_zone: "UTC".into(),
        filters: Filters::default(),
        visibility: Default::default(),
    }
}

#[tokio::test]
async fn paging_the_feed_returns_each_delivery_once_newest_first() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated = generate(start, &["inst-a", "inst-b"]);
    insert(&client, &generated).await;
    insert(&client, &generated).await;

    let scope = scope(&["inst-a"]);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = feed(
            &client,
            &scope,
            &FeedFilters::default(),
            cursor.as_ref(),
            37,
        )
        .await
        .unwrap();
        seen.extend(
            page.events
                .iter()
                .map(|e| (e.occurred_at_ms, e.delivery_id.clone())),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut want: Vec<(i64, String)> = generated
        .events
        .iter()
        .filter(|e| e.installation_id == id("inst-a"))
        .map(|e| (e.occurred_at_ms, e.delivery_id.clone()))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, want);

    let by_type = feed(
        &client,
        &Scope {
            filters: Filters {
                event_types: vec!["comment_created".into()],
                ..Filters::default()
            },
            ..scope.clone()
        },
        &FeedFilters::default(),
        None,
        500,
    )
    .await
    .unwrap();
    assert!(!by_type.events.is_empty());
    assert!(
        by_type
            .events
            .iter()
            .all(|e| e.event_type == "comment_created")
    );
    assert!(
        by_type.events.iter().all(|e| e.payload.is_empty()),
        "the feed carries no payloads"
    );
}

#[tokio::test]
async fn one_event_comes_with_its_changes_and_only_for_its_organization() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated = generate(start, &["inst-a"]);
    insert(&client, &generated).await;
    insert(&client, &generated).await;
    let with_changes = generated
        .events
        .iter()
        .find(|e| {
            generated
                .changes
                .iter()
                .filter(|c| c.delivery_id == e.delivery_id)
                .count()
                == 2
        })
        .expect("a delivery with two changes");

    let mine = [id("inst-a")];
    let detail = event(
        &client,
        &mine,
        &Visibility::Everything,
        id("inst-a"),
        &with_changes.delivery_id,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&detail.event, with_changes);
    let want: Vec<_> = generated
        .changes
        .iter()
        .filter(|c| c.delivery_id == with_changes.delivery_id)
        .cloned()
        .collect();
    assert_eq!(
        detail.field_changes, want,
        "each change once, in changelog order"
    );

    // Told when it happened, the lookup finds the same, and nothing at another second.
    let at = with_changes.occurred_at_ms;
    let timed = event_at(
        &client,
        &mine,
        &Visibility::Everything,
        id("inst-a"),
        &with_changes.delivery_id,
        at,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(timed, detail);
    assert_eq!(
        event_at(
            &client,
            &mine,
            &Visibility::Everything,
            id("inst-a"),
            &with_changes.delivery_id,
            at + 5_000
        )
        .await
        .unwrap(),
        None
    );

    let theirs = [id("inst-other")];
    assert_eq!(
        event(
            &client,
            &theirs,
            &Visibility::Everything,
            id("inst-a"),
            &with_changes.delivery_id
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(
        event(
            &client,
            &mine,
            &Visibility::Everything,
            id("inst-a"),
            "no-such-delivery"
        )
        .await
        .unwrap(),
        None
    );
}

/// Every number the weekly rates and trends show leads to exactly the deliveries behind it: the
/// feed asked for that week and kind lists as many deliveries as the view counted.
#[tokio::test]
async fn each_weekly_and_trend_count_drills_down_to_its_deliveries() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated = generate(start, &["inst-a", "inst-b"]);
    insert(&client, &generated).await;
    insert(&client, &generated).await;
    let scope = scope(&["inst-a"]);

    let rates = weekly_rates(&client, &scope).await.unwrap();
    let trends = trends(&client, &scope, &["status".to_owned()])
        .await
        .unwrap();
    let mut counted: Vec<(chrono::NaiveDate, String, u64)> = Vec::new();
    for week in &rates.weeks {
        for (kind, n) in &week.counts {
            counted.push((week.start, kind.clone(), *n));
        }
    }
    for week in &trends.weeks {
        counted.push((week.start, "resolved".into(), week.resolved));
        counted.push((week.start, "reopened".into(), week.reopened));
        let status = week.field_changes.get("status").copied().unwrap_or(0);
        counted.push((week.start, "field:status".into(), status));
    }
    assert!(
        counted.iter().filter(|(_, _, n)| *n > 0).count() > 10,
        "the stream fills the views: {counted:?}"
    );
    for (monday, kind, n) in counted {
        let week_start = Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0).unwrap());
        let week = Scope {
            from: week_start.max(scope.from),
            to: (week_start + chrono::Duration::days(7)).min(scope.to),
            ..scope.clone()
        };
        let filters = FeedFilters {
            kind: Some(kind.clone()),
            ..FeedFilters::default()
        };
        let mut rows = export(&client, &week, &filters).unwrap();
        let mut listed = 0u64;
        // Read a day at a time: still newest first across the days, each delivery once.
        let mut previous: Option<(i64, String)> = None;
        while let Some(row) = rows.next().await.unwrap() {
            if kind.starts_with("issue_") && kind != "issue_resolved" {
                assert_eq!(row.event_type, kind, "an event kind lists only its events");
            }
            let this = (row.occurred_at_ms, row.delivery_id.clone());
            if let Some(previous) = &previous {
                assert!(
                    *previous > this,
                    "newest first, once: {previous:?} then {this:?}"
                );
            }
            previous = Some(this);
            listed += 1;
        }
        assert_eq!(listed, n, "the week of {monday}, {kind}");
    }
    assert!(warehouse::queries::is_feed_kind("field:assignee"));
    assert!(!warehouse::queries::is_feed_kind("transition_sideways"));
}
