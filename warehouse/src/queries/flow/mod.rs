//! Flow metrics: how long work takes (cycle and lead time), how much finishes (throughput), what
//! is in progress and for how long (work item age), where issues stand each day (cumulative
//! flow) and where work waits (time in status). Aggregated in ClickHouse from the facts the
//! pipeline keeps per issue (`crate::flow`: segments and completions), so a view reads narrow
//! rows and sends back counts and percentiles, never a tenant's histories.
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

mod completions;
mod segments;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use clickhouse::Client;
use serde::Serialize;

use super::{
    scope::{Filters, QueryError, Scope},
    visibility::{
        VISIBLE_ISSUE, VISIBLE_PROJECT, Visibility, bind_visible_issues, bind_visible_projects,
    },
};
use crate::flow::compaction::Snapshot;

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
    /// By the assignee each issue had when it was completed (key `""`: unassigned).
    pub assignees: Vec<GroupFlow>,
    /// By each label the issue had when it was completed (one with two counts under both; key
    /// `""`: no label).
    pub labels: Vec<GroupFlow>,
    /// By each component, as labels (key `""`: no component).
    pub components: Vec<GroupFlow>,
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
    /// Its assignee's account id then (`""`: unassigned), labels and components.
    pub assignee: String,
    pub labels: Vec<String>,
    pub components: Vec<String>,
    pub done_ms: i64,
    pub cycle_hours: Option<f64>,
    pub lead_hours: Option<f64>,
    /// Its cycle took longer than the range's p95.
    pub outlier: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFlow {
    pub key: String,
    /// What to call it: an assignee's display name (from the group's latest completion),
    /// `Unassigned`, `No label`, `No component`, or the key.
    pub name: String,
    pub completions: u64,
    pub cycle_time: Percentiles,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkItem {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub status: String,
    /// The assignee's account id as the move into this status left it (`""`: unassigned).
    pub assignee: String,
    pub assignee_name: String,
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
    let tz: Tz = scope
        .time_zone
        .parse()
        .map_err(|_| QueryError::BadTimeZone(scope.time_zone.clone()))?;
    let window = Window {
        from_ms: scope.from.timestamp_millis(),
        to_ms: scope.to.timestamp_millis(),
        as_of_ms: now_ms.min(scope.to.timestamp_millis()),
        tz,
    };
    let weeks = window.week_starts();
    let days = window.days();
    let facts = FactsScope::read(client, scope).await?;
    let (summary, latest, day_counts, items, statuses) = tokio::try_join!(
        completions::summary(client, scope, &facts, &window),
        completions::latest(client, scope, &facts, &window),
        segments::days(client, scope, &facts, &window, &days),
        segments::work_items(client, scope, &facts, &window),
        segments::time_in_status(client, scope, &facts, &window),
    )?;
    let range_p95 = summary.all.cycle_time.p95_hours;
    let completions_total = summary.all.completions;
    let mut completions = latest;
    for completion in &mut completions {
        completion.outlier =
            matches!((completion.cycle_hours, range_p95), (Some(c), Some(p)) if c > p);
    }
    let project_p85: BTreeMap<&str, Option<f64>> = summary
        .projects
        .iter()
        .map(|group| (group.key.as_str(), group.cycle_time.p85_hours))
        .collect();
    let mut work_items: Vec<WorkItem> = items
        .into_iter()
        .map(|mut item| {
            item.project_p85_hours = project_p85
                .get(item.project_key.as_str())
                .copied()
                .flatten();
            item.at_risk = matches!(
                (item.age_hours, item.project_p85_hours),
                (Some(a), Some(p)) if a > p
            );
            item
        })
        .collect();
    work_items.sort_by(|a, b| {
        b.at_risk
            .cmp(&a.at_risk)
            .then(
                b.age_hours
                    .unwrap_or(f64::MAX)
                    .total_cmp(&a.age_hours.unwrap_or(f64::MAX)),
            )
            .then_with(|| a.issue_key.cmp(&b.issue_key))
    });
    Ok(Flow {
        as_of_ms: window.as_of_ms,
        weeks: weeks.iter().map(|start| summary.week(*start)).collect(),
        cycle_time: summary.all.cycle_time,
        lead_time: summary.all.lead_time,
        completions,
        completions_total,
        projects: summary.projects,
        issue_types: summary.issue_types,
        priorities: summary.priorities,
        assignees: summary.assignees,
        labels: summary.labels,
        components: summary.components,
        work_items,
        days: day_counts,
        statuses,
    })
}

/// What a flow view covers, in milliseconds, and the zone its days and weeks are in.
pub(crate) struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    /// min(now, to_ms): what happened after it is not counted.
    pub as_of_ms: i64,
    pub tz: Tz,
}

impl Window {
    /// The Mondays of every week the range's days touch.
    fn week_starts(&self) -> Vec<NaiveDate> {
        let last = monday_of(self.local_date(self.to_ms - 1));
        let mut weeks = vec![monday_of(self.local_date(self.from_ms))];
        while let Some(next) = weeks.last().map(|week| *week + Days::new(7))
            && next <= last
        {
            weeks.push(next);
        }
        weeks
    }

    /// Each day of the range up to the one holding `as_of_ms`, with when it is counted: the
    /// next midnight, or `as_of_ms` for that day.
    fn days(&self) -> Vec<(NaiveDate, i64)> {
        let mut days = Vec::new();
        let mut day = self.local_date(self.from_ms);
        loop {
            let start = self.midnight_ms(day);
            if start >= self.as_of_ms || start >= self.to_ms {
                break;
            }
            let next = day + Days::new(1);
            days.push((day, self.midnight_ms(next).min(self.as_of_ms)));
            day = next;
        }
        days
    }

    fn local_date(&self, ms: i64) -> NaiveDate {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&self.tz)
            .date_naive()
    }

    /// Midnight starting `date` (the earlier one when a change of clocks repeats it, the first
    /// instant of the day when it skips it).
    fn midnight_ms(&self, date: NaiveDate) -> i64 {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        match self.tz.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
                at.timestamp_millis()
            }
            chrono::LocalResult::None => (1..=4)
                .find_map(|hour| {
                    self.tz
                        .from_local_datetime(&(midnight + chrono::Duration::hours(hour)))
                        .earliest()
                })
                .map_or(0, |at| at.timestamp_millis()),
        }
    }
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// Milliseconds as the views give durations; the facts' negative markers are "unknown".
fn hours(ms: i64) -> Option<f64> {
    (ms >= 0).then(|| ms as f64 / 3_600_000.0)
}

/// The scope's issue filters on a facts table's rows, each with its test: project and type by
/// each issue's latest, priority, assignee, labels and components as the fact's own delivery
/// states them (the one that started a segment or completed the issue). Only the filters given
/// are tested: an empty one would still be evaluated on every row the view reads.
fn issue_tests(filters: &Filters) -> [(&Vec<String>, &'static str); 6] {
    [
        (
            &filters.projects,
            "has(CAST(? AS Array(String)), project_key)",
        ),
        (
            &filters.issue_types,
            "has(CAST(? AS Array(String)), issue_type)",
        ),
        (
            &filters.priorities,
            "has(CAST(? AS Array(String)), priority)",
        ),
        (
            &filters.assignees,
            "has(CAST(? AS Array(String)), assignee_account_id)",
        ),
        (&filters.labels, "hasAny(labels, CAST(? AS Array(String)))"),
        (
            &filters.components,
            "hasAny(components, CAST(? AS Array(String)))",
        ),
    ]
}

/// [`issue_tests`]' given filters and the visibility's tests as one condition; bind with
/// [`bind_issues`]. The visibility's issue test only when it hides issues: the status changes
/// per hour, which have no issue id, are read only then (`Scope::beyond_rollup`).
fn issue_filter(scope: &Scope) -> String {
    let visibility = match &scope.visibility {
        Visibility::Everything => Vec::new(),
        Visibility::Permitted(_) if scope.beyond_rollup() => vec![VISIBLE_PROJECT, VISIBLE_ISSUE],
        Visibility::Permitted(_) => vec![VISIBLE_PROJECT],
    };
    issue_tests(&scope.filters)
        .into_iter()
        .filter(|(values, _)| !values.is_empty())
        .map(|(_, test)| test)
        .chain(visibility)
        .fold("1".to_owned(), |all, test| format!("{all} AND {test}"))
}

fn bind_issues(query: clickhouse::query::Query, scope: &Scope) -> clickhouse::query::Query {
    let query = issue_tests(&scope.filters)
        .into_iter()
        .filter(|(values, _)| !values.is_empty())
        .fold(query, |query, (values, _)| query.bind(values));
    match &scope.visibility {
        Visibility::Everything => query,
        Visibility::Permitted(_) if scope.beyond_rollup() => {
            bind_visible_issues(bind_visible_projects(query, scope), scope)
        }
        Visibility::Permitted(_) => bind_visible_projects(query, scope),
    }
}

/// Where a view reads the facts: the scope's installations, written into the SQL (typed ids,
/// never text from a request), and the newest snapshot, read once per view so its queries
/// split the issues alike (`crate::flow::compaction`).
struct FactsScope {
    installations: String,
    /// Whether the scope has one installation, whose issues an issue id tells apart alone.
    one_installation: bool,
    snapshot: Option<Snapshot>,
    /// [`issue_filter`] of the scope's filters and visibility.
    issue_filter: String,
    /// Whether the filter tests rows against a Jira account's permissions.
    visibility_enforced: bool,
}

impl FactsScope {
    async fn read(client: &Client, scope: &Scope) -> Result<Self, QueryError> {
        Ok(Self {
            installations: scope
                .installations
                .iter()
                .map(|id| format!("'{id}'"))
                .collect::<Vec<_>>()
                .join(", "),
            one_installation: scope.installations.len() == 1,
            snapshot: crate::flow::compaction::newest_snapshot(client).await?,
            issue_filter: issue_filter(scope),
            visibility_enforced: matches!(scope.visibility, Visibility::Permitted(_)),
        })
    }

    /// Whether a row's issue was stamped since `snapshot` began (`membership` `IN`), so its
    /// snapshot rows are stale, or not (`NOT IN`). By the issue id alone when the scope has one
    /// installation: testing every row of a snapshot against a set of (installation, issue)
    /// pairs cost the views' reads about a sixth more.
    fn refreshed(&self, snapshot: &Snapshot, membership: Membership) -> String {
        let key = if self.one_installation {
            "issue_id"
        } else {
            "installation_id, issue_id"
        };
        format!(
            "({key}) {membership} (SELECT {key} FROM flow_refreshes
              WHERE installation_id IN ({}) AND refreshed_at >= toDateTime({}))",
            self.installations,
            snapshot.started_at,
            membership = membership.sql(),
        )
    }

    /// The current facts in `table` of the issues refreshed since `snapshot`, newest version
    /// of each key, live or not, with `columns`: FINAL, narrowed to those issues by PREWHERE
    /// on key columns before it merges.
    fn refreshed_facts(&self, table: &str, columns: &str, snapshot: &Snapshot) -> String {
        format!(
            "SELECT {columns} FROM {table} FINAL
             PREWHERE installation_id IN ({installations}) AND {refreshed}",
            installations = self.installations,
            refreshed = self.refreshed(snapshot, Membership::In),
        )
    }
}

/// A set membership test in SQL.
#[derive(Clone, Copy)]
enum Membership {
    In,
    NotIn,
}

impl Membership {
    fn sql(self) -> &'static str {
        match self {
            Self::In => "IN",
            Self::NotIn => "NOT IN",
        }
    }
}

/// The newest version of each of the scope's live facts in `table` (`flow_segments` or
/// `flow_completions`) that `row_filter` holds for, with `columns` and the ones the issue
/// filter reads (`project_key`, `issue_type`, `priority`, `assignee_account_id`, `labels`,
/// `components`; never list them in `columns`).
/// - `key_filter` narrows the read on key columns only (every version of a key shares them);
///   `row_filter` may test any column in `columns`. Neither has a `?`: both are written twice.
/// - Issues whose facts were refreshed since the newest snapshot began (all of them, before the
///   first) are read with FINAL, which picks the newest row of a key; the filters stay outside
///   it, so a row written as gone hides the older live one instead of being filtered out before
///   it could. Every other issue is read from the snapshot, one live row per key, filtered
///   first.
///
/// Bind the values of [`bind_issues`].
fn live_facts(
    table: &str,
    columns: &str,
    facts: &FactsScope,
    key_filter: &str,
    row_filter: &str,
) -> String {
    // The visibility's tests read the installation and issue, once each: `SELECT *` over a
    // repeated column keeps one, which a UNION ALL with the listed columns would refuse.
    let listed: Vec<&str> = columns.split(',').map(str::trim).collect();
    let identity: String = ["installation_id", "issue_id"]
        .into_iter()
        .filter(|column| facts.visibility_enforced && !listed.contains(column))
        .map(|column| format!(", {column}"))
        .collect();
    let columns = format!(
        "{columns}, live, project_key, issue_type, priority, assignee_account_id, labels, components{identity}"
    );
    let installations = format!("installation_id IN ({})", facts.installations);
    let source = match &facts.snapshot {
        None => format!(
            "SELECT * FROM (SELECT {columns} FROM {table} FINAL
                            WHERE {installations} {key_filter})
             WHERE {row_filter}"
        ),
        // The snapshot's rows are read filters first, and the set of refreshed issues is
        // tested only on the rows they keep.
        Some(snapshot) => format!(
            "SELECT * FROM ({refreshed} {key_filter}) WHERE {row_filter}
             UNION ALL
             SELECT {columns} FROM {table}_snapshot
             PREWHERE {row_filter} {key_filter}
             WHERE snapshot = {id} AND {installations} AND {not_refreshed}",
            refreshed = facts.refreshed_facts(table, &columns, snapshot),
            id = snapshot.id,
            not_refreshed = facts.refreshed(snapshot, Membership::NotIn),
        ),
    };
    format!(
        "(SELECT * FROM ({source}) WHERE live = 1 AND {filter})",
        filter = facts.issue_filter
    )
}

/// The percentiles every flow view shows, in this order.
const RANKS: [u32; 3] = [50, 85, 95];

/// The nearest-rank percentiles `percents` of `values` where `condition` holds, as an array
/// in SQL (zeros when none hold: test the count). `quantilesExact` picks the element at
/// `level * count` (from 0, rounded down) by partial sorting, where nearest rank is the
/// `ceil(p * count / 100)`th (from 1): one trillionth below `p / 100` makes the two agree for
/// counts up to ten billion, where a full sort of each group cost the views more than anything
/// else. The golden path compares the views' percentiles with its own nearest rank; a full
/// sort in ClickHouse agreed on 960 groups of 2 to 2,000 values.
fn nearest_ranks_sql(values: &str, condition: &str, percents: &[u32]) -> String {
    let levels = percents
        .iter()
        .map(|p| format!("{:.12}", f64::from(*p) / 100.0 - 1e-12))
        .collect::<Vec<_>>()
        .join(", ");
    format!("quantilesExactIf({levels})({values}, {condition})")
}

impl Percentiles {
    /// Of no values: a week or a range with nothing completed.
    pub const NONE: Self = Self {
        count: 0,
        p50_hours: None,
        p85_hours: None,
        p95_hours: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_and_days_are_the_zones_and_today_ends_now() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let midnight = |y, m, d| {
            tz.with_ymd_and_hms(y, m, d, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        };
        let window = Window {
            from_ms: midnight(2026, 11, 25),
            to_ms: midnight(2026, 12, 4),
            as_of_ms: midnight(2026, 12, 2) + 3_600_000,
            tz,
        };
        let weeks: Vec<String> = window.week_starts().iter().map(|d| d.to_string()).collect();
        assert_eq!(weeks, ["2026-11-23", "2026-11-30"]);
        let days = window.days();
        assert_eq!(days.len(), 8, "Nov 25 to Dec 2, today included");
        assert_eq!(days[0].1, midnight(2026, 11, 26));
        assert_eq!(days[7].1, window.as_of_ms, "today is counted as of now");
    }
}
