//! Segments: where issues stood at each day's end (cumulative flow), what is in progress and
//! for how long (work item age), and the time spent in each status (where work waits).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{
    DayFlow, FactsScope, StatusTime, Window, WorkItem, bind_issues, hours, live_facts,
    nearest_rank_sql,
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

/// At each day's end `t`, a segment counts when `seen_from < t <= end` (so an issue deleted at
/// `t` still counts that day, and one seen first at `t` does not yet); done counts only what
/// moved into done within the range. Each group of segments adds its count from its first day
/// on and takes it away from its last, so a day's number is a running sum.
pub(super) async fn days(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
    days: &[(NaiveDate, i64)],
) -> Result<Vec<DayFlow>, QueryError> {
    let Some((first, _)) = days.first() else {
        return Ok(Vec::new());
    };
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
    let epoch = epoch_day(0);
    let index = |day: i64| -> Option<usize> {
        let date = epoch.checked_add_days(Days::new(u64::try_from(day).ok()?))?;
        usize::try_from((date - *first).num_days()).ok()
    };
    // Per (category, status): the change of the count at each day.
    let mut changes: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for span in &spans {
        let diff = changes
            .entry((span.status_category.as_str(), span.status.as_str()))
            .or_insert_with(|| vec![0; days.len() + 1]);
        let from = index(span.first_day).unwrap_or(0).min(days.len());
        diff[from] += span.n as i64;
        if span.last_day >= 0 {
            let to = index(span.last_day).unwrap_or(0).min(days.len());
            diff[to] -= span.n as i64;
        }
    }
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
            match category {
                "new" => day.new += count,
                "indeterminate" => day.indeterminate += count,
                _ => day.done += count,
            }
            *day.statuses.entry(status.to_owned()).or_default() += count;
        }
    }
    Ok(flow)
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
        "SELECT status, category, issues, total_ms, {median} AS median_ms
         FROM (
             SELECT status, any(issue_category) AS category, toUInt64(count()) AS issues,
                    toInt64(sum(ms)) AS total_ms, arraySort(groupArray(ms)) AS per_issue
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
        median = nearest_rank_sql("per_issue", 50),
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
