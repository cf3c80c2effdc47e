//! One issue's history as the flow metrics read it: the stretches of time it spent in each
//! status (segments), built from its `issue_timeline` rows. Only what the stream can know: an
//! issue whose creation we never saw (it predates the connection) has a first segment whose
//! start is unknown, and nothing is guessed about the time before it.

use std::collections::HashMap;

/// Jira's status category keys.
pub(crate) const IN_PROGRESS: &str = "indeterminate";
pub(crate) const DONE: &str = "done";

/// One `issue_timeline` row, as a refresh reads it.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub(crate) struct TimelineRow {
    pub installation_id: String,
    pub issue_id: String,
    pub occurred_at_ms: i64,
    pub delivery_id: String,
    /// 0: the issue as the delivery left it; 1: the delivery's status change.
    pub kind: u8,
    pub event_type: String,
    pub project_key: String,
    pub issue_key: String,
    pub issue_type: String,
    /// Empty on a status change's row.
    pub priority: String,
    pub status: String,
    pub status_category: String,
    /// A status change's previous status (empty on a state row).
    pub from_status: String,
    /// Empty on a status change's row, as the priority.
    pub assignee_account_id: String,
    pub assignee_name: String,
    pub labels: Vec<String>,
    pub components: Vec<String>,
}

impl TimelineRow {
    /// The values a state row gives the issue (a status change's row has none).
    fn dimensions(&self) -> Dimensions {
        Dimensions {
            priority: self.priority.clone(),
            assignee_account_id: self.assignee_account_id.clone(),
            assignee_name: self.assignee_name.clone(),
            labels: self.labels.clone(),
            components: self.components.clone(),
        }
    }
}

/// What the views filter and break an issue's facts down by besides its project and type, as one
/// delivery states them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dimensions {
    pub priority: String,
    /// Empty when unassigned.
    pub assignee_account_id: String,
    pub assignee_name: String,
    /// Sorted.
    pub labels: Vec<String>,
    /// Sorted.
    pub components: Vec<String>,
}

pub(crate) const STATE: u8 = 0;
pub(crate) const MOVE: u8 = 1;

/// A stretch of time in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// When the issue moved into the status; `None` when that predates what we saw.
    pub start_ms: Option<i64>,
    /// When we know the issue was in it from: the start, or the first delivery we saw.
    pub seen_from_ms: i64,
    /// Exclusive: the next segment's start, the deletion, or the history's end.
    pub end_ms: i64,
    pub status: String,
    /// `new`, `indeterminate`, `done`, or empty when no delivery said.
    pub category: String,
    /// The issue's priority, assignee, labels and components as the delivery that started the
    /// segment left it (for the first segment of an issue first seen mid-flight, the first
    /// delivery's).
    pub dimensions: Dimensions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssueHistory {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    /// When it was created, if we saw it.
    pub created_ms: Option<i64>,
    pub deleted_ms: Option<i64>,
    /// In time order; never empty.
    pub segments: Vec<Segment>,
}

/// The category of each status name, as the deliveries left issues in them (the names a status
/// change came from have no category of their own on the row).
pub(crate) fn categories(rows: &[TimelineRow]) -> HashMap<String, String> {
    rows.iter()
        .filter(|row| !row.status_category.is_empty())
        .map(|row| (row.status.clone(), row.status_category.clone()))
        .collect()
}

/// Builds one issue's history from its rows (any order, copies allowed), up to `end_ms`.
/// `None` when no row says what status the issue was in.
pub(crate) fn history(
    rows: &[TimelineRow],
    categories: &HashMap<String, String>,
    end_ms: i64,
) -> Option<IssueHistory> {
    let mut rows: Vec<&TimelineRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.occurred_at_ms, &a.delivery_id, a.kind).cmp(&(b.occurred_at_ms, &b.delivery_id, b.kind))
    });
    rows.dedup_by(|a, b| {
        a.occurred_at_ms == b.occurred_at_ms && a.delivery_id == b.delivery_id && a.kind == b.kind
    });
    let latest = rows.iter().rev().find(|row| row.kind == STATE)?;
    let created_ms = rows
        .iter()
        .find(|row| row.kind == STATE && row.event_type == "issue_created")
        .map(|row| row.occurred_at_ms);
    let deleted_ms = rows
        .iter()
        .find(|row| row.kind == STATE && row.event_type == "issue_deleted")
        .map(|row| row.occurred_at_ms);
    let end_ms = deleted_ms.map_or(end_ms, |deleted| deleted.min(end_ms));
    let category_of = |status: &str| categories.get(status).cloned().unwrap_or_default();

    let mut segments: Vec<Segment> = Vec::new();
    let first = rows
        .iter()
        .find(|row| row.kind == STATE)
        .expect("a state row, as `latest` found one");
    let first_ms = first.occurred_at_ms;
    if created_ms == Some(first_ms) {
        segments.push(Segment {
            start_ms: Some(first_ms),
            seen_from_ms: first_ms,
            end_ms,
            status: first.status.clone(),
            category: first.status_category.clone(),
            dimensions: first.dimensions(),
        });
    } else {
        // Before the first delivery we saw: if it moved the issue, the issue stood in the status
        // it came from (since when, unknown) and entered the new one then.
        let moved = rows
            .iter()
            .find(|row| row.kind == MOVE && row.delivery_id == first.delivery_id);
        let before = moved.map_or(&first.status, |row| &row.from_status);
        segments.push(Segment {
            start_ms: None,
            seen_from_ms: first_ms,
            end_ms,
            status: before.clone(),
            category: category_of(before),
            dimensions: first.dimensions(),
        });
    }
    for row in rows.iter().filter(|row| row.kind == STATE) {
        let current = segments.last_mut().expect("a first segment");
        if row.status == current.status || row.occurred_at_ms >= end_ms {
            continue;
        }
        current.end_ms = row.occurred_at_ms;
        segments.push(Segment {
            start_ms: Some(row.occurred_at_ms),
            seen_from_ms: row.occurred_at_ms,
            end_ms,
            status: row.status.clone(),
            category: if row.status_category.is_empty() {
                category_of(&row.status)
            } else {
                row.status_category.clone()
            },
            dimensions: row.dimensions(),
        });
    }
    Some(IssueHistory {
        issue_key: latest.issue_key.clone(),
        project_key: latest.project_key.clone(),
        issue_type: latest.issue_type.clone(),
        created_ms,
        deleted_ms,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        ms: i64,
        delivery: &str,
        kind: u8,
        event: &str,
        status: &str,
        category: &str,
    ) -> TimelineRow {
        TimelineRow {
            installation_id: "i".into(),
            issue_id: "1".into(),
            occurred_at_ms: ms,
            delivery_id: delivery.into(),
            kind,
            event_type: event.into(),
            project_key: "PAY".into(),
            issue_key: "PAY-1".into(),
            issue_type: "Bug".into(),
            priority: "High".into(),
            status: status.into(),
            status_category: category.into(),
            from_status: String::new(),
            assignee_account_id: String::new(),
            assignee_name: String::new(),
            labels: Vec::new(),
            components: Vec::new(),
        }
    }

    fn moved(ms: i64, delivery: &str, from: &str, to: &str, category: &str) -> TimelineRow {
        TimelineRow {
            from_status: from.into(),
            ..row(ms, delivery, MOVE, "status_changed", to, category)
        }
    }

    fn starts(history: &IssueHistory) -> Vec<(Option<i64>, &str, i64)> {
        history
            .segments
            .iter()
            .map(|s| (s.start_ms, s.status.as_str(), s.end_ms))
            .collect()
    }

    #[test]
    fn a_seen_creation_starts_the_first_segment_and_copies_and_order_change_nothing() {
        let rows = vec![
            row(30, "c", STATE, "issue_updated", "Done", DONE),
            row(10, "a", STATE, "issue_created", "To Do", "new"),
            row(20, "b", STATE, "issue_updated", "In Progress", IN_PROGRESS),
            row(20, "b", STATE, "issue_updated", "In Progress", IN_PROGRESS),
            row(25, "x", STATE, "issue_updated", "In Progress", IN_PROGRESS),
        ];
        let history = history(&rows, &categories(&rows), 100).unwrap();
        assert_eq!(history.created_ms, Some(10));
        assert_eq!(
            starts(&history),
            [
                (Some(10), "To Do", 20),
                (Some(20), "In Progress", 30),
                (Some(30), "Done", 100)
            ]
        );
    }

    #[test]
    fn an_issue_first_seen_moving_stood_in_the_status_it_came_from_since_an_unknown_time() {
        let rows = vec![
            row(1, "other", STATE, "issue_updated", "To Do", "new"),
            row(20, "b", STATE, "issue_updated", "In Progress", IN_PROGRESS),
            moved(20, "b", "To Do", "In Progress", IN_PROGRESS),
        ];
        let mut own = rows[1..].to_vec();
        own.iter_mut().for_each(|r| r.issue_id = "2".into());
        let history = history(&own, &categories(&rows), 100).unwrap();
        assert_eq!(history.created_ms, None);
        assert_eq!(
            starts(&history),
            [(None, "To Do", 20), (Some(20), "In Progress", 100)]
        );
        assert_eq!(
            history.segments[0].category, "new",
            "learned from another issue"
        );
    }

    #[test]
    fn an_issue_first_seen_without_a_move_is_in_that_status_since_an_unknown_time() {
        let rows = vec![
            row(20, "b", STATE, "issue_updated", "In Progress", IN_PROGRESS),
            row(40, "d", STATE, "issue_deleted", "In Progress", IN_PROGRESS),
        ];
        let history = history(&rows, &categories(&rows), 100).unwrap();
        assert_eq!(
            starts(&history),
            [(None, "In Progress", 40)],
            "ends at the deletion"
        );
        assert_eq!(history.deleted_ms, Some(40));
        assert_eq!(history.segments[0].seen_from_ms, 20);
    }
}
