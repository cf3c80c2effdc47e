//! Time logged: the seconds of work logged per week, per project and per person, from the
//! worklog deliveries (`worklogs`). Each worklog counts as its newest delivery left it (an update
//! replaces it, a deletion removes it), whatever order the deliveries came in.
//!
//! Definitions (the time-logged page and the OpenAPI document say the same):
//! - A worklog counts in the week (Monday to Sunday, in the viewer's time zone) its `started`
//!   falls in, with its `timeSpentSeconds`, for its author (whose time it is, not who edited it)
//!   and its issue's project (the latest project a delivery of the issue named).
//! - Only worklogs whose `started` is in the range; only what the stream saw: time logged before
//!   the connection, or on worklogs we never got a delivery of, is not counted.
//! - A worklog on an issue we never saw a delivery of has no project we know: it counts under an
//!   empty project key and the page says so.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use clickhouse::{Client, Row};
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::scope::{QueryError, Scope};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeLogged {
    /// Every week of the range, with its total.
    pub weeks: Vec<WeekSeconds>,
    pub total_seconds: i64,
    pub projects: Vec<GroupSeconds>,
    pub people: Vec<GroupSeconds>,
    /// Worklogs counted.
    pub worklogs: u64,
    /// Of those, worklogs on an issue whose project we never saw.
    pub worklogs_without_project: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekSeconds {
    /// The Monday it starts on, in the scope's time zone.
    pub start: NaiveDate,
    pub seconds: i64,
}

/// A project (key) or a person (Atlassian account id): per week and in all, with the issues the
/// time was logged on (the drill-down).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSeconds {
    pub key: String,
    pub total_seconds: i64,
    /// One per week of the range, in order.
    pub weeks: Vec<WeekSeconds>,
    pub issues: Vec<IssueSeconds>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IssueSeconds {
    pub issue_key: String,
    pub issue_id: String,
    pub seconds: i64,
}

/// A worklog as its newest delivery left it.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct Worklog {
    pub(crate) installation_id: InstallationId,
    pub(crate) issue_id: String,
    pub(crate) author_account_id: String,
    pub(crate) started_ms: i64,
    pub(crate) time_spent_seconds: i64,
}

/// An issue's latest key, project and type.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct IssueOf {
    pub(crate) installation_id: InstallationId,
    pub(crate) issue_id: String,
    pub(crate) issue_key: String,
    pub(crate) project_key: String,
    pub(crate) issue_type: String,
}

pub async fn time_logged(client: &Client, scope: &Scope) -> Result<TimeLogged, QueryError> {
    scope.validate()?;
    let tz: Tz = scope
        .time_zone
        .parse()
        .map_err(|_| QueryError::BadTimeZone(scope.time_zone.clone()))?;
    // The newest row of each worklog first, then the range: an update may move `started` in or
    // out of it, and a deletion must hide what it deletes.
    let worklogs: Vec<Worklog> = client
        .query(
            "SELECT installation_id, issue_id, author_account_id, started_ms, time_spent_seconds
             FROM (
                 SELECT installation_id, worklog_id, issue_id, author_account_id, started_ms,
                        time_spent_seconds, deleted
                 FROM worklogs
                 WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                 ORDER BY installation_id, worklog_id, version DESC, delivery_id DESC
                 LIMIT 1 BY installation_id, worklog_id
             )
             WHERE deleted = 0 AND started_ms >= ? AND started_ms < ?",
        )
        .bind(&scope.installations)
        .bind(scope.from.timestamp_millis())
        .bind(scope.to.timestamp_millis())
        .fetch_all()
        .await?;
    let issue_ids: Vec<&str> = worklogs
        .iter()
        .map(|worklog| worklog.issue_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let issues: Vec<IssueOf> = if issue_ids.is_empty() {
        Vec::new()
    } else {
        client
            .query(
                "SELECT installation_id, issue_id, issue_key, project_key, issue_type
                 FROM issue_timeline
                 WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                   AND issue_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                   AND project_key != ''
                 ORDER BY installation_id, issue_id, occurred_at_ms DESC, delivery_id DESC
                 LIMIT 1 BY installation_id, issue_id",
            )
            .bind(&scope.installations)
            .bind(&issue_ids)
            .fetch_all()
            .await?
    };
    Ok(compute(scope, tz, &worklogs, &issues))
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

fn local_monday(tz: Tz, ms: i64) -> NaiveDate {
    monday_of(
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive(),
    )
}

#[derive(Default)]
struct Group {
    weeks: BTreeMap<NaiveDate, i64>,
    issues: BTreeMap<(String, String), i64>,
}

/// Adds the worklogs up; pure, for tests.
pub(crate) fn compute(
    scope: &Scope,
    tz: Tz,
    worklogs: &[Worklog],
    issues: &[IssueOf],
) -> TimeLogged {
    let mut week_starts = vec![local_monday(tz, scope.from.timestamp_millis())];
    let last = local_monday(tz, scope.to.timestamp_millis() - 1);
    while let Some(next) = week_starts.last().map(|week| *week + Days::new(7))
        && next <= last
    {
        week_starts.push(next);
    }
    let issue_of: BTreeMap<(InstallationId, &str), &IssueOf> = issues
        .iter()
        .map(|issue| ((issue.installation_id, issue.issue_id.as_str()), issue))
        .collect();
    let filters = &scope.filters;
    let mut totals: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut projects: BTreeMap<String, Group> = BTreeMap::new();
    let mut people: BTreeMap<String, Group> = BTreeMap::new();
    let (mut counted, mut without_project) = (0, 0);
    for worklog in worklogs {
        let issue = issue_of.get(&(worklog.installation_id, worklog.issue_id.as_str()));
        let project = issue.map_or("", |issue| issue.project_key.as_str());
        let issue_type = issue.map_or("", |issue| issue.issue_type.as_str());
        let issue_key = issue.map_or("", |issue| issue.issue_key.as_str());
        if !filters.projects.is_empty() && !filters.projects.iter().any(|p| p == project) {
            continue;
        }
        // Time on an issue whose project is not known yet is nobody's to see under Jira's
        // permissions, as the raw-row views treat a row without a project.
        if !scope
            .visibility
            .shows(worklog.installation_id, project, &worklog.issue_id)
        {
            continue;
        }
        if !filters.issue_types.is_empty() && !filters.issue_types.iter().any(|t| t == issue_type) {
            continue;
        }
        counted += 1;
        if issue.is_none() {
            without_project += 1;
        }
        let week = local_monday(tz, worklog.started_ms);
        let seconds = worklog.time_spent_seconds;
        *totals.entry(week).or_default() += seconds;
        let issue_ref = (issue_key.to_owned(), worklog.issue_id.clone());
        for group in [
            projects.entry(project.to_owned()).or_default(),
            people.entry(worklog.author_account_id.clone()).or_default(),
        ] {
            *group.weeks.entry(week).or_default() += seconds;
            *group.issues.entry(issue_ref.clone()).or_default() += seconds;
        }
    }
    let weeks_of = |by_week: &BTreeMap<NaiveDate, i64>| -> Vec<WeekSeconds> {
        week_starts
            .iter()
            .map(|start| WeekSeconds {
                start: *start,
                seconds: by_week.get(start).copied().unwrap_or(0),
            })
            .collect()
    };
    let groups = |groups: BTreeMap<String, Group>| -> Vec<GroupSeconds> {
        let mut out: Vec<GroupSeconds> = groups
            .into_iter()
            .map(|(key, group)| {
                let mut issues: Vec<IssueSeconds> = group
                    .issues
                    .into_iter()
                    .map(|((issue_key, issue_id), seconds)| IssueSeconds {
                        issue_key,
                        issue_id,
                        seconds,
                    })
                    .collect();
                issues.sort_by(|a, b| b.seconds.cmp(&a.seconds).then(a.cmp(b)));
                GroupSeconds {
                    key,
                    total_seconds: group.weeks.values().sum(),
                    weeks: weeks_of(&group.weeks),
                    issues,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.total_seconds
                .cmp(&a.total_seconds)
                .then_with(|| a.key.cmp(&b.key))
        });
        out
    };
    TimeLogged {
        weeks: weeks_of(&totals),
        total_seconds: totals.values().sum(),
        projects: groups(projects),
        people: groups(people),
        worklogs: counted,
        worklogs_without_project: without_project,
    }
}
