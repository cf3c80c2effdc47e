//! The flow view: how long work takes, how much finishes, what is in progress and for how long,
//! where issues stand each day and where work waits. The JSON API serializes it, its weeks are
//! the CSV's rows, and the flow page draws its charts and tables from it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use warehouse::queries::flow as computed;

use super::Range;
use crate::{csv_body::CsvRow, error::DashboardError, view_request::View};

/// Flow metrics of the range's issues, from the status changes MetaFrazo received.
///
/// Definitions: an issue's **cycle** starts when it first moves into an in-progress status
/// (status category `indeterminate`) and ends when it moves into done; cycle time is the time
/// spent in progress, so time moved back to to-do (paused) is not counted, and a reopened issue
/// starts a new cycle rather than extending the old one. **Lead time** runs from creation to a
/// move into done. A **completion** is a move into done. Percentiles are nearest-rank (the
/// smallest value with at least that share of values at or below it). Only what the stream can
/// know: a cycle that started, or an issue created, before the workspace was connected has no
/// known time and is counted as unseen, never guessed. Copies of a delivery and the order
/// deliveries arrived in change no number.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Flow {
    #[serde(flatten)]
    pub range: Range,
    /// The end of every issue's history here: now, or the range's end if earlier
    /// (milliseconds since the epoch).
    pub as_of_ms: i64,
    /// The weeks the range touches, oldest first, by the week of each completion.
    pub weeks: Vec<FlowWeek>,
    /// Cycle time over all the range's completions whose cycle start MetaFrazo saw.
    pub cycle_time: Percentiles,
    /// Lead time over all the range's completions whose creation MetaFrazo saw.
    pub lead_time: Percentiles,
    /// The range's completions, oldest first: the control chart's points. At most 2,000, the
    /// latest (every number above is over all of them).
    pub completions: Vec<Completion>,
    /// How many completions the range has.
    pub completions_total: u64,
    /// Completions and cycle time per project, over the whole range.
    pub projects: Vec<GroupFlow>,
    /// Completions and cycle time per issue type, over the whole range.
    pub issue_types: Vec<GroupFlow>,
    /// Completions and cycle time per priority (the issue's when it was completed), over the
    /// whole range.
    pub priorities: Vec<GroupFlow>,
    /// Per assignee (the issue's when it was completed; key `""`: unassigned).
    pub assignees: Vec<GroupFlow>,
    /// Per label the issue had when it was completed: an issue with two labels counts under
    /// both (key `""`: no label).
    pub labels: Vec<GroupFlow>,
    /// Per component, as labels (key `""`: no component).
    pub components: Vec<GroupFlow>,
    /// Issues in progress as of `as_of_ms`: at risk first, then the oldest.
    pub work_items: Vec<WorkItem>,
    /// Where issues stood at each day's end (cumulative flow), up to today.
    pub days: Vec<FlowDay>,
    /// Where work waits: time in each status that is not done, within the range.
    pub statuses: Vec<StatusTime>,
}

/// Percentiles of durations, in hours; `null` when there is no value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Percentiles {
    /// How many durations the percentiles are of.
    pub count: u64,
    #[schema(required = true)]
    pub p50_hours: Option<f64>,
    #[schema(required = true)]
    pub p85_hours: Option<f64>,
    #[schema(required = true)]
    pub p95_hours: Option<f64>,
}

/// One week of flow, by the week each completion fell in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FlowWeek {
    /// The Monday the week starts on, in the view's time zone.
    pub start: NaiveDate,
    /// Moves into done this week.
    pub completions: u64,
    /// Distinct issues completed this week (an issue done, reopened and done again counts once).
    pub throughput: u64,
    /// Cycle time of this week's completions whose cycle start MetaFrazo saw.
    pub cycle_time: Percentiles,
    /// Completions whose cycle started before the connection: no known cycle time.
    pub cycle_start_unseen: u64,
    /// Lead time (creation to done) of this week's completions whose creation MetaFrazo saw.
    pub lead_time: Percentiles,
    /// Completions of issues created before the connection: no known lead time.
    pub lead_creation_unseen: u64,
}

/// One move into done: a point of the control chart.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Completion {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    /// The issue's priority when it moved into done.
    pub priority: String,
    /// Its assignee's Jira account id then (`""`: unassigned).
    pub assignee: String,
    /// Its labels then, sorted.
    pub labels: Vec<String>,
    /// Its components' names then, sorted.
    pub components: Vec<String>,
    /// When it moved into done (milliseconds since the epoch).
    pub done_ms: i64,
    /// `null` when the cycle started before the connection, or the issue went to done without
    /// time in progress.
    #[schema(required = true)]
    pub cycle_hours: Option<f64>,
    /// `null` when the issue was created before the connection.
    #[schema(required = true)]
    pub lead_hours: Option<f64>,
    /// Its cycle time is above the range's p95 cycle time.
    pub outlier: bool,
}

/// Completions and cycle time of one project, issue type, priority, assignee, label or
/// component.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupFlow {
    /// The project key, issue type, priority, assignee's account id, label or component name;
    /// `""` for completions without an assignee, label or component.
    pub key: String,
    /// What to call it: the assignee's display name at the group's latest completion,
    /// `Unassigned`, `No label`, `No component`, or the key itself.
    pub name: String,
    pub completions: u64,
    pub cycle_time: Percentiles,
}

/// An issue in progress.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkItem {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub status: String,
    /// Its assignee's Jira account id as the move into this status left it (`""`: unassigned).
    pub assignee: String,
    pub assignee_name: String,
    /// When its current cycle started; `null` when before the connection.
    #[schema(required = true)]
    pub in_progress_since_ms: Option<i64>,
    /// Work item age: hours in progress in the current cycle up to `as_of_ms`, paused time
    /// excluded; `null` when the cycle started before the connection.
    #[schema(required = true)]
    pub age_hours: Option<f64>,
    /// The project's p85 cycle time over the range; `null` when none of its cycles completed.
    #[schema(required = true)]
    pub project_p85_hours: Option<f64>,
    /// Older than the project's p85 cycle time: more likely late than not.
    pub at_risk: bool,
}

/// Where issues stood at a day's end.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FlowDay {
    /// The day, in the view's time zone.
    pub date: NaiveDate,
    /// Issues in a to-do status.
    pub new: u64,
    /// Issues in an in-progress status.
    pub indeterminate: u64,
    /// Issues done, counting only those that moved into done within the range.
    pub done: u64,
    /// The same issues per status name (statuses with none are left out).
    pub statuses: BTreeMap<String, u64>,
}

/// Time spent in one status within the range, over the issues that spent any there.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusTime {
    pub status: String,
    /// `new` (to do) or `indeterminate` (in progress).
    pub category: String,
    /// Issues that spent time in it.
    pub issues: u64,
    pub total_hours: f64,
    /// The median of the issues' time in it (nearest-rank).
    pub median_hours: f64,
}

impl Flow {
    /// What the view shows: nothing when the organization has no workspace to ask.
    pub(crate) async fn load<A>(
        warehouse: &clickhouse::Client,
        view: &View<A>,
    ) -> Result<Self, DashboardError> {
        let range = Range::of(view);
        if view.scope.installations.is_empty() {
            return Ok(Self::empty(range));
        }
        let flow = warehouse::queries::flow(warehouse, &view.scope).await?;
        Ok(Self::new(range, flow))
    }

    fn empty(range: Range) -> Self {
        Self {
            range,
            as_of_ms: 0,
            weeks: Vec::new(),
            cycle_time: computed::Percentiles::NONE.into(),
            lead_time: computed::Percentiles::NONE.into(),
            completions: Vec::new(),
            completions_total: 0,
            projects: Vec::new(),
            issue_types: Vec::new(),
            priorities: Vec::new(),
            assignees: Vec::new(),
            labels: Vec::new(),
            components: Vec::new(),
            work_items: Vec::new(),
            days: Vec::new(),
            statuses: Vec::new(),
        }
    }

    fn new(range: Range, flow: computed::Flow) -> Self {
        Self {
            range,
            as_of_ms: flow.as_of_ms,
            weeks: flow.weeks.into_iter().map(FlowWeek::from).collect(),
            cycle_time: flow.cycle_time.into(),
            lead_time: flow.lead_time.into(),
            completions: flow.completions.into_iter().map(Completion::from).collect(),
            completions_total: flow.completions_total,
            projects: flow.projects.into_iter().map(GroupFlow::from).collect(),
            issue_types: flow.issue_types.into_iter().map(GroupFlow::from).collect(),
            priorities: flow.priorities.into_iter().map(GroupFlow::from).collect(),
            assignees: flow.assignees.into_iter().map(GroupFlow::from).collect(),
            labels: flow.labels.into_iter().map(GroupFlow::from).collect(),
            components: flow.components.into_iter().map(GroupFlow::from).collect(),
            work_items: flow.work_items.into_iter().map(WorkItem::from).collect(),
            days: flow.days.into_iter().map(FlowDay::from).collect(),
            statuses: flow.statuses.into_iter().map(StatusTime::from).collect(),
        }
    }
}

impl From<computed::Percentiles> for Percentiles {
    fn from(p: computed::Percentiles) -> Self {
        Self {
            count: p.count,
            p50_hours: p.p50_hours,
            p85_hours: p.p85_hours,
            p95_hours: p.p95_hours,
        }
    }
}

impl From<computed::FlowWeek> for FlowWeek {
    fn from(week: computed::FlowWeek) -> Self {
        Self {
            start: week.start,
            completions: week.completions,
            throughput: week.throughput,
            cycle_time: week.cycle_time.into(),
            cycle_start_unseen: week.cycle_start_unseen,
            lead_time: week.lead_time.into(),
            lead_creation_unseen: week.lead_creation_unseen,
        }
    }
}

impl From<computed::Completion> for Completion {
    fn from(c: computed::Completion) -> Self {
        Self {
            issue_key: c.issue_key,
            project_key: c.project_key,
            issue_type: c.issue_type,
            priority: c.priority,
            assignee: c.assignee,
            labels: c.labels,
            components: c.components,
            done_ms: c.done_ms,
            cycle_hours: c.cycle_hours,
            lead_hours: c.lead_hours,
            outlier: c.outlier,
        }
    }
}

impl From<computed::GroupFlow> for GroupFlow {
    fn from(group: computed::GroupFlow) -> Self {
        Self {
            key: group.key,
            name: group.name,
            completions: group.completions,
            cycle_time: group.cycle_time.into(),
        }
    }
}

impl From<computed::WorkItem> for WorkItem {
    fn from(item: computed::WorkItem) -> Self {
        Self {
            issue_key: item.issue_key,
            project_key: item.project_key,
            issue_type: item.issue_type,
            status: item.status,
            assignee: item.assignee,
            assignee_name: item.assignee_name,
            in_progress_since_ms: item.in_progress_since_ms,
            age_hours: item.age_hours,
            project_p85_hours: item.project_p85_hours,
            at_risk: item.at_risk,
        }
    }
}

impl From<computed::DayFlow> for FlowDay {
    fn from(day: computed::DayFlow) -> Self {
        Self {
            date: day.date,
            new: day.new,
            indeterminate: day.indeterminate,
            done: day.done,
            statuses: day.statuses,
        }
    }
}

impl From<computed::StatusTime> for StatusTime {
    fn from(status: computed::StatusTime) -> Self {
        Self {
            status: status.status,
            category: status.category,
            issues: status.issues,
            total_hours: status.total_hours,
            median_hours: status.median_hours,
        }
    }
}

/// Hours as the pages show them: one decimal, a dash for none.
pub(crate) fn hours_label(hours: Option<f64>) -> String {
    hours.map_or_else(|| "–".to_owned(), |hours| format!("{hours:.1}"))
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A row per week: completions, throughput, then cycle and lead time percentiles.
impl CsvRow for FlowWeek {
    fn header() -> Vec<String> {
        [
            "week_start",
            "completions",
            "throughput",
            "cycle_count",
            "cycle_p50_hours",
            "cycle_p85_hours",
            "cycle_p95_hours",
            "cycle_start_unseen",
            "lead_count",
            "lead_p50_hours",
            "lead_p85_hours",
            "lead_p95_hours",
            "lead_creation_unseen",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.start.to_string(),
            self.completions.to_string(),
            self.throughput.to_string(),
            self.cycle_time.count.to_string(),
            optional(self.cycle_time.p50_hours),
            optional(self.cycle_time.p85_hours),
            optional(self.cycle_time.p95_hours),
            self.cycle_start_unseen.to_string(),
            self.lead_time.count.to_string(),
            optional(self.lead_time.p50_hours),
            optional(self.lead_time.p85_hours),
            optional(self.lead_time.p95_hours),
            self.lead_creation_unseen.to_string(),
        ]
    }
}
