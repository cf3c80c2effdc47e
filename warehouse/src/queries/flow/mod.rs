//! Flow metrics: how long work takes (cycle and lead time), how much finishes (throughput), what
//! is in progress and for how long (work item age), where issues stand each day (cumulative
//! flow) and where work waits (time in status). Computed from each issue's whole history in the
//! narrow `issue_timeline` table, read in issue order; the metrics themselves are computed here
//! in Rust (`metrics`), where a cycle's pauses and reopens are a loop rather than array SQL that
//! 18.16 can barely write.
//!
//! Definitions (the flow page and the OpenAPI document say the same):
//! - An issue's history is the statuses its deliveries left it in, in time order; copies of a
//!   delivery and the order deliveries arrived in change nothing.
//! - A **cycle** starts when the issue first moves into an in-progress status (category
//!   `indeterminate`) and ends when it moves into done; its time is the time spent in progress,
//!   so time back in to-do (paused) is not counted. A reopened issue starts a new cycle. A cycle
//!   whose start predates the connection has no known time and is counted as such.
//! - A **completion** is a move into done that we saw; **throughput** counts the distinct issues
//!   completed in a week. **Lead time** runs from creation to a completion, when we saw the
//!   creation.
//! - Percentiles are nearest-rank (the smallest value with at least p % at or below it).

mod history;
mod metrics;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use clickhouse::Client;
use serde::Serialize;

use super::scope::{QueryError, Scope};
use history::{IssueHistory, TimelineRow};
use metrics::Window;

/// How many completions a flow lists (the latest): every number is computed over all of them,
/// but a page or an API answer does not carry a tenant's whole history of points.
pub const MAX_COMPLETIONS: usize = 2_000;

/// The flow of a scope's issues, as of `as_of_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    /// The end of the histories: now, or the range's end when that is earlier.
    pub as_of_ms: i64,
    pub weeks: Vec<FlowWeek>,
    /// Cycle time over all the range's completions whose cycle start was seen.
    pub cycle_time: Percentiles,
    /// Lead time over all the range's completions whose creation was seen.
    pub lead_time: Percentiles,
    /// The range's completions, oldest first: the control chart's points. At most
    /// [`MAX_COMPLETIONS`], the latest; `completions_total` says how many there were.
    pub completions: Vec<Completion>,
    pub completions_total: u64,
    pub projects: Vec<GroupFlow>,
    pub issue_types: Vec<GroupFlow>,
    /// By the priority each issue had when it was completed.
    pub priorities: Vec<GroupFlow>,
    /// Issues in progress as of `as_of_ms`: at risk first, then oldest first.
    pub work_items: Vec<WorkItem>,
    /// Where issues stood at each day's end, up to the day holding `as_of_ms`.
    pub days: Vec<DayFlow>,
    /// Time spent in each status that is not done, within the range.
    pub statuses: Vec<StatusTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many values the percentiles are of.
    pub count: u64,
    pub p50_hours: Option<f64>,
    pub p85_hours: Option<f64>,
    pub p95_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowWeek {
    /// The Monday the week starts on, in the scope's time zone.
    pub start: NaiveDate,
    pub completions: u64,
    pub throughput: u64,
    pub cycle_time: Percentiles,
    pub cycle_start_unseen: u64,
    pub lead_time: Percentiles,
    pub lead_creation_unseen: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    /// The issue's priority when it moved into done.
    pub priority: String,
    pub done_ms: i64,
    /// Whether the move into done ended a cycle (false: straight to done, no time in progress).
    pub in_cycle: bool,
    pub cycle_hours: Option<f64>,
    pub lead_hours: Option<f64>,
    /// Its cycle took longer than the range's p95.
    pub outlier: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFlow {
    pub key: String,
    pub completions: u64,
    pub cycle_time: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkItem {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub status: String,
    pub in_progress_since_ms: Option<i64>,
    pub age_hours: Option<f64>,
    pub project_p85_hours: Option<f64>,
    pub at_risk: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFlow {
    pub date: NaiveDate,
    pub new: u64,
    pub indeterminate: u64,
    pub done: u64,
    pub statuses: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusTime {
    pub status: String,
    pub category: String,
    pub issues: u64,
    pub total_hours: f64,
    pub median_hours: f64,
}

/// The flow of the scope's issues (projects and issue types filter by each issue's latest), as
/// of now.
pub async fn flow(client: &Client, scope: &Scope) -> Result<Flow, QueryError> {
    flow_as_of(client, scope, Utc::now().timestamp_millis()).await
}

/// [`flow`] as of a given instant (the range's end when that is earlier).
pub async fn flow_as_of(client: &Client, scope: &Scope, now_ms: i64) -> Result<Flow, QueryError> {
    scope.validate()?;
    let tz: chrono_tz::Tz = scope
        .time_zone
        .parse()
        .map_err(|_| QueryError::BadTimeZone(scope.time_zone.clone()))?;
    let window = Window {
        from_ms: scope.from.timestamp_millis(),
        to_ms: scope.to.timestamp_millis(),
        as_of_ms: now_ms.min(scope.to.timestamp_millis()),
        tz,
    };
    let rows = timeline(client, scope, &window).await?;
    let categories = history::categories(&rows);
    let mut by_issue: HashMap<(&str, &str), Vec<TimelineRow>> = HashMap::new();
    for row in &rows {
        by_issue
            .entry((row.installation_id.as_str(), row.issue_id.as_str()))
            .or_default()
            .push(row.clone());
    }
    let histories: Vec<IssueHistory> = by_issue
        .values()
        .filter_map(|rows| history::history(rows, &categories, window.as_of_ms))
        .filter(|history| {
            let filters = &scope.filters;
            (filters.projects.is_empty() || filters.projects.contains(&history.project_key))
                && (filters.issue_types.is_empty()
                    || filters.issue_types.contains(&history.issue_type))
        })
        .collect();
    Ok(metrics::flow(&histories, &window))
}

/// Every timeline row before `as_of_ms` of the issues that can count: those with a delivery in
/// the range, and those still open before it (not done, not deleted). An issue settled before
/// the range (done or deleted, nothing since) adds to no number, so it is not read.
async fn timeline(
    client: &Client,
    scope: &Scope,
    window: &Window,
) -> Result<Vec<TimelineRow>, QueryError> {
    let sql = "SELECT installation_id, issue_id, occurred_at_ms, delivery_id, kind, event_type,
                      project_key, issue_key, issue_type, priority, status, status_category,
                      from_status
               FROM issue_timeline
               WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                 AND occurred_at_ms < ?
                 AND (installation_id, issue_id) IN (
                     SELECT installation_id, issue_id FROM issue_timeline
                     WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                       AND occurred_at_ms < ?
                     GROUP BY installation_id, issue_id
                     HAVING max(occurred_at_ms) >= ?
                         OR (argMaxIf(status_category, occurred_at_ms, kind = 0) != 'done'
                             AND countIf(event_type = 'issue_deleted') = 0))";
    Ok(client
        .query(sql)
        .bind(&scope.installations)
        .bind(window.as_of_ms)
        .bind(&scope.installations)
        .bind(window.as_of_ms)
        .bind(window.from_ms)
        .fetch_all::<TimelineRow>()
        .await?)
}
