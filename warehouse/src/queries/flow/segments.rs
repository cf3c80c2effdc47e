//! Segments: where issues stood at each day's end (cumulative flow), what is in progress and
//! for how long (work item age), and the time spent in each status (where work waits).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{
    DayFlow, FactsScope, Membership, Snapshot, StatusTime, Window, WorkItem, bind_issues, hours,
    live_facts, nearest_ranks_sql,
};
use crate::queries::{
    calendar::epoch_day,
    scope::{QueryError, Scope},
};

#[derive(Row, Deserialize)]
struct SegmentSpan {
    status_category: String,
    status: String,
    /// The local day (days since the epoch) from whose end the segments count: the one holding
    /// their start, or the range's first.
    first_day: i64,
    /// The local day from whose end they no longer count; -1 when they last past the view.
    last_day: i64,
    n: u64,
}

#[derive(Row, Deserialize)]
struct DayChange {
    status_category: String,
    status: String,
    /// The local day (days since the epoch) from whose end the change counts.
    day: i64,
    n: i64,
}

/// Per (category, status): how the count changes at each day's end, one slot per day and one
/// past the last.
type Changes = BTreeMap<(String, String), Vec<i64>>;

/// At each day's end `t`, a segment counts when `seen_from < t <= end` (so an issue deleted at
/// `t` still counts that day, and one seen first at `t` does not yet); done counts only what
/// moved into done within the range. Each day's number is a running sum of changes: counted
/// from a snapshot's status changes per hour where every day ends on a whole hour and the
/// filters are the ones those are kept by (project and issue type), else from every segment.
pub(super) async fn days(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
    days: &[(NaiveDate, i64)],
) -> Result<Vec<DayFlow>, QueryError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let whole_hours = std::iter::once(window.from_ms)
        .chain(days[..days.len() - 1].iter().map(|(_, end)| *end))
        .all(|ms| ms % HOUR_MS == 0);
    let changes = match &facts.snapshot {
        Some(snapshot) if whole_hours && !scope.beyond_rollup() => {
            changes_by_hour(client, scope, facts, snapshot, window, days).await?
        }
        _ => changes_by_segment(client, scope, facts, window, days).await?,
    };
    let mut flow: Vec<DayFlow> = days
        .iter()
        .map(|(date, _)| DayFlow {
            date: *date,
            new: 0,
            indeterminate: 0,
            done: 0,
            statuses: BTreeMap::new(),
        })
        .collect();
    for ((category, status), diff) in changes {
        let mut running = 0i64;
        for (day, change) in flow.iter_mut().zip(diff) {
            running += change;
            if running <= 0 {
                continue;
            }
            let count = running as u64;
            match category.as_str() {
                "new" => day.new += count,
                "indeterminate" => day.indeterminate += count,
                _ => day.done += count,
            }
            *day.statuses.entry(status.clone()).or_default() += count;
        }
    }
    Ok(flow)
}

const HOUR_MS: i64 = 3_600_000;

/// The slot of a local day (days since the epoch) among `days`: the first for any day before
/// it, one past the last for any after.
fn slot(days: &[(NaiveDate, i64)], day: i64) -> usize {
    let first = days[0].0;
    let date = u64::try_from(day)
        .ok()
        .and_then(|day| epoch_day(0).checked_add_days(Days::new(day)));
    date.and_then(|date| usize::try_from((date - first).num_days()).ok())
        .unwrap_or(0)
        .min(days.len())
}

/// The changes from the snapshot's status changes per hour, with the issues refreshed since it
/// exchanged: their snapshot rows' changes before `as_of_ms` taken away, their current facts'
/// added. The snapshot's changes count whole up to the hour holding `as_of_ms`, and within it
/// too when its newest change is before `as_of_ms` (a view ends now, after the snapshot); else
/// that hour's segments are read one by one.
async fn changes_by_hour(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    snapshot: &Snapshot,
    window: &Window,
    days: &[(NaiveDate, i64)],
) -> Result<Changes, QueryError> {
    let (from, as_of) = (window.from_ms, window.as_of_ms);
    let last_hour = as_of - as_of.rem_euclid(HOUR_MS);
    let whole_last_hour = last_hour < as_of && {
        let latest: i64 = client
            .query(&format!(
                "SELECT toInt64(max(latest_ms)) FROM flow_snapshot_latest
                 WHERE snapshot = {} AND installation_id IN ({})",
                snapshot.id, facts.installations
            ))
            .fetch_one()
            .await?;
        latest < as_of
    };
    let counted = format!(
        "(status_category != 'done' OR began >= toDateTime({})) AND {}",
        from / 1000,
        facts.issue_filter
    );
    let snapshot_hours = if whole_last_hour {
        String::new()
    } else {
        format!("AND hour < toDateTime({})", last_hour / 1000)
    };
    // The snapshot's changes in the hour holding `as_of_ms` and before it, every issue's (the
    // refreshed ones' are exchanged with the rest of their changes), from the segments first
    // known or ended then.
    let partial_hour = if whole_last_hour || last_hour == as_of {
        String::new()
    } else {
        let in_hour = format!(
            "(SELECT * FROM flow_segments_snapshot
              PREWHERE (seen_from_ms >= {last_hour} AND seen_from_ms < {as_of})
                       OR (end_ms >= {last_hour} AND end_ms < {as_of})
              WHERE snapshot = {id} AND installation_id IN ({installations}))",
            id = snapshot.id,
            installations = facts.installations,
        );
        format!(
            "UNION ALL
             SELECT hour, status_category, status, change FROM ({changes})
             WHERE hour >= toDateTime({last_hour_s}) AND {counted}",
            changes = crate::flow::compaction::status_changes(&in_hour, Some(as_of)),
            last_hour_s = last_hour / 1000,
        )
    };
    let refreshed_in_snapshot = format!(
        "(SELECT * FROM flow_segments_snapshot
          PREWHERE installation_id IN ({installations}) AND {refreshed}
          WHERE snapshot = {id})",
        installations = facts.installations,
        refreshed = facts.refreshed(snapshot, Membership::In),
        id = snapshot.id,
    );
    let refreshed_now = format!(
        "(SELECT * FROM ({}) WHERE live = 1)",
        facts.refreshed_facts(
            "flow_segments",
            "installation_id, project_key, issue_type, status_category, status, start_ms, \
             seen_from_ms, end_ms, live",
            snapshot
        )
    );
    let sql = format!(
        "SELECT status_category, status, toInt64(toDate(hour, ?)) AS day,
                toInt64(sum(change)) AS n
         FROM (
             SELECT hour, status_category, status, change FROM flow_status_changes
             WHERE snapshot = {id} AND installation_id IN ({installations}) {snapshot_hours}
               AND {counted}
             UNION ALL
             SELECT hour, status_category, status, -change FROM ({stale}) WHERE {counted}
             UNION ALL
             SELECT hour, status_category, status, change FROM ({current}) WHERE {counted}
             {partial_hour}
         )
         GROUP BY status_category, status, day",
        id = snapshot.id,
        installations = facts.installations,
        stale = crate::flow::compaction::status_changes(&refreshed_in_snapshot, Some(as_of)),
        current = crate::flow::compaction::status_changes(&refreshed_now, Some(as_of)),
    );
    let mut query = client.query(&sql).bind(&scope.time_zone);
    let filters = if partial_hour.is_empty() { 3 } else { 4 };
    for _ in 0..filters {
        query = bind_issues(query, scope);
    }
    let mut changes = Changes::new();
    for change in query.fetch_all::<DayChange>().await? {
        let diff = changes
            .entry((change.status_category, change.status))
            .or_insert_with(|| vec![0; days.len() + 1]);
        diff[slot(days, change.day)] += change.n;
    }
    Ok(changes)
}

/// The changes from every segment of the range: each group of segments adds its count from
/// its first day on and takes it away from its last.
async fn changes_by_segment(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
    days: &[(NaiveDate, i64)],
) -> Result<Changes, QueryError> {
    let (from, as_of) = (window.from_ms, window.as_of_ms);
    let sql = format!(
        "SELECT status_category, status,
                toInt64(toDate(toDateTime(intDiv(greatest(seen_from_ms, ?), 1000)), ?)) AS first_day,
                if(end_ms >= ?, toInt64(-1),
                   toInt64(toDate(toDateTime(intDiv(end_ms, 1000)), ?))) AS last_day,
                toUInt64(count()) AS n
         FROM {facts}
         GROUP BY status_category, status, first_day, last_day",
        facts = live_facts(
            "flow_segments",
            "status_category, status, start_ms, seen_from_ms, end_ms",
            facts,
            "",
            &format!(
                "status_category IN ('new', 'indeterminate', 'done')
                 AND seen_from_ms < {as_of} AND end_ms >= {from}
                 AND (status_category != 'done' OR start_ms >= {from})"
            ),
        ),
    );
    let query = client
        .query(&sql)
        .bind(window.from_ms)
        .bind(&scope.time_zone)
        .bind(window.as_of_ms)
        .bind(&scope.time_zone);
    let spans = bind_issues(query, scope).fetch_all::<SegmentSpan>().await?;
    let mut changes = Changes::new();
    for span in spans {
        let diff = changes
            .entry((span.status_category, span.status))
            .or_insert_with(|| vec![0; days.len() + 1]);
        diff[slot(days, span.first_day)] += span.n as i64;
        if span.last_day >= 0 {
            diff[slot(days, span.last_day)] -= span.n as i64;
        }
    }
    Ok(changes)
}

#[derive(Row, Deserialize)]
struct InProgress {
    issue_key: String,
    project_key: String,
    issue_type: String,
    status: String,
    assignee_account_id: String,
    assignee_name: String,
    start_ms: i64,
    cycle_start_ms: i64,
    cycle_spent_before_ms: i64,
}

/// Issues in progress at `as_of_ms`, with their age: the cycle's time in progress before this
/// segment and this segment's so far. The caller compares each with its project's p85.
pub(super) async fn work_items(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
) -> Result<Vec<WorkItem>, QueryError> {
    let as_of = window.as_of_ms;
    let sql = format!(
        "SELECT issue_key, project_key, issue_type, status, assignee_account_id, assignee_name,
                start_ms, cycle_start_ms, cycle_spent_before_ms
         FROM {facts}",
        facts = live_facts(
            "flow_segments",
            "issue_key, status, status_category, start_ms, seen_from_ms, end_ms, \
             cycle_start_ms, cycle_spent_before_ms, assignee_name",
            facts,
            "",
            &format!(
                "status_category = 'indeterminate' AND seen_from_ms < {as_of} AND end_ms >= {as_of}"
            ),
        ),
    );
    let rows = bind_issues(client.query(&sql), scope)
        .fetch_all::<InProgress>()
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let seen = row.cycle_start_ms >= 0 && row.start_ms >= 0;
            WorkItem {
                issue_key: row.issue_key,
                project_key: row.project_key,
                issue_type: row.issue_type,
                status: row.status,
                assignee: row.assignee_account_id,
                assignee_name: row.assignee_name,
                in_progress_since_ms: seen.then_some(row.cycle_start_ms),
                age_hours: if seen {
                    hours(row.cycle_spent_before_ms + (window.as_of_ms - row.start_ms))
                } else {
                    None
                },
                project_p85_hours: None,
                at_risk: false,
            }
        })
        .collect())
}

#[derive(Row, Deserialize)]
struct StatusRow {
    status: String,
    category: String,
    issues: u64,
    total_ms: i64,
    median_ms: i64,
}

/// Per status that is not done: the issues that spent time in it within the range (segments
/// whose start we saw, clipped to the range), their total and the median of their times.
pub(super) async fn time_in_status(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
) -> Result<Vec<StatusTime>, QueryError> {
    let (from, as_of) = (window.from_ms, window.as_of_ms);
    // An issue in a status once (most) has that segment's time there; only the others are
    // summed per issue first.
    let spent = |visits: &str| {
        live_facts(
            "flow_segments",
            "installation_id, issue_id, status, status_category, start_ms, end_ms, status_visits",
            facts,
            "",
            &format!(
                "status_category IN ('new', 'indeterminate') AND start_ms >= 0
                 AND start_ms < {as_of} AND end_ms > {from} AND end_ms > start_ms
                 AND status_visits {visits}"
            ),
        )
    };
    let sql = format!(
        "SELECT status, category, issues, total_ms, toInt64(median[1]) AS median_ms
         FROM (
             SELECT status, any(issue_category) AS category, toUInt64(count()) AS issues,
                    toInt64(sum(ms)) AS total_ms, {median} AS median
             FROM (
                 SELECT status, status_category AS issue_category,
                        toInt64(least(end_ms, {as_of}) - greatest(start_ms, {from})) AS ms
                 FROM {once}
                 UNION ALL
                 SELECT status, any(status_category) AS issue_category,
                        toInt64(sum(least(end_ms, {as_of}) - greatest(start_ms, {from}))) AS ms
                 FROM {more}
                 GROUP BY installation_id, issue_id, status
             )
             WHERE ms > 0
             GROUP BY status
         )",
        median = nearest_ranks_sql("ms", "1", &[50]),
        once = spent("= 1"),
        more = spent("> 1"),
    );
    let mut query = client.query(&sql);
    for _ in 0..2 {
        query = bind_issues(query, scope);
    }
    let mut rows: Vec<StatusTime> = query
        .fetch_all::<StatusRow>()
        .await?
        .into_iter()
        .map(|row| StatusTime {
            status: row.status,
            category: row.category,
            issues: row.issues,
            total_hours: row.total_ms as f64 / 3_600_000.0,
            median_hours: row.median_ms as f64 / 3_600_000.0,
        })
        .collect();
    rows.sort_by(|a, b| (a.category != "new", &a.status).cmp(&(b.category != "new", &b.status)));
    Ok(rows)
}
