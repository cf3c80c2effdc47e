//! Weekly rates over a generated stream, against the real ClickHouse, compared with counts
//! computed here independently from the same events; duplicates (retries, replays) included.

use std::collections::{BTreeMap, HashSet};

mod support;

use chrono::{Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use support::{Generated, generate, id, insert};
use test_kit::Stack;
use warehouse::{
    EventRow,
    queries::{Filters, Scope, weekly_rates},
};

fn expected(
    generated: &Generated,
    scope: &Scope,
    offset: FixedOffset,
) -> BTreeMap<(NaiveDate, String), u64> {
    let in_scope = |e: &EventRow| {
        scope.installations.contains(&e.installation_id)
            && e.occurred_at_ms >= scope.from.timestamp_millis()
            && e.occurred_at_ms < scope.to.timestamp_millis()
            && (scope.filters.projects.is_empty()
                || scope.filters.projects.contains(&e.project_key))
    };
    let week_of = |ms: i64| {
        let local = offset.timestamp_millis_opt(ms).unwrap().date_naive();
        local - Days::new(u64::from(local.weekday().num_days_from_monday()))
    };
    let mut counts: BTreeMap<(NaiveDate, String), HashSet<String>> = BTreeMap::new();
    for e in generated.events.iter().filter(|e| in_scope(e)) {
        let mut kinds = Vec::new();
        if [
            "issue_created",
            "issue_updated",
            "issue_deleted",
            "comment_created",
        ]
        .contains(&e.event_type.as_str())
        {
            kinds.push(e.event_type.clone());
        }
        let mine = generated
            .changes
            .iter()
            .filter(|c| c.delivery_id == e.delivery_id);
        for c in mine {
            if c.field == "resolution" && c.from_value.is_empty() && !c.to_value.is_empty() {
                kinds.push("issue_resolved".into());
            }
            if c.field == "status" && !e.status_category.is_empty() {
                kinds.push(format!("transition_{}", e.status_category));
            }
        }
        for kind in kinds {
            counts
                .entry((week_of(e.occurred_at_ms), kind))
                .or_default()
                .insert(e.delivery_id.clone());
        }
    }
    counts
        .into_iter()
        .map(|(key, set)| (key, set.len() as u64))
        .collect()
}

#[tokio::test]
async fn weekly_rates_equal_an_independent_count_and_ignore_duplicates() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated = generate(start, &["inst-a", "inst-b", "inst-other-org"]);
    insert(&client, &generated).await;
    // Every delivery again: what a Jira retry or a replayed topic does.
    insert(&client, &generated).await;

    for (time_zone, offset_secs) in [("UTC", 0), ("Asia/Kolkata", 5 * 3600 + 1800)] {
        for projects in [vec![], vec!["SEC".to_owned()]] {
            let scope = Scope {
                installations: vec![id("inst-a"), id("inst-b")],
                from: start + chrono::Duration::days(3),
                to: start + chrono::Duration::days(31),
                time_zone: time_zone.into(),
                filters: Filters {
                    projects: projects.clone(),
                    ..Filters::default()
                },
                visibility: Default::default(),
            };
            let rates = weekly_rates(&client, &scope).await.unwrap();
            let want = expected(
                &generated,
                &scope,
                FixedOffset::east_opt(offset_secs).unwrap(),
            );
            let mut got = BTreeMap::new();
            for week in &rates.weeks {
                assert_eq!(week.start.weekday(), chrono::Weekday::Mon);
                for (kind, count) in &week.counts {
                    if *count > 0 {
                        got.insert((week.start, kind.clone()), *count);
                    }
                }
            }
            assert_eq!(got, want, "{time_zone}, projects {projects:?}");
            // Days of data: from the scope's first event ever (in the viewer's zone) to today.
            let offset = FixedOffset::east_opt(offset_secs).unwrap();
            let first_ms = generated
                .events
                .iter()
                .filter(|e| scope.installations.contains(&e.installation_id))
                .map(|e| e.occurred_at_ms)
                .min()
                .unwrap();
            let first_day = offset.timestamp_millis_opt(first_ms).unwrap().date_naive();
            for week in &rates.weeks {
                let want = (0..7)
                    .map(|d| week.start + Days::new(d))
                    .filter(|day| *day >= first_day)
                    .count() as u8;
                assert_eq!(week.days_with_data, want, "week of {}", week.start);
                assert_eq!(week.is_partial(), want < 7);
            }
        }
    }
}

#[tokio::test]
async fn a_bad_scope_is_refused_before_any_query() {
    let database = Stack::from_env().fresh_clickhouse().await;
    let client = database.client();
    let now = Utc::now();
    let scope = |installations: Vec<contracts::InstallationId>, tz: &str, days: i64| Scope {
        installations,
        from: now,
        to: now + chrono::Duration::days(days),
        time_zone: tz.into(),
        filters: Filters::default(),
        visibility: Default::default(),
    };
    let cases = [
        (scope(vec![], "UTC", 7), "no installation"),
        (scope(vec![id("a")], "UTC', 'x", 7), "not a time zone"),
        (scope(vec![id("a")], "UTC", -1), "ends before"),
    ];
    for (scope, message) in cases {
        let err = weekly_rates(&client, &scope).await.unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
}
