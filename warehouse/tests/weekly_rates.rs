//! Weekly rates over a generated stream, against the real ClickHouse, compared with counts
//! computed here independently from the same events; duplicates (retries, replays) included.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use service_kit::testing::Stack;
use warehouse::{
    EventRow, FieldChangeRow,
    queries::{Filters, Scope, weekly_rates},
};

struct Generated {
    events: Vec<EventRow>,
    changes: Vec<FieldChangeRow>,
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn event(
    installation: &str,
    delivery: String,
    kind: &str,
    at_ms: i64,
    project: &str,
    category: &str,
) -> EventRow {
    EventRow {
        installation_id: installation.into(),
        delivery_id: delivery,
        source: "connect".into(),
        family: if kind.starts_with("comment") {
            "comment"
        } else {
            "issue"
        }
        .into(),
        event_type: kind.into(),
        occurred_at_ms: at_ms,
        received_at_ms: at_ms + 100,
        project_id: "1".into(),
        project_key: project.into(),
        issue_id: "10".into(),
        issue_key: format!("{project}-1"),
        issue_type: "Bug".into(),
        status: String::new(),
        status_category: category.into(),
        priority: "High".into(),
        actor_account_id: "u".into(),
        payload: "{}".into(),
    }
}

fn change(event: &EventRow, index: u16, field: &str, from: &str, to: &str) -> FieldChangeRow {
    FieldChangeRow {
        installation_id: event.installation_id.clone(),
        delivery_id: event.delivery_id.clone(),
        item_index: index,
        occurred_at_ms: event.occurred_at_ms,
        project_key: event.project_key.clone(),
        issue_id: event.issue_id.clone(),
        issue_key: event.issue_key.clone(),
        issue_type: event.issue_type.clone(),
        field: field.into(),
        field_id: field.into(),
        from_value: from.into(),
        to_value: to.into(),
        from_string: from.into(),
        to_string: to.into(),
    }
}

fn generate(start: DateTime<Utc>, installations: &[&str]) -> Generated {
    let mut rng = Lcg(42);
    let mut events = Vec::new();
    let mut changes = Vec::new();
    for n in 0..600 {
        let installation = installations[rng.next(installations.len() as u64) as usize];
        let at = start.timestamp_millis() + rng.next(35 * 24 * 3600 * 1000) as i64;
        let project = ["SEC", "OPS"][rng.next(2) as usize];
        let kind = [
            "issue_created",
            "issue_updated",
            "issue_updated",
            "issue_deleted",
            "comment_created",
        ][rng.next(5) as usize];
        let category = if kind == "issue_updated" {
            ["new", "indeterminate", "done"][rng.next(3) as usize]
        } else {
            ""
        };
        let row = event(installation, format!("d{n}"), kind, at, project, category);
        if kind == "issue_updated" {
            match rng.next(3) {
                0 => changes.push(change(&row, 0, "status", "1", "2")),
                1 => {
                    changes.push(change(&row, 0, "status", "1", "3"));
                    changes.push(change(&row, 1, "resolution", "", "10000"));
                }
                _ => changes.push(change(&row, 0, "priority", "3", "1")),
            }
        }
        events.push(row);
    }
    Generated { events, changes }
}

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

async fn insert(client: &clickhouse::Client, generated: &Generated) {
    let mut insert = client.insert::<EventRow>("events").await.unwrap();
    for row in &generated.events {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client
        .insert::<FieldChangeRow>("field_changes")
        .await
        .unwrap();
    for row in &generated.changes {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
}

#[tokio::test]
async fn weekly_rates_equal_an_independent_count_and_ignore_duplicates() {
    let client = Stack::from_env().fresh_clickhouse().await.client();
    warehouse::migrate(&client).await.unwrap();
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated = generate(start, &["inst-a", "inst-b", "inst-other-org"]);
    insert(&client, &generated).await;
    // Every delivery again: what a Jira retry or a replayed topic does.
    insert(&client, &generated).await;

    for (time_zone, offset_secs) in [("UTC", 0), ("Asia/Kolkata", 5 * 3600 + 1800)] {
        for projects in [vec![], vec!["SEC".to_owned()]] {
            let scope = Scope {
                installations: vec!["inst-a".into(), "inst-b".into()],
                from: start + chrono::Duration::days(3),
                to: start + chrono::Duration::days(31),
                time_zone: time_zone.into(),
                filters: Filters {
                    projects: projects.clone(),
                    ..Filters::default()
                },
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
    let client = Stack::from_env().fresh_clickhouse().await.client();
    let now = Utc::now();
    let scope = |installations: Vec<String>, tz: &str, days: i64| Scope {
        installations,
        from: now,
        to: now + chrono::Duration::days(days),
        time_zone: tz.into(),
        filters: Filters::default(),
    };
    let cases = [
        (scope(vec![], "UTC", 7), "no installation"),
        (scope(vec!["a".into()], "UTC', 'x", 7), "not a time zone"),
        (scope(vec!["a".into()], "UTC", -1), "ends before"),
    ];
    for (scope, message) in cases {
        let err = weekly_rates(&client, &scope).await.unwrap_err();
        assert!(err.to_string().contains(message), "{err}");
    }
}
