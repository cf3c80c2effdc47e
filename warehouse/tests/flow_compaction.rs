//! Snapshots of the flow facts against the real ClickHouse: the flow view gives the same
//! numbers whether it reads the facts with FINAL (before any snapshot) or reads the issues not
//! refreshed since from a snapshot, and its cumulative flow from the snapshot's status changes
//! per hour (in whole-hour zones: UTC, Europe/Berlin; Asia/Kolkata reads every segment); an
//! issue refreshed after a snapshot (a reopen that arrives later) counts at once and once, also
//! within the hour a view ends in; a snapshot taken while merges are stopped is as true; old
//! snapshots and stamps are dropped. The numbers themselves are checked against an independent
//! computation in the golden path (`compose/golden-path/src/expected_flow.rs`); here each
//! number from a snapshot is compared with FINAL's.

mod support;

use chrono::{Duration, TimeZone, Utc};
use support::{change, event};
use test_kit::synthetic::{self, LARGE_TENANT, SMALL_TENANT};
use warehouse::{
    flow::compaction::{compact, newest_snapshot},
    queries::{Filters, Flow, Scope, flow::MAX_COMPLETIONS, flow_as_of},
};

/// Events in the generated warehouse: one in two the large tenant's, ten per issue.
const EVENTS: u64 = 40_000;
const WEEKS: i64 = 8;

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn end() -> chrono::DateTime<Utc> {
    start() + Duration::weeks(WEEKS)
}

/// Both tenants with and without a project filter, and the large tenant alone (whose issues a
/// view tells apart by id alone), in each zone.
fn scopes() -> Vec<Scope> {
    let mut scopes = Vec::new();
    for time_zone in ["UTC", "Europe/Berlin", "Asia/Kolkata"] {
        for (installations, projects) in [
            (vec![LARGE_TENANT, SMALL_TENANT], vec![]),
            (vec![LARGE_TENANT, SMALL_TENANT], vec!["P1".to_owned()]),
            (vec![LARGE_TENANT], vec![]),
        ] {
            scopes.push(Scope {
                installations,
                from: start() + Duration::weeks(2),
                to: end() + Duration::weeks(1),
                time_zone: time_zone.into(),
                filters: Filters {
                    projects,
                    ..Filters::default()
                },
                visibility: Default::default(),
            });
        }
    }
    scopes
}

/// The views as of a week after the generated span (the reopens below fall in it), and as of
/// a moment in the hour the reopens begin (half of them before it, half after).
async fn views(client: &clickhouse::Client) -> Vec<Flow> {
    let mut all = Vec::new();
    for as_of in [
        end() + Duration::days(6),
        end() + Duration::days(1) + Duration::minutes(20) + Duration::seconds(30),
    ] {
        for scope in scopes() {
            all.push(
                flow_as_of(client, &scope, as_of.timestamp_millis())
                    .await
                    .unwrap(),
            );
        }
    }
    all
}

/// The view of both tenants' whole span lists the latest [`MAX_COMPLETIONS`] of more
/// completions: the same, by time and key, as the live completions read straight from the
/// facts with FINAL and sorted here.
async fn assert_latest_are_the_latest(client: &clickhouse::Client) {
    let as_of = end() + Duration::days(6);
    let scope = Scope {
        installations: vec![LARGE_TENANT, SMALL_TENANT],
        from: start(),
        to: as_of,
        time_zone: "UTC".into(),
        filters: Filters::default(),
        visibility: Default::default(),
    };
    let flow = flow_as_of(client, &scope, as_of.timestamp_millis())
        .await
        .unwrap();
    let mut all: Vec<(i64, String)> = client
        .query(
            "SELECT done_ms, issue_key FROM (
                 SELECT done_ms, issue_key, live FROM flow_completions FINAL
                 WHERE installation_id IN (?, ?)
             )
             WHERE live = 1 AND done_ms >= ? AND done_ms < ?",
        )
        .bind(LARGE_TENANT.to_string())
        .bind(SMALL_TENANT.to_string())
        .bind(scope.from.timestamp_millis())
        .bind(scope.to.timestamp_millis())
        .fetch_all()
        .await
        .unwrap();
    assert!(all.len() > MAX_COMPLETIONS, "more completions than listed");
    all.sort();
    let expected = &all[all.len() - MAX_COMPLETIONS..];
    let listed: Vec<(i64, String)> = flow
        .completions
        .iter()
        .map(|completion| (completion.done_ms, completion.issue_key.clone()))
        .collect();
    assert_eq!(listed, expected, "the latest completions, oldest first");
    assert_eq!(flow.completions_total, all.len() as u64);
}

/// How many snapshots the snapshot tables hold, each table's count.
async fn snapshots_kept(client: &clickhouse::Client) -> Vec<u64> {
    let mut kept = Vec::new();
    for table in [
        "flow_segments_snapshot",
        "flow_completions_snapshot",
        "flow_status_changes",
    ] {
        kept.push(
            client
                .query(&format!(
                    "SELECT toUInt64(uniqExact(snapshot)) FROM {table}"
                ))
                .fetch_one::<u64>()
                .await
                .unwrap(),
        );
    }
    kept
}

/// A warehouse holding the generated workload, its facts backfilled and merged.
async fn generated(stack: &test_kit::Stack) -> clickhouse::Client {
    let database = stack.fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    synthetic::generate(
        &client,
        EVENTS,
        2,
        start().timestamp_millis(),
        (end() - start()).num_milliseconds(),
    )
    .await
    .unwrap();
    client
}

/// The first issue reopened: the large tenant's issues are spread over the span in order, so
/// this one was done in the middle of it, inside the views' range.
const FIRST_REOPENED: u64 = 1_000;

/// Reopens of `issues` of the large tenant's issues (done within the views' range), in the
/// days after the span, as deliveries the pipeline stores: a move from Done back to In
/// Progress. Their facts are refreshed, as the pipeline does after storing a batch.
async fn reopen(client: &clickhouse::Client, issues: u64) {
    let mut events = Vec::new();
    let mut changes = Vec::new();
    for issue in FIRST_REOPENED..FIRST_REOPENED + issues {
        let at = end() + Duration::days(1) + Duration::minutes((issue - FIRST_REOPENED) as i64);
        let mut row = event(
            "",
            format!("reopen-{issue}"),
            "issue_updated",
            at.timestamp_millis(),
            "P0",
            "indeterminate",
        );
        row.installation_id = LARGE_TENANT;
        row.issue_id = issue.to_string();
        row.issue_key = format!("P0-{issue}");
        row.issue_type = if issue % 5 == 0 { "Bug" } else { "Task" }.into();
        row.status = "In Progress".into();
        changes.push(change(&row, 0, "status", "Done", "In Progress"));
        events.push(row);
    }
    support::insert(
        client,
        &support::Generated {
            events: events.clone(),
            changes,
        },
    )
    .await;
    let keys: Vec<warehouse::flow::IssueKey> = events
        .iter()
        .map(|row| (row.installation_id, row.issue_id.clone()))
        .collect();
    let refreshed = warehouse::flow::refresh(client, &keys).await.unwrap();
    assert_eq!(
        refreshed.issues, issues,
        "each reopened issue's facts change"
    );
}

async fn merges(client: &clickhouse::Client, action: &str) {
    support::on_each_table(
        client,
        &format!("SYSTEM {action} MERGES {{table}}"),
        &["flow_segments", "flow_completions"],
    )
    .await;
}

#[tokio::test]
async fn snapshots_give_finals_numbers_and_a_later_refresh_counts_once() {
    let stack = test_kit::Stack::from_env();
    let client = generated(&stack).await;
    assert_eq!(newest_snapshot(&client).await.unwrap(), None);
    let with_final = views(&client).await;
    assert_latest_are_the_latest(&client).await;
    assert!(
        with_final[0].completions_total > 0 && !with_final[0].days.is_empty(),
        "the generated span completes issues in the range"
    );

    let first = compact(&client).await.unwrap();
    assert_eq!(newest_snapshot(&client).await.unwrap(), Some(first));
    let changes: u64 = client
        .query("SELECT toUInt64(count()) FROM flow_status_changes WHERE snapshot = ?")
        .bind(first.id)
        .fetch_one()
        .await
        .unwrap();
    assert!(changes > 0, "the snapshot's status changes are counted");
    assert_eq!(
        views(&client).await,
        with_final,
        "a snapshot and its status changes give FINAL's numbers"
    );
    assert_latest_are_the_latest(&client).await;

    // Background merges would fold a refreshed issue's old version away before a view reads
    // it; the view must pick the newest itself.
    merges(&client, "STOP").await;
    reopen(&client, 40).await;
    let reopened = views(&client).await;
    assert_ne!(reopened, with_final, "the reopens count");
    assert_latest_are_the_latest(&client).await;
    let never_compacted = generated(&stack).await;
    reopen(&never_compacted, 40).await;
    assert_eq!(
        reopened,
        views(&never_compacted).await,
        "an issue refreshed after the snapshot is read from its current facts, once"
    );

    // A snapshot copies the newest version of each fact, merged or not.
    let second = compact(&client).await.unwrap();
    assert!(second.id > first.id);
    assert_eq!(
        views(&client).await,
        reopened,
        "the reopens, in a snapshot taken with merges stopped"
    );
    merges(&client, "START").await;

    // Stamps from before yesterday are of no use to any reader once a snapshot is recorded.
    client
        .query(
            "INSERT INTO flow_refreshes (installation_id, issue_id, refreshed_at)
             SELECT 'old', toString(number), now() - 86400 * (number + 1) FROM numbers(3)",
        )
        .execute()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let third = compact(&client).await.unwrap();
    assert!(third.started_at > first.started_at);
    let old_stamps: Vec<String> = client
        .query(
            "SELECT issue_id FROM flow_refreshes WHERE installation_id = 'old' ORDER BY issue_id",
        )
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(old_stamps, ["0"], "the days before yesterday are dropped");
    assert_eq!(
        snapshots_kept(&client).await,
        [2, 2, 2],
        "the newest snapshot and the one before it are kept"
    );
    assert_eq!(views(&client).await, reopened, "the reopens, in the newest");
}
