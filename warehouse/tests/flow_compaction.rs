//! Compacted flow facts against the real ClickHouse: the flow view gives the same numbers
//! whether it reads the facts with FINAL (before any compaction) or reads the compacted issues
//! without it; an issue refreshed after a compaction (a reopen that arrives later) counts at
//! once and once; a compaction that cannot merge records nothing. The numbers
//! themselves are checked against an independent computation in the golden path
//! (`compose/golden-path/src/expected_flow.rs`); here each compacted number is compared with
//! FINAL's.

mod support;

use chrono::{Duration, TimeZone, Utc};
use support::{change, event};
use test_kit::synthetic::{self, LARGE_TENANT, SMALL_TENANT};
use warehouse::{
    flow::compaction::{Compaction, compact, compacted_at},
    queries::{Filters, Flow, Scope, flow_as_of},
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

fn scopes() -> Vec<Scope> {
    let mut scopes = Vec::new();
    for time_zone in ["UTC", "Asia/Kolkata"] {
        for projects in [vec![], vec!["P1".to_owned()]] {
            scopes.push(Scope {
                installations: vec![LARGE_TENANT, SMALL_TENANT],
                from: start() + Duration::weeks(2),
                to: end() + Duration::weeks(1),
                time_zone: time_zone.into(),
                filters: Filters {
                    projects,
                    ..Filters::default()
                },
            });
        }
    }
    scopes
}

/// The views as of a week after the generated span (the reopens below fall in it).
async fn views(client: &clickhouse::Client) -> Vec<Flow> {
    let as_of = (end() + Duration::days(6)).timestamp_millis();
    let mut all = Vec::new();
    for scope in scopes() {
        all.push(flow_as_of(client, &scope, as_of).await.unwrap());
    }
    all
}

/// A warehouse holding the generated workload, its facts backfilled and merged.
async fn generated(stack: &test_kit::Stack) -> clickhouse::Client {
    let client = stack.fresh_clickhouse().await.client();
    warehouse::migrate(&client).await.unwrap();
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

/// Reopens of the large tenant's first `issues` issues (done within the span), in the days
/// after it, as deliveries the pipeline stores: a move from Done back to In Progress. Their
/// facts are refreshed, as the pipeline does after storing a batch.
async fn reopen(client: &clickhouse::Client, issues: u64) {
    let mut events = Vec::new();
    let mut changes = Vec::new();
    for issue in 0..issues {
        let at = end() + Duration::days(1) + Duration::minutes(issue as i64);
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
async fn compacted_facts_give_finals_numbers_and_a_later_refresh_counts_once() {
    let stack = test_kit::Stack::from_env();
    let client = generated(&stack).await;
    assert_eq!(compacted_at(&client).await.unwrap(), None);
    let with_final = views(&client).await;
    assert!(
        with_final[0].completions_total > 0 && !with_final[0].days.is_empty(),
        "the generated span completes issues in the range"
    );

    let Compaction::Recorded { started_at } = compact(&client).await.unwrap() else {
        panic!("nothing else writes: the compaction leaves no older part");
    };
    assert_eq!(compacted_at(&client).await.unwrap(), Some(started_at));
    assert_eq!(
        views(&client).await,
        with_final,
        "compacted facts read without FINAL give FINAL's numbers"
    );

    // Background merges would fold a refreshed issue's old version away before a view reads
    // it; the view must pick the newest itself.
    merges(&client, "STOP").await;
    reopen(&client, 40).await;
    let reopened = views(&client).await;
    assert_ne!(reopened, with_final, "the reopens count");
    let never_compacted = generated(&stack).await;
    reopen(&never_compacted, 40).await;
    assert_eq!(
        reopened,
        views(&never_compacted).await,
        "an issue refreshed after the compaction is read with FINAL, once"
    );

    // With merges stopped, the refreshes' parts stay beside the compacted one: ClickHouse
    // refuses the merge, and nothing is recorded.
    assert!(compact(&client).await.is_err(), "merges are stopped");
    assert_eq!(
        compacted_at(&client).await.unwrap(),
        Some(started_at),
        "a compaction that did not merge is not recorded"
    );
    merges(&client, "START").await;
    // Stamps from before yesterday are of no use to any reader once a compaction is recorded.
    client
        .query(
            "INSERT INTO flow_refreshes (installation_id, issue_id, refreshed_at)
             SELECT 'old', toString(number), now() - 86400 * (number + 1) FROM numbers(3)",
        )
        .execute()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let Compaction::Recorded { started_at: later } = compact(&client).await.unwrap() else {
        panic!("merges run again: the compaction leaves no older part");
    };
    assert!(later > started_at);
    let old_stamps: Vec<String> = client
        .query(
            "SELECT issue_id FROM flow_refreshes WHERE installation_id = 'old' ORDER BY issue_id",
        )
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(old_stamps, ["0"], "the days before yesterday are dropped");
    assert_eq!(views(&client).await, reopened, "the reopens, compacted");
}
