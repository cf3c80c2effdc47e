//! Sealed hours against the real ClickHouse: the weekly-rates and trends views give the same
//! numbers whether an hour is read from its sets of delivery ids or from its seal, a delivery
//! that arrives after its hour was sealed (and its copy) counts at once, and the views really
//! read the seals, including a resolution whose issue's creation arrives after its hour was
//! sealed. The sets' numbers are checked against an independent count in
//! `weekly_rates.rs` and `trends.rs`; here each sealed number is compared with them.

mod support;

use chrono::{Duration, TimeZone, Utc};
use support::{Generated, generate, id, insert};
use test_kit::Stack;
use warehouse::{
    queries::{Filters, Scope, Trends, WeeklyRates, trends, weekly_rates},
    sealing::{SealCursor, seal_quiet_hours, sealed_and_unsealed_hours},
};

const FIELDS: &[&str] = &["priority", "status"];

fn scopes(start: chrono::DateTime<Utc>) -> Vec<Scope> {
    let mut scopes = Vec::new();
    for time_zone in ["UTC", "Asia/Kolkata"] {
        for projects in [vec![], vec!["SEC".to_owned()]] {
            scopes.push(Scope {
                installations: vec![id("inst-a"), id("inst-b")],
                from: start + Duration::days(3),
                to: start + Duration::days(31),
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

async fn views(client: &clickhouse::Client, scopes: &[Scope]) -> Vec<(WeeklyRates, Trends)> {
    let fields: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let mut all = Vec::new();
    for scope in scopes {
        all.push((
            weekly_rates(client, scope).await.unwrap(),
            trends(client, scope, &fields).await.unwrap(),
        ));
    }
    all
}

/// Seals every hour touched before this second, as the pipelines' job would after its quiet
/// margin; returns how many.
async fn seal_all(client: &clickhouse::Client) -> u64 {
    // A touch is sealed only once it is older than the margin (one second here).
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let mut cursor = SealCursor::default();
    let mut sealed = 0;
    loop {
        let pass = seal_quiet_hours(client, &mut cursor, 1, 1).await.unwrap();
        sealed += pass.sealed;
        if !pass.more_waiting {
            return sealed;
        }
    }
}

/// The generated stream with one creation per issue, as Jira sends it: each event belongs to
/// the issue its installation created last before it (the generator gives every event one
/// issue), or to an issue created before the connection. A sealed resolution keeps its issue's
/// creation time, which only a second, earlier creation of the same issue could change.
fn one_creation_per_issue(generated: &Generated) -> Generated {
    let mut events = generated.events.clone();
    events.sort_by_key(|e| e.occurred_at_ms);
    let mut latest: std::collections::HashMap<contracts::InstallationId, String> =
        std::collections::HashMap::new();
    let mut issue_of = std::collections::HashMap::new();
    for event in &mut events {
        if event.event_type == "issue_created" {
            latest.insert(event.installation_id, event.delivery_id.clone());
        }
        event.issue_id = latest
            .get(&event.installation_id)
            .cloned()
            .unwrap_or_else(|| "before-the-connection".to_owned());
        issue_of.insert(event.delivery_id.clone(), event.issue_id.clone());
    }
    let changes = generated
        .changes
        .iter()
        .map(|change| warehouse::FieldChangeRow {
            issue_id: issue_of[&change.delivery_id].clone(),
            ..change.clone()
        })
        .collect();
    Generated { events, changes }
}

/// Every fifth delivery (with its field changes) held back, to arrive late.
fn split(generated: &Generated) -> (Generated, Generated) {
    let late: Vec<&str> = generated
        .events
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 5 == 0)
        .map(|(_, e)| e.delivery_id.as_str())
        .collect();
    let part = |is_late: bool| Generated {
        events: generated
            .events
            .iter()
            .filter(|e| late.contains(&e.delivery_id.as_str()) == is_late)
            .cloned()
            .collect(),
        changes: generated
            .changes
            .iter()
            .filter(|c| late.contains(&c.delivery_id.as_str()) == is_late)
            .cloned()
            .collect(),
    };
    (part(false), part(true))
}

#[tokio::test]
async fn sealed_hours_count_as_their_sets_and_a_late_delivery_unseals_its_hour() {
    let stack = Stack::from_env();
    let database = stack.fresh_clickhouse().await;
    let client = database.client();
    warehouse::migrate(&database).await.unwrap();
    // Background merges would fold an hour's older seals away before a view reads them; the
    // views must pick the newest themselves.
    support::on_each_table(
        &client,
        "SYSTEM STOP MERGES {table}",
        &["activity_hourly_sealed", "resolution_times_sealed"],
    )
    .await;
    let start = Utc.with_ymd_and_hms(2026, 9, 2, 13, 0, 0).unwrap();
    let generated =
        one_creation_per_issue(&generate(start, &["inst-a", "inst-b", "inst-other-org"]));
    let (early, late) = split(&generated);
    let scopes = scopes(start);

    // Stored twice, as a Jira retry or a replayed topic does; read from the sets.
    insert(&client, &early).await;
    insert(&client, &early).await;
    let from_sets = views(&client, &scopes).await;
    let installations = [id("inst-a"), id("inst-b"), id("inst-other-org")];
    let (sealed_before, unsealed_before) = sealed_and_unsealed_hours(&client, &installations)
        .await
        .unwrap();
    assert_eq!(sealed_before, 0);
    let sealed = seal_all(&client).await;
    assert!(sealed > 0, "the stored hours are sealed");
    assert_eq!(
        sealed_and_unsealed_hours(&client, &installations)
            .await
            .unwrap(),
        (unsealed_before, 0),
        "every touched hour is sealed once"
    );
    assert_eq!(sealed, unsealed_before);
    assert_eq!(
        views(&client, &scopes).await,
        from_sets,
        "sealed hours give the sets' numbers"
    );
    let mut cursor = SealCursor::default();
    let again = seal_quiet_hours(&client, &mut cursor, 1, 1).await.unwrap();
    assert_eq!(
        again.sealed, 0,
        "a sealed, untouched hour is not sealed again"
    );

    // The held-back deliveries land in sealed hours, twice: counted at once, once each.
    insert(&client, &late).await;
    insert(&client, &late).await;
    let with_late = views(&client, &scopes).await;
    let (_, unsealed) = sealed_and_unsealed_hours(&client, &installations)
        .await
        .unwrap();
    assert!(unsealed > 0, "the late deliveries' hours are unsealed");
    assert_ne!(with_late, from_sets, "the late deliveries count");
    let unsealed_database = stack.fresh_clickhouse().await;
    let unsealed = unsealed_database.client();
    warehouse::migrate(&unsealed_database).await.unwrap();
    insert(&unsealed, &generated).await;
    assert_eq!(
        with_late,
        views(&unsealed, &scopes).await,
        "an hour touched after its seal is read from its sets"
    );
    assert!(
        seal_all(&client).await > 0,
        "the touched hours are sealed again"
    );
    let resealed: u64 = client
        .query(
            "SELECT count() FROM (
                 SELECT count() AS seals FROM resolution_times_sealed
                 GROUP BY installation_id, hour, project_key, issue_type
                 HAVING seals > 1)",
        )
        .fetch_one()
        .await
        .unwrap();
    assert!(
        resealed > 0,
        "some hours' resolution times are sealed twice"
    );
    assert_eq!(views(&client, &scopes).await, with_late);

    // The views read the seals: a newer version of a sealed count shows.
    let before = weekly_rates(&client, &scopes[0]).await.unwrap();
    client
        .query(
            "INSERT INTO activity_hourly_sealed
             SELECT installation_id, kind, hour, project_key, issue_type, deliveries + 1000,
                    now() + 3600
             FROM activity_hourly_sealed
             WHERE installation_id = ? AND kind = 'issue_created' AND hour >= toDateTime(?)
             ORDER BY hour, sealed_at DESC
             LIMIT 1",
        )
        .bind(id("inst-a"))
        .bind((start + Duration::days(4)).timestamp())
        .execute()
        .await
        .unwrap();
    let after = weekly_rates(&client, &scopes[0]).await.unwrap();
    let created = |rates: &WeeklyRates| -> u64 {
        rates
            .weeks
            .iter()
            .map(|week| week.counts["issue_created"])
            .sum()
    };
    assert_eq!(created(&after), created(&before) + 1000);
}
