//! An issue's flow facts, from its history: each segment with the cycle it belongs to, and each
//! completion with its cycle and lead time. A cycle starts at the first in-progress segment,
//! sums the time in progress (time back in to-do is paused, not counted) and ends on a move into
//! done; a reopened issue starts a new cycle.

use clickhouse::Row;
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::history::{DONE, IN_PROGRESS, IssueHistory};

/// `cycle_ms` of a completion whose cycle started before the first delivery we saw, and
/// `cycle_start_ms` of a segment in such a cycle; `start_ms` of a segment that predates what we
/// saw; `lead_ms` of an issue created before the connection.
pub const UNSEEN: i64 = -1;
/// `cycle_ms` of a move into done with no time in progress before it; `cycle_start_ms` of a
/// segment that is not in progress.
pub const NO_CYCLE: i64 = -2;
/// `end_ms` of the segment an issue is still in.
pub const OPEN: i64 = i64::MAX;

/// One row of `flow_segments`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct SegmentRow {
    pub installation_id: InstallationId,
    pub issue_id: String,
    pub ordinal: u32,
    pub version: u64,
    pub live: u8,
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub priority: String,
    pub status: String,
    pub status_category: String,
    pub start_ms: i64,
    pub seen_from_ms: i64,
    pub end_ms: i64,
    pub cycle_start_ms: i64,
    pub cycle_spent_before_ms: i64,
    /// How many of the issue's segments are in this status.
    pub status_visits: u32,
    pub assignee_account_id: String,
    pub assignee_name: String,
    pub labels: Vec<String>,
    pub components: Vec<String>,
}

/// One row of `flow_completions`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct CompletionRow {
    pub installation_id: InstallationId,
    pub issue_id: String,
    pub done_ms: i64,
    pub version: u64,
    pub live: u8,
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub priority: String,
    pub cycle_ms: i64,
    pub lead_ms: i64,
    pub assignee_account_id: String,
    pub assignee_name: String,
    pub labels: Vec<String>,
    pub components: Vec<String>,
}

/// Every fact of one issue's history, live, under `version`.
pub(crate) fn facts(
    installation_id: InstallationId,
    issue_id: &str,
    history: &IssueHistory,
    version: u64,
) -> (Vec<SegmentRow>, Vec<CompletionRow>) {
    let mut segments = Vec::with_capacity(history.segments.len());
    let mut completions = Vec::new();
    // The cycle in progress: its start (if seen) and the time spent in progress so far.
    let mut cycle: Option<(Option<i64>, i64)> = None;
    for (ordinal, segment) in history.segments.iter().enumerate() {
        let (mut cycle_start_ms, mut cycle_spent_before_ms) = (NO_CYCLE, 0);
        match segment.category.as_str() {
            IN_PROGRESS => {
                let (start, spent) = cycle.get_or_insert((segment.start_ms, 0));
                cycle_start_ms = start.unwrap_or(UNSEEN);
                cycle_spent_before_ms = *spent;
                if start.is_some() {
                    let length = segment.end_ms - segment.start_ms.unwrap_or(segment.end_ms);
                    *spent = spent.saturating_add(length);
                }
            }
            DONE => {
                if let Some(done_ms) = segment.start_ms {
                    completions.push(CompletionRow {
                        installation_id,
                        issue_id: issue_id.to_owned(),
                        done_ms,
                        version,
                        live: 1,
                        issue_key: history.issue_key.clone(),
                        project_key: history.project_key.clone(),
                        issue_type: history.issue_type.clone(),
                        priority: segment.dimensions.priority.clone(),
                        cycle_ms: match cycle {
                            None => NO_CYCLE,
                            Some((None, _)) => UNSEEN,
                            Some((Some(_), spent)) => spent,
                        },
                        lead_ms: history
                            .created_ms
                            .map_or(UNSEEN, |created| done_ms - created),
                        assignee_account_id: segment.dimensions.assignee_account_id.clone(),
                        assignee_name: segment.dimensions.assignee_name.clone(),
                        labels: segment.dimensions.labels.clone(),
                        components: segment.dimensions.components.clone(),
                    });
                }
                cycle = None;
            }
            _ => {}
        }
        segments.push(SegmentRow {
            installation_id,
            issue_id: issue_id.to_owned(),
            ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
            version,
            live: 1,
            issue_key: history.issue_key.clone(),
            project_key: history.project_key.clone(),
            issue_type: history.issue_type.clone(),
            priority: segment.dimensions.priority.clone(),
            status: segment.status.clone(),
            status_category: segment.category.clone(),
            start_ms: segment.start_ms.unwrap_or(UNSEEN),
            seen_from_ms: segment.seen_from_ms,
            end_ms: segment.end_ms,
            cycle_start_ms,
            cycle_spent_before_ms,
            status_visits: 0,
            assignee_account_id: segment.dimensions.assignee_account_id.clone(),
            assignee_name: segment.dimensions.assignee_name.clone(),
            labels: segment.dimensions.labels.clone(),
            components: segment.dimensions.components.clone(),
        });
    }
    let mut visits: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for segment in &segments {
        *visits.entry(segment.status.clone()).or_default() += 1;
    }
    for segment in &mut segments {
        segment.status_visits = visits[&segment.status];
    }
    (segments, completions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::history::Segment;

    const NEW: &str = "new";

    const H: i64 = 3_600_000;

    fn segment(start: Option<i64>, end: i64, status: &str, category: &str) -> Segment {
        Segment {
            start_ms: start,
            seen_from_ms: start.unwrap_or(0),
            end_ms: end,
            status: status.into(),
            category: category.into(),
            dimensions: crate::flow::history::Dimensions {
                priority: "High".into(),
                ..Default::default()
            },
        }
    }

    fn issue(created: Option<i64>, segments: Vec<Segment>) -> IssueHistory {
        IssueHistory {
            issue_key: "PAY-1".into(),
            project_key: "PAY".into(),
            issue_type: "Bug".into(),
            created_ms: created,
            deleted_ms: None,
            segments,
        }
    }

    fn of(history: &IssueHistory) -> (Vec<SegmentRow>, Vec<CompletionRow>) {
        facts(
            InstallationId::from_uuid(uuid::Uuid::nil()),
            "1",
            history,
            7,
        )
    }

    #[test]
    fn pauses_are_not_counted_and_a_reopen_is_a_cycle_of_its_own() {
        let history = issue(
            Some(0),
            vec![
                segment(Some(0), 2 * H, "To Do", NEW),
                segment(Some(2 * H), 5 * H, "In Progress", IN_PROGRESS),
                segment(Some(5 * H), 20 * H, "To Do", NEW),
                segment(Some(20 * H), 24 * H, "In Review", IN_PROGRESS),
                segment(Some(24 * H), 30 * H, "Done", DONE),
                segment(Some(30 * H), 31 * H, "To Do", NEW),
                segment(Some(31 * H), OPEN, "In Progress", IN_PROGRESS),
            ],
        );
        let (segments, completions) = of(&history);
        let done: Vec<_> = completions
            .iter()
            .map(|c| (c.done_ms, c.cycle_ms, c.lead_ms))
            .collect();
        assert_eq!(done, [(24 * H, 7 * H, 24 * H)]);
        let cycles: Vec<_> = segments
            .iter()
            .map(|s| (s.cycle_start_ms, s.cycle_spent_before_ms))
            .collect();
        assert_eq!(
            cycles,
            [
                (NO_CYCLE, 0),
                (2 * H, 0),
                (NO_CYCLE, 0),
                (2 * H, 3 * H),
                (NO_CYCLE, 0),
                (NO_CYCLE, 0),
                (31 * H, 0),
            ],
            "the reopened work is a new cycle, open at the end"
        );
        assert!(segments.iter().all(|s| s.version == 7 && s.live == 1));
        let visits: Vec<u32> = segments.iter().map(|s| s.status_visits).collect();
        assert_eq!(
            visits,
            [3, 2, 3, 1, 1, 3, 2],
            "To Do thrice, In Progress twice"
        );
    }

    #[test]
    fn a_cycle_started_before_the_connection_has_no_time_and_straight_to_done_no_cycle() {
        let predating = issue(
            None,
            vec![
                segment(None, 3 * H, "In Progress", IN_PROGRESS),
                segment(Some(3 * H), 4 * H, "Done", DONE),
                segment(Some(4 * H), 5 * H, "To Do", NEW),
                segment(Some(5 * H), OPEN, "Done", DONE),
            ],
        );
        let (segments, completions) = of(&predating);
        assert_eq!(segments[0].cycle_start_ms, UNSEEN);
        assert_eq!(segments[0].start_ms, UNSEEN);
        let done: Vec<_> = completions
            .iter()
            .map(|c| (c.cycle_ms, c.lead_ms))
            .collect();
        assert_eq!(done, [(UNSEEN, UNSEEN), (NO_CYCLE, UNSEEN)]);
    }
}
