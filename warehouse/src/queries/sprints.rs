//! Sprints: per sprint, the issues committed, added, removed and completed, from the sprint
//! deliveries (`sprints`) and Jira's `Sprint` changelog items (`sprint_moves`, copied from
//! `field_changes`), any board type.
//! Read as rows and put together here: a tenant has few sprints and few sprint moves next to its
//! events, and each sprint needs its issues' whole membership history.
//!
//! Definitions (the sprints page and the OpenAPI document say the same):
//! - A sprint **starts** at its `sprint_started` delivery and **closes** at its `sprint_closed`
//!   delivery (the earliest of each, if a copy came twice).
//! - An issue is **in** a sprint after a `Sprint` change whose new value lists the sprint, and out
//!   after one whose new value does not while its old value did. Before the first change we saw,
//!   it stood as that change's old value says.
//! - **Committed**: in the sprint at its start. **Added**: moved into it after the start and before
//!   the close. **Removed**: moved out of it after the start and before the close (the moves Jira
//!   makes at the close, carrying unfinished issues over, are not removals). **Completed**: in the
//!   sprint at its close and in a done status category then.
//! - Only what the stream can know: a sprint whose start we never saw has no committed count; a
//!   sprint created before the connection may hold issues planned into it then that never moved
//!   since, which we cannot see; both are flagged, never guessed.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::{Client, Row};
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::{
    scope::{QueryError, Scope},
    visibility::Visibility,
};

/// One sprint as a view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sprint {
    pub installation_id: InstallationId,
    pub sprint_id: String,
    pub board_id: String,
    pub name: String,
    /// Jira's latest `state` (`future`, `active`, `closed`), or `deleted`.
    pub state: String,
    /// When we saw it start (its `sprint_started` delivery), else the start date Jira gave.
    pub start_ms: Option<i64>,
    /// Its planned end, as Jira gave it.
    pub end_ms: Option<i64>,
    /// When we saw it close, else the complete date Jira gave.
    pub close_ms: Option<i64>,
    pub created_seen: bool,
    pub start_seen: bool,
    pub close_seen: bool,
    /// None when its start was not seen.
    pub committed: Option<SprintIssues>,
    pub added: SprintIssues,
    pub removed: SprintIssues,
    /// None until its close was seen.
    pub completed: Option<SprintIssues>,
    /// Issues in the sprint at its close whose status then we do not know.
    pub completed_unknown: SprintIssues,
    /// Every number is exact: we saw it created, started and (when closed) closed.
    pub exact: bool,
    /// What the stream cannot know about it, in words.
    pub notes: Vec<String>,
}

/// A count and the issues behind it (for drill-down), ordered by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SprintIssues {
    pub count: u64,
    pub issues: Vec<SprintIssue>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SprintIssue {
    pub issue_key: String,
    pub project_key: String,
    pub issue_id: String,
}

/// The scope's sprints, oldest start first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sprints {
    pub sprints: Vec<Sprint>,
}

/// One sprint delivery, deduplicated.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct SprintDelivery {
    pub(crate) installation_id: InstallationId,
    pub(crate) sprint_id: String,
    pub(crate) occurred_at_ms: i64,
    pub(crate) delivery_id: String,
    pub(crate) event_type: String,
    pub(crate) board_id: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    pub(crate) complete_ms: i64,
}

/// One `Sprint` changelog item, deduplicated.
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct SprintMove {
    pub(crate) installation_id: InstallationId,
    pub(crate) issue_id: String,
    pub(crate) issue_key: String,
    pub(crate) project_key: String,
    pub(crate) issue_type: String,
    pub(crate) occurred_at_ms: i64,
    pub(crate) delivery_id: String,
    pub(crate) item_index: u16,
    pub(crate) from_value: String,
    pub(crate) to_value: String,
}

/// A status category an issue had from an instant on (`issue_timeline`).
#[derive(Debug, Clone, Row, Deserialize)]
pub(crate) struct StatusAt {
    pub(crate) installation_id: InstallationId,
    pub(crate) issue_id: String,
    pub(crate) occurred_at_ms: i64,
    pub(crate) status_category: String,
}

/// The scope's sprints that overlap its range: started (or first seen) before its end, and not
/// closed before its start. Issues are filtered by the scope's projects and issue types.
pub async fn sprints(client: &Client, scope: &Scope) -> Result<Sprints, QueryError> {
    scope.validate()?;
    let deliveries: Vec<SprintDelivery> = client
        .query(
            "SELECT installation_id, sprint_id, occurred_at_ms, delivery_id, event_type, board_id,
                    name, state, start_ms, end_ms, complete_ms
             FROM sprints
             WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
             ORDER BY installation_id, sprint_id, occurred_at_ms, delivery_id
             LIMIT 1 BY installation_id, sprint_id, occurred_at_ms, delivery_id",
        )
        .bind(&scope.installations)
        .fetch_all()
        .await?;
    let moves: Vec<SprintMove> = client
        .query(
            "SELECT installation_id, issue_id, issue_key, project_key, issue_type, occurred_at_ms,
                    delivery_id, item_index, from_value, to_value
             FROM sprint_moves
             WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
             ORDER BY installation_id, occurred_at_ms, delivery_id, item_index
             LIMIT 1 BY installation_id, delivery_id, item_index",
        )
        .bind(&scope.installations)
        .fetch_all()
        .await?;
    let issue_ids: Vec<String> = moves
        .iter()
        .map(|change| change.issue_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let statuses: Vec<StatusAt> = if issue_ids.is_empty() {
        Vec::new()
    } else {
        client
            .query(
                "SELECT installation_id, issue_id, occurred_at_ms, status_category
                 FROM issue_timeline
                 WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                   AND issue_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                   AND status_category != ''
                 ORDER BY installation_id, issue_id, occurred_at_ms, delivery_id, kind, item_index
                 LIMIT 1 BY installation_id, issue_id, occurred_at_ms, delivery_id, kind, item_index",
            )
            .bind(&scope.installations)
            .bind(&issue_ids)
            .fetch_all()
            .await?
    };
    Ok(compute(scope, &deliveries, &moves, &statuses))
}

/// The sprint ids a `Sprint` changelog value lists (`"56, 57"`).
fn listed(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|id| !id.is_empty())
}

type SprintKey = (InstallationId, String);
type IssueKey = (InstallationId, String);

/// Puts the rows together; pure, for tests.
pub(crate) fn compute(
    scope: &Scope,
    deliveries: &[SprintDelivery],
    moves: &[SprintMove],
    statuses: &[StatusAt],
) -> Sprints {
    let wanted = |change: &SprintMove| {
        let filters = &scope.filters;
        (filters.projects.is_empty() || filters.projects.contains(&change.project_key))
            && (filters.issue_types.is_empty() || filters.issue_types.contains(&change.issue_type))
            && scope.visibility.shows(
                change.installation_id,
                &change.project_key,
                &change.issue_id,
            )
    };
    // Each (sprint, issue)'s moves, in time order (the query's order; ties by delivery, item).
    let mut moves_of: BTreeMap<SprintKey, BTreeMap<IssueKey, Vec<&SprintMove>>> = BTreeMap::new();
    let mut issue_of: BTreeMap<IssueKey, SprintIssue> = BTreeMap::new();
    let mut ordered: Vec<&SprintMove> = moves.iter().filter(|change| wanted(change)).collect();
    ordered.sort_by(|a, b| {
        (a.occurred_at_ms, &a.delivery_id, a.item_index).cmp(&(
            b.occurred_at_ms,
            &b.delivery_id,
            b.item_index,
        ))
    });
    for change in ordered {
        let issue = (change.installation_id, change.issue_id.clone());
        // The latest key and project, as an issue can move between projects.
        issue_of.insert(
            issue.clone(),
            SprintIssue {
                issue_key: change.issue_key.clone(),
                project_key: change.project_key.clone(),
                issue_id: change.issue_id.clone(),
            },
        );
        let sprints: BTreeSet<&str> = listed(&change.from_value)
            .chain(listed(&change.to_value))
            .collect();
        for sprint in sprints {
            moves_of
                .entry((change.installation_id, sprint.to_owned()))
                .or_default()
                .entry(issue.clone())
                .or_default()
                .push(change);
        }
    }
    let mut status_of: BTreeMap<IssueKey, Vec<(i64, &str)>> = BTreeMap::new();
    for status in statuses {
        status_of
            .entry((status.installation_id, status.issue_id.clone()))
            .or_default()
            .push((status.occurred_at_ms, status.status_category.as_str()));
    }
    for history in status_of.values_mut() {
        history.sort();
    }

    let mut by_sprint: BTreeMap<SprintKey, Vec<&SprintDelivery>> = BTreeMap::new();
    for delivery in deliveries {
        by_sprint
            .entry((delivery.installation_id, delivery.sprint_id.clone()))
            .or_default()
            .push(delivery);
    }
    let (from_ms, to_ms) = (scope.from.timestamp_millis(), scope.to.timestamp_millis());
    let empty = BTreeMap::new();
    let mut sprints: Vec<Sprint> = by_sprint
        .into_iter()
        .filter_map(|(key, mut seen)| {
            seen.sort_by(|a, b| {
                (a.occurred_at_ms, &a.delivery_id).cmp(&(b.occurred_at_ms, &b.delivery_id))
            });
            let first_of = |event_type: &str| {
                seen.iter()
                    .find(|delivery| delivery.event_type == event_type)
                    .map(|delivery| delivery.occurred_at_ms)
            };
            let latest = seen.last()?;
            let started_at = first_of("sprint_started");
            let closed_at = first_of("sprint_closed");
            let deleted = first_of("sprint_deleted").is_some();
            let created_seen = first_of("sprint_created").is_some();
            let given_start = seen
                .iter()
                .rev()
                .map(|delivery| delivery.start_ms)
                .find(|start| *start >= 0);
            let start_ms = started_at.or(given_start);
            let first_seen = seen.first().map_or(0, |delivery| delivery.occurred_at_ms);
            let from_on = start_ms.unwrap_or(first_seen).min(first_seen);
            let given_close = seen
                .iter()
                .rev()
                .map(|delivery| delivery.complete_ms)
                .find(|close| *close >= 0);
            let until = closed_at.or(given_close).unwrap_or(i64::MAX);
            if from_on >= to_ms || until < from_ms {
                return None;
            }
            let issues = moves_of.get(&key).unwrap_or(&empty);
            // A board's sprints are not a project's: under Jira's permissions a sprint shows
            // only through an issue the account may see.
            if matches!(scope.visibility, Visibility::Permitted(_)) && issues.is_empty() {
                return None;
            }
            let mut sprint = Sprint {
                installation_id: key.0,
                sprint_id: key.1.clone(),
                board_id: latest.board_id.clone(),
                name: latest.name.clone(),
                state: if deleted {
                    "deleted".to_owned()
                } else {
                    latest.state.clone()
                },
                start_ms,
                end_ms: seen
                    .iter()
                    .rev()
                    .map(|delivery| delivery.end_ms)
                    .find(|end| *end >= 0),
                close_ms: closed_at.or(given_close),
                created_seen,
                start_seen: started_at.is_some(),
                close_seen: closed_at.is_some(),
                committed: None,
                added: SprintIssues::default(),
                removed: SprintIssues::default(),
                completed: None,
                completed_unknown: SprintIssues::default(),
                exact: false,
                notes: Vec::new(),
            };
            let mut committed = BTreeSet::new();
            let (mut added, mut removed) = (BTreeSet::new(), BTreeSet::new());
            let (mut completed, mut unknown) = (BTreeSet::new(), BTreeSet::new());
            // Moves count as added or removed from the start on (or, unseen, from Jira's start
            // date, or from the first delivery of the sprint we saw).
            let window_from = start_ms.unwrap_or(first_seen);
            for (issue, changes) in issues {
                let member_at = |at: i64| membership_before(&key.1, changes, at);
                if let Some(started) = started_at
                    && member_at(started)
                {
                    committed.insert(issue.clone());
                }
                for change in changes {
                    let was = listed(&change.from_value).any(|id| id == key.1);
                    let is = listed(&change.to_value).any(|id| id == key.1);
                    let during =
                        change.occurred_at_ms >= window_from && change.occurred_at_ms < until;
                    if during && !was && is {
                        added.insert(issue.clone());
                    }
                    if during && was && !is {
                        removed.insert(issue.clone());
                    }
                }
                if let Some(closed) = closed_at
                    && member_at(closed)
                {
                    match category_at(status_of.get(issue), closed) {
                        Some("done") => {
                            completed.insert(issue.clone());
                        }
                        Some(_) => {}
                        None => {
                            unknown.insert(issue.clone());
                        }
                    }
                }
            }
            let listing = |set: &BTreeSet<IssueKey>| {
                let mut issues: Vec<SprintIssue> = set
                    .iter()
                    .filter_map(|issue| issue_of.get(issue).cloned())
                    .collect();
                issues.sort();
                SprintIssues {
                    count: issues.len() as u64,
                    issues,
                }
            };
            sprint.committed = sprint.start_seen.then(|| listing(&committed));
            sprint.added = listing(&added);
            sprint.removed = listing(&removed);
            sprint.completed = sprint.close_seen.then(|| listing(&completed));
            sprint.completed_unknown = listing(&unknown);
            if !created_seen {
                sprint.notes.push(
                    "Created before the connection: issues planned into it then and never moved since are not counted."
                        .to_owned(),
                );
            }
            if !sprint.start_seen && sprint.state != "future" {
                sprint.notes.push(
                    "Started before the connection: committed is unknown, and added and removed count only the moves we saw."
                        .to_owned(),
                );
            }
            if !sprint.close_seen && sprint.state == "closed" {
                sprint
                    .notes
                    .push("Its close was not delivered: completed is unknown.".to_owned());
            }
            if sprint.completed_unknown.count > 0 {
                sprint.notes.push(format!(
                    "{} issue(s) in it at its close had no status we saw: not counted as completed.",
                    sprint.completed_unknown.count
                ));
            }
            sprint.exact = sprint.notes.is_empty();
            Some(sprint)
        })
        .collect();
    sprints.sort_by(|a, b| {
        (
            a.start_ms.unwrap_or(i64::MAX),
            a.installation_id,
            &a.name,
            &a.sprint_id,
        )
            .cmp(&(
                b.start_ms.unwrap_or(i64::MAX),
                b.installation_id,
                &b.name,
                &b.sprint_id,
            ))
    });
    Sprints { sprints }
}

/// Whether the issue was in `sprint` just before `at`: as its last move before `at` left it, or,
/// with none, as its first move found it.
fn membership_before(sprint: &str, changes: &[&SprintMove], at: i64) -> bool {
    let before = changes
        .iter()
        .rev()
        .find(|change| change.occurred_at_ms < at);
    match before {
        Some(change) => listed(&change.to_value).any(|id| id == sprint),
        None => changes
            .first()
            .is_some_and(|change| listed(&change.from_value).any(|id| id == sprint)),
    }
}

/// The status category an issue had at `at` (its latest state at or before it).
fn category_at<'a>(history: Option<&Vec<(i64, &'a str)>>, at: i64) -> Option<&'a str> {
    history?
        .iter()
        .rev()
        .find(|(since, _)| *since <= at)
        .map(|(_, category)| *category)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::queries::scope::Filters;

    const HOUR: i64 = 3_600_000;

    fn installation() -> InstallationId {
        InstallationId::from_uuid(uuid::Uuid::from_u128(7))
    }

    fn scope(projects: &[&str]) -> Scope {
        Scope {
            installations: vec![installation()],
            from: Utc.timestamp_millis_opt(0).unwrap(),
            to: Utc.timestamp_millis_opt(1_000 * HOUR).unwrap(),
            time_zone: "UTC".into(),
            filters: Filters {
                projects: projects.iter().map(|p| (*p).to_owned()).collect(),
                ..Filters::default()
            },
            visibility: Default::default(),
        }
    }

    fn delivery(event_type: &str, at: i64) -> SprintDelivery {
        SprintDelivery {
            installation_id: installation(),
            sprint_id: "5".into(),
            occurred_at_ms: at * HOUR,
            delivery_id: format!("{event_type}-{at}"),
            event_type: event_type.into(),
            board_id: "1".into(),
            name: "S5".into(),
            state: if event_type == "sprint_closed" {
                "closed"
            } else {
                "active"
            }
            .into(),
            start_ms: 10 * HOUR,
            end_ms: 100 * HOUR,
            complete_ms: -1,
        }
    }

    fn moved(issue: u32, project: &str, at: i64, from: &str, to: &str) -> SprintMove {
        SprintMove {
            installation_id: installation(),
            issue_id: issue.to_string(),
            issue_key: format!("{project}-{issue}"),
            project_key: project.into(),
            issue_type: "Task".into(),
            occurred_at_ms: at * HOUR,
            delivery_id: format!("move-{issue}-{at}"),
            item_index: 0,
            from_value: from.into(),
            to_value: to.into(),
        }
    }

    fn keys(issues: &SprintIssues) -> Vec<&str> {
        issues.issues.iter().map(|i| i.issue_key.as_str()).collect()
    }

    #[test]
    fn an_issue_first_seen_leaving_was_in_the_sprint_before() {
        // Created and started seen; issue 1 was planned before any move we saw (its first move,
        // after the start, takes it out): committed and removed.
        let deliveries = [
            delivery("sprint_created", 1),
            delivery("sprint_started", 10),
        ];
        let moves = [moved(1, "A", 20, "4, 5", "4")];
        let found = compute(&scope(&[]), &deliveries, &moves, &[]);
        let sprint = &found.sprints[0];
        assert_eq!(keys(sprint.committed.as_ref().unwrap()), ["A-1"]);
        assert_eq!(keys(&sprint.removed), ["A-1"]);
        assert!(sprint.added.issues.is_empty());
        assert_eq!(sprint.completed, None, "not closed");
        assert!(sprint.exact, "{:?}", sprint.notes);
    }

    #[test]
    fn a_close_counts_done_issues_and_says_which_it_cannot_know() {
        let deliveries = [
            delivery("sprint_created", 1),
            delivery("sprint_started", 10),
            delivery("sprint_closed", 100),
        ];
        let moves = [
            moved(1, "A", 2, "", "5"),
            moved(2, "A", 3, "", "5"),
            moved(3, "B", 4, "", "5"),
            // Carried over a minute after the close: not a removal.
            moved(2, "A", 101, "5", "5, 6"),
        ];
        let statuses = [
            StatusAt {
                installation_id: installation(),
                issue_id: "1".into(),
                occurred_at_ms: 50 * HOUR,
                status_category: "done".into(),
            },
            StatusAt {
                installation_id: installation(),
                issue_id: "2".into(),
                occurred_at_ms: 60 * HOUR,
                status_category: "indeterminate".into(),
            },
        ];
        let found = compute(&scope(&[]), &deliveries, &moves, &statuses);
        let sprint = &found.sprints[0];
        assert_eq!(
            keys(sprint.committed.as_ref().unwrap()),
            ["A-1", "A-2", "B-3"]
        );
        assert_eq!(keys(sprint.completed.as_ref().unwrap()), ["A-1"]);
        assert_eq!(keys(&sprint.completed_unknown), ["B-3"]);
        assert!(sprint.removed.issues.is_empty());
        assert!(!sprint.exact, "an issue's status at the close is unknown");

        let only_b = compute(&scope(&["B"]), &deliveries, &moves, &statuses);
        let sprint = &only_b.sprints[0];
        assert_eq!(keys(sprint.committed.as_ref().unwrap()), ["B-3"]);
    }

    #[test]
    fn a_sprint_outside_the_range_is_left_out() {
        let deliveries = [
            delivery("sprint_started", 10),
            delivery("sprint_closed", 100),
        ];
        let mut late = scope(&[]);
        late.from = Utc.timestamp_millis_opt(200 * HOUR).unwrap();
        assert!(compute(&late, &deliveries, &[], &[]).sprints.is_empty());
    }
}
