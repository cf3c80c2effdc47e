//! The time-logged view: seconds of work logged per week, per project and per person. The JSON
//! API serializes it, its (week, project or person) cells are the CSV's rows, and the
//! time-logged page draws its chart and tables from it.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use warehouse::queries::time_logged as computed;

use super::Range;
use crate::{csv_body::CsvRow, error::DashboardError, view_request::View};

/// Time logged in the range, from the worklog events MetaFrazo received.
///
/// Definitions: each worklog counts as its newest event left it: an update replaces what it said,
/// a deletion removes it, whatever order the events arrived in, and a retried event counts once.
/// It counts in the week (Monday to Sunday, in the view's time zone) its `started` falls in, with
/// its `timeSpentSeconds`, for its author (whose time it is) and its issue's project (the latest
/// project an event of the issue named; an empty key when MetaFrazo never saw the issue). Only
/// what the stream can know: time logged before the workspace was connected is not counted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimeLogged {
    #[serde(flatten)]
    pub range: Range,
    /// Every week of the range, oldest first, with the seconds logged in it.
    pub weeks: Vec<WeekSeconds>,
    pub total_seconds: i64,
    /// Per project key, most time first.
    pub projects: Vec<GroupSeconds>,
    /// Per person (Atlassian account id of the worklog's author), most time first.
    pub people: Vec<GroupSeconds>,
    /// Worklogs counted.
    pub worklogs: u64,
    /// Of those, worklogs on an issue MetaFrazo never saw an event of: no known project.
    pub worklogs_without_project: u64,
}

/// Seconds logged in one week.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WeekSeconds {
    /// The Monday the week starts on, in the view's time zone.
    pub start: NaiveDate,
    pub seconds: i64,
}

/// One project or person: per week, in all, and the issues the time was logged on.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupSeconds {
    /// The project key, or the author's Atlassian account id.
    pub key: String,
    pub total_seconds: i64,
    /// One per week of the range.
    pub weeks: Vec<WeekSeconds>,
    /// The issues behind the total, most time first.
    pub issues: Vec<IssueSeconds>,
}

/// Seconds logged on one issue; its events are the event feed's `issue_key=`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssueSeconds {
    /// Empty when MetaFrazo never saw the issue.
    pub issue_key: String,
    pub seconds: i64,
}

impl TimeLogged {
    /// What the view shows: nothing when the organization has no workspace to ask.
    pub(crate) async fn load<A>(
        warehouse: &clickhouse::Client,
        view: &View<A>,
    ) -> Result<Self, DashboardError> {
        super::refuse_issue_dimensions(view, "time logged")?;
        let range = Range::of(view);
        if view.scope.installations.is_empty() {
            return Ok(Self {
                range,
                weeks: Vec::new(),
                total_seconds: 0,
                projects: Vec::new(),
                people: Vec::new(),
                worklogs: 0,
                worklogs_without_project: 0,
            });
        }
        let logged = warehouse::queries::time_logged(warehouse, &view.scope).await?;
        Ok(Self {
            range,
            weeks: logged.weeks.into_iter().map(WeekSeconds::from).collect(),
            total_seconds: logged.total_seconds,
            projects: logged
                .projects
                .into_iter()
                .map(GroupSeconds::from)
                .collect(),
            people: logged.people.into_iter().map(GroupSeconds::from).collect(),
            worklogs: logged.worklogs,
            worklogs_without_project: logged.worklogs_without_project,
        })
    }

    /// The CSV's rows: every week's total, then every week of every project and person.
    pub(crate) fn cells(&self) -> Vec<TimeCell> {
        let mut cells: Vec<TimeCell> = self
            .weeks
            .iter()
            .map(|week| TimeCell {
                week_start: week.start,
                dimension: "total",
                key: String::new(),
                seconds: week.seconds,
            })
            .collect();
        for (dimension, groups) in [("project", &self.projects), ("person", &self.people)] {
            for group in groups {
                cells.extend(group.weeks.iter().map(|week| TimeCell {
                    week_start: week.start,
                    dimension,
                    key: group.key.clone(),
                    seconds: week.seconds,
                }));
            }
        }
        cells
    }
}

/// One CSV row: the seconds of a week, in all or for one project or person.
pub(crate) struct TimeCell {
    pub week_start: NaiveDate,
    /// `total`, `project` or `person`.
    pub dimension: &'static str,
    pub key: String,
    pub seconds: i64,
}

impl CsvRow for TimeCell {
    fn header() -> Vec<String> {
        ["week_start", "dimension", "key", "seconds"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.week_start.to_string(),
            self.dimension.to_owned(),
            self.key.clone(),
            self.seconds.to_string(),
        ]
    }
}

impl From<computed::WeekSeconds> for WeekSeconds {
    fn from(week: computed::WeekSeconds) -> Self {
        Self {
            start: week.start,
            seconds: week.seconds,
        }
    }
}

impl From<computed::GroupSeconds> for GroupSeconds {
    fn from(group: computed::GroupSeconds) -> Self {
        Self {
            key: group.key,
            total_seconds: group.total_seconds,
            weeks: group.weeks.into_iter().map(WeekSeconds::from).collect(),
            issues: group
                .issues
                .into_iter()
                .map(|issue| IssueSeconds {
                    issue_key: issue.issue_key,
                    seconds: issue.seconds,
                })
                .collect(),
        }
    }
}
