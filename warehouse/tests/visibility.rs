//! Views limited to what one Jira account may see, against the real ClickHouse: a scope whose
//! visibility permits some projects per installation, and of the issues to check only those Jira
//! granted, gives exactly the numbers of a warehouse that never held the rest. The second
//! warehouse is built from the first by inserting only the rows that account may see (its
//! rollups filled by their own materialized views, its flow facts backfilled as the pipeline
//! does), so every view — weekly rates, trends, flow, the feed and the export — is checked
//! against the same view over data without what is hidden, not against the filter's own SQL.
//! Also: the projects events name, an event under a security level, and an issue moved between
//! projects are recorded as they are stored, for the resolver to ask Jira about.

mod support;

use chrono::{Duration, TimeZone, Utc};
use contracts::InstallationId;
use support::{change, event};
use test_kit::synthetic::{self, LARGE_TENANT, SMALL_TENANT};
use warehouse::{
    flow::compaction::compact,
    queries::{
        FeedFilters, Filters, IssueToAsk, Permitted, Scope, Visibility, candidate_counts, feed,
        flow_as_of, record_grants, trends, weekly_rates,
    },
};

const EVENTS: u64 = 20_000;
const WEEKS: i64 = 6;

/// The generated columns, and each issue's one project.
const EVENT_COLUMNS: &str = "installation_id, delivery_id, source, family, event_type, \
    occurred_at_ms, received_at_ms, project_id, project_key, issue_id, issue_key, issue_type, \
    status, status_category, priority, actor_account_id, payload";
const CHANGE_COLUMNS: &str = "installation_id, delivery_id, item_index, occurred_at_ms, \
    project_key, issue_id, issue_key, issue_type, field, field_id, from_value, to_value, \
    from_string, to_string, status_category";
const PROJECT_ID: &str = "toString(10000 + toUInt64(issue_id) % 4)";
const PROJECT_KEY: &str = "concat('P', toString(toUInt64(issue_id) % 4))";
const ISSUE_KEY: &str = "concat('P', toString(toUInt64(issue_id) % 4), '-', issue_id)";

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn end() -> chrono::DateTime<Utc> {
    start() + Duration::weeks(WEEKS)
}

/// The projects the account may browse: three of four in the large tenant, one in the small.
fn browsable(installation: InstallationId) -> &'static [&'static str] {
    if installation == LARGE_TENANT {
        &["P0", "P1", "P2"]
    } else {
        &["P0"]
    }
}

/// Issues to check: every eleventh; of them Jira grants every other one.
const MARKED: &str = "toUInt64(issue_id) % 11 = 0";
const GRANTED: &str = "toUInt64(issue_id) % 22 = 0";

/// What the account may see of a row, in SQL over the generated tables' own columns.
fn visible_sql() -> String {
    let projects = |installation: InstallationId| {
        browsable(installation)
            .iter()
            .map(|key| format!("'{key}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "((installation_id = '{large}' AND project_key IN ({large_projects}))
          OR (installation_id = '{small}' AND project_key IN ({small_projects})))
         AND NOT ({MARKED} AND NOT {GRANTED})",
        large = LARGE_TENANT,
        small = SMALL_TENANT,
        large_projects = projects(LARGE_TENANT),
        small_projects = projects(SMALL_TENANT),
    )
}

async fn fresh(stack: &test_kit::Stack) -> (clickhouse::Client, String) {
    let config = stack.fresh_clickhouse().await;
    let client = config.client();
    warehouse::migrate(&config).await.unwrap();
    (client, config.database)
}

fn scope(time_zone: &str, visibility: Visibility) -> Scope {
    Scope {
        installations: vec![LARGE_TENANT, SMALL_TENANT],
        from: start() + Duration::days(3),
        to: end() + Duration::days(1),
        time_zone: time_zone.into(),
        filters: Filters::default(),
        visibility,
    }
}

/// [`scope`] of the large tenant alone, whose rows the visibility keys without the installation.
fn large_scope(time_zone: &str, visibility: Visibility) -> Scope {
    Scope {
        installations: vec![LARGE_TENANT],
        from: start() + Duration::days(3),
        to: end() + Duration::days(1),
        time_zone: time_zone.into(),
        filters: Filters::default(),
        visibility,
    }
}

const ACCOUNT: &str = "712020:5f0c2a1e-0000-4000-8000-000000000001";

/// The account's visibility as the resolver builds it from Jira's answers: the answers about
/// the issues to check recorded in the warehouse, where the views read them.
async fn permitted(client: &clickhouse::Client) -> Permitted {
    let projects = [LARGE_TENANT, SMALL_TENANT]
        .into_iter()
        .flat_map(|installation| {
            browsable(installation)
                .iter()
                .map(move |key| (installation, (*key).to_owned()))
        });
    let marked: Vec<(InstallationId, String)> = client
        .query("SELECT installation_id, issue_id FROM issues_to_check")
        .fetch_all::<IssueToAsk>()
        .await
        .unwrap()
        .into_iter()
        .map(|issue| (issue.installation_id, issue.issue_id))
        .collect();
    let is_granted = |issue: &str| issue.parse::<u64>().unwrap() % 22 == 0;
    for installation in [LARGE_TENANT, SMALL_TENANT] {
        let answers: Vec<(String, bool)> = marked
            .iter()
            .filter(|(of, _)| *of == installation)
            .map(|(_, issue)| (issue.clone(), is_granted(issue)))
            .collect();
        // Jira first granted them all; the newest answer is what counts, and only a changed
        // answer is written again.
        let all: Vec<(String, bool)> = answers
            .iter()
            .map(|(issue, _)| (issue.clone(), true))
            .collect();
        let record = |answers: Vec<(String, bool)>, at: i64| async move {
            record_grants(client, installation, ACCOUNT, &answers, at)
                .await
                .unwrap()
        };
        assert_eq!(record(all, 1).await, answers.len());
        let denied = answers.iter().filter(|(_, granted)| !granted).count();
        assert_eq!(record(answers.clone(), 2).await, denied);
        assert_eq!(record(answers, 3).await, 0, "nothing changed");
    }
    let granted: Vec<(InstallationId, String)> = marked
        .iter()
        .filter(|(_, issue)| is_granted(issue))
        .cloned()
        .collect();
    Permitted::new(ACCOUNT, projects, marked, granted)
}

/// Every delivery of the export, newest first, by id.
async fn exported(client: &clickhouse::Client, scope: &Scope) -> Vec<String> {
    let mut export = warehouse::queries::export(client, scope, &FeedFilters::default()).unwrap();
    let mut ids = Vec::new();
    while let Some(row) = export.next().await.unwrap() {
        ids.push(row.delivery_id);
    }
    ids
}

#[tokio::test]
async fn a_limited_view_equals_the_view_of_a_warehouse_without_what_is_hidden() {
    let stack = test_kit::Stack::from_env();
    // The synthetic workload moves each issue across projects event by event; here an issue
    // stays in one project, as Jira's do unless moved (and a moved issue is one to check).
    let (generated, generated_db) = fresh(&stack).await;
    synthetic::generate(
        &generated,
        EVENTS,
        2,
        start().timestamp_millis(),
        (end() - start()).num_milliseconds(),
    )
    .await
    .unwrap();
    let (whole, whole_db) = fresh(&stack).await;
    for (table, columns) in [("events", EVENT_COLUMNS), ("field_changes", CHANGE_COLUMNS)] {
        let settled = columns
            .replace("project_id", PROJECT_ID)
            .replace("project_key", PROJECT_KEY)
            .replace("issue_key", ISSUE_KEY);
        whole
            .query(&format!(
                "INSERT INTO {table} ({columns}) SELECT {settled} FROM {generated_db}.{table}"
            ))
            .execute()
            .await
            .unwrap();
    }
    warehouse::flow::refresh_all(&whole).await.unwrap();
    // The issues to check, as the materialized views would have marked them had the generated
    // events carried security levels.
    whole
        .query(&format!(
            "INSERT INTO issues_to_check
             SELECT DISTINCT installation_id, issue_id, toInt64(1) FROM events WHERE {MARKED}"
        ))
        .execute()
        .await
        .unwrap();

    let (seen, _) = fresh(&stack).await;
    for table in ["events", "field_changes"] {
        seen.query(&format!(
            "INSERT INTO {table} SELECT * FROM {whole_db}.{table} WHERE {}",
            visible_sql()
        ))
        .execute()
        .await
        .unwrap();
    }
    warehouse::flow::refresh_all(&seen).await.unwrap();
    let hidden: u64 = whole
        .query(&format!(
            "SELECT toUInt64(countIf(NOT ({}))) FROM events",
            visible_sql()
        ))
        .fetch_one()
        .await
        .unwrap();
    assert!(
        hidden > EVENTS / 4,
        "a good part is hidden: {hidden} of {EVENTS}"
    );

    let permitted = permitted(&whole).await;
    assert!(
        permitted.sizes().1 > 100,
        "issues to check: {:?}",
        permitted.sizes()
    );
    for compacted in [false, true] {
        if compacted {
            compact(&whole).await.unwrap();
            compact(&seen).await.unwrap();
        }
        for (time_zone, of) in [
            ("UTC", scope as fn(&str, Visibility) -> Scope),
            ("Asia/Kolkata", scope),
            ("Europe/Berlin", large_scope),
        ] {
            let limited = of(time_zone, Visibility::Permitted(permitted.clone()));
            let plain = of(time_zone, Visibility::Everything);
            let context = format!(
                "{time_zone}, {} installations, compacted: {compacted}",
                limited.installations.len()
            );
            assert_eq!(
                weekly_rates(&whole, &limited).await.unwrap(),
                weekly_rates(&seen, &plain).await.unwrap(),
                "weekly rates, {context}"
            );
            assert_ne!(
                weekly_rates(&whole, &limited).await.unwrap(),
                weekly_rates(&whole, &plain).await.unwrap(),
                "the limit changes the numbers, {context}"
            );
            let fields = ["status".to_owned(), "assignee".to_owned()];
            assert_eq!(
                trends(&whole, &limited, &fields).await.unwrap(),
                trends(&seen, &plain, &fields).await.unwrap(),
                "trends, {context}"
            );
            let as_of = (end() + Duration::days(1)).timestamp_millis();
            let (got, want) = (
                flow_as_of(&whole, &limited, as_of).await.unwrap(),
                flow_as_of(&seen, &plain, as_of).await.unwrap(),
            );
            // Part by part first, so a failure names the part.
            assert_eq!(got.weeks, want.weeks, "flow weeks, {context}");
            assert_eq!(got.completions, want.completions, "completions, {context}");
            assert_eq!(got.projects, want.projects, "flow by project, {context}");
            assert_eq!(got.work_items, want.work_items, "work items, {context}");
            assert_eq!(got.days, want.days, "cumulative flow, {context}");
            assert_eq!(got.statuses, want.statuses, "time in status, {context}");
            assert_eq!(got, want, "flow, {context}");
            let first_page = |client: clickhouse::Client, scope: Scope| async move {
                feed(&client, &scope, &FeedFilters::default(), None, 200)
                    .await
                    .unwrap()
                    .events
                    .into_iter()
                    .map(|event| event.delivery_id)
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                first_page(whole.clone(), limited.clone()).await,
                first_page(seen.clone(), plain.clone()).await,
                "the feed's first page, {context}"
            );
            assert_eq!(
                exported(&whole, &limited).await,
                exported(&seen, &plain).await,
                "the export, {context}"
            );
        }
    }

    // Nothing permitted is nothing shown, not everything.
    let nothing = scope(
        "UTC",
        Visibility::Permitted(Permitted::new(ACCOUNT, [], [], [])),
    );
    assert!(exported(&whole, &nothing).await.is_empty());
    let rates = weekly_rates(&whole, &nothing).await.unwrap();
    assert!(
        rates
            .weeks
            .iter()
            .all(|week| week.counts.values().all(|n| *n == 0)),
        "{rates:?}"
    );
}

#[tokio::test]
async fn projects_and_secured_or_moved_issues_are_recorded_as_they_are_stored() {
    let stack = test_kit::Stack::from_env();
    let (client, _) = fresh(&stack).await;
    let installation = LARGE_TENANT;
    let at = start().timestamp_millis();
    let row = |delivery: &str, issue: &str, level: &str| {
        let mut row = event("", delivery.to_owned(), "issue_updated", at, "P0", "new");
        row.installation_id = installation;
        row.issue_id = issue.to_owned();
        row.security_level = level.to_owned();
        row
    };
    let secured = row("d-1", "501", "10100");
    let plain = row("d-2", "502", "");
    let moved = row("d-3", "503", "");
    let renamed = row("d-4", "504", "");
    let changes = vec![
        change(&moved, 0, "project", "P0", "P1"),
        change(&renamed, 0, "Key", "P0-504", "P1-9"),
        change(&plain, 0, "status", "To Do", "In Progress"),
    ];
    support::insert(
        &client,
        &support::Generated {
            events: vec![secured, plain, moved, renamed],
            changes,
        },
    )
    .await;
    let mut marked: Vec<String> = client
        .query("SELECT DISTINCT issue_id FROM issues_to_check ORDER BY issue_id")
        .fetch_all()
        .await
        .unwrap();
    marked.sort();
    assert_eq!(marked, ["501", "503", "504"]);
    let counts = candidate_counts(&client, &[installation]).await.unwrap();
    assert_eq!(
        (counts.projects, counts.issues),
        (1, 3),
        "P0 by its id, three issues"
    );
    let counts = candidate_counts(&client, &[SMALL_TENANT]).await.unwrap();
    assert_eq!((counts.projects, counts.issues), (0, 0));
}
