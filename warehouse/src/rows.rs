//! The rows the pipeline writes and the warehouse queries read, one struct per table. Field
//! order is column order: the `clickhouse` crate writes RowBinary by position.

use clickhouse::Row;
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

/// One delivery: `events`, keyed by (installation_id, delivery_id).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct EventRow {
    /// MetaFrazo's installation (never Atlassian's client key): the warehouse's key.
    pub installation_id: InstallationId,
    pub delivery_id: String,
    /// `connect`, `forge` or `webhook-secret`.
    pub source: String,
    /// The event family: `issue`, `comment`, `worklog`, `issue_link`, `sprint`, `board`,
    /// `project`, `version`, `user`, or `unknown` (kept, never dropped).
    pub family: String,
    /// Normalized, the same for a Connect event and its Forge twin: `issue_created`,
    /// `issue_updated`, `issue_deleted`, `comment_created`, `worklog_updated`, `sprint_started`,
    /// `version_released`, … or, for an unknown event, Jira's own name.
    pub event_type: String,
    /// When it happened in Jira (the payload's `timestamp`), milliseconds since the epoch, UTC.
    pub occurred_at_ms: i64,
    /// When ingress received it, milliseconds since the epoch, UTC.
    pub received_at_ms: i64,
    pub project_id: String,
    pub project_key: String,
    pub issue_id: String,
    pub issue_key: String,
    pub issue_type: String,
    pub status: String,
    /// Jira's status category key: `new`, `indeterminate`, `done` (empty when unknown).
    pub status_category: String,
    pub priority: String,
    /// The issue's assignee (Jira account id; empty when unassigned or not an issue's event).
    pub assignee_account_id: String,
    /// Their display name as this delivery states it (names change; the id does not).
    pub assignee_name: String,
    /// The issue's labels, sorted.
    pub labels: Vec<String>,
    /// The names of the issue's components, sorted.
    pub components: Vec<String>,
    /// The id of the issue security level the issue is under (empty when none): the views of a
    /// member who sees only what Jira lets them ask Jira about these issues.
    pub security_level: String,
    /// The account id of who did it, when the payload says.
    pub actor_account_id: String,
    /// Empty when `occurred_at_ms` is the payload's own `timestamp`; otherwise why the receipt
    /// time stands in for it: `missing`, `too_old` (before the retention window) or
    /// `in_future` (more than a day after receipt). The payload keeps what Jira said.
    pub occurred_at_note: String,
    /// The delivery's body, for the single-event view.
    pub payload: String,
}

/// Every text empty and every number zero, under the nil installation: for code that fills in
/// what it knows (`..Default::default()`) and always sets the installation itself.
impl Default for EventRow {
    fn default() -> Self {
        Self {
            installation_id: InstallationId::from_uuid(uuid::Uuid::nil()),
            delivery_id: String::new(),
            source: String::new(),
            family: String::new(),
            event_type: String::new(),
            occurred_at_ms: 0,
            received_at_ms: 0,
            project_id: String::new(),
            project_key: String::new(),
            issue_id: String::new(),
            issue_key: String::new(),
            issue_type: String::new(),
            status: String::new(),
            status_category: String::new(),
            priority: String::new(),
            assignee_account_id: String::new(),
            assignee_name: String::new(),
            labels: Vec::new(),
            components: Vec::new(),
            security_level: String::new(),
            actor_account_id: String::new(),
            occurred_at_note: String::new(),
            payload: String::new(),
        }
    }
}

/// One changelog item of an issue update: `field_changes`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct FieldChangeRow {
    pub installation_id: InstallationId,
    pub delivery_id: String,
    /// Position in the changelog, so two changes of one field in one delivery stay two rows.
    pub item_index: u16,
    pub occurred_at_ms: i64,
    pub project_key: String,
    pub issue_id: String,
    pub issue_key: String,
    pub issue_type: String,
    /// Jira's field name (`status`, `assignee`, `priority`, `resolution`, …).
    pub field: String,
    pub field_id: String,
    pub from_value: String,
    pub to_value: String,
    pub from_string: String,
    pub to_string: String,
    /// The issue's status category after the update (the delivery's `status_category`), so a
    /// `status` item says which category the issue moved into.
    pub status_category: String,
    /// The issue's priority, assignee, labels and components after the update (the delivery's),
    /// for the views' filters.
    pub priority: String,
    pub assignee_account_id: String,
    pub labels: Vec<String>,
    pub components: Vec<String>,
}

/// One sprint delivery: `sprints`, keyed by (installation_id, sprint_id, occurred_at_ms,
/// delivery_id). Dates the payload lacks are -1.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct SprintRow {
    pub installation_id: InstallationId,
    /// Jira's sprint id, as text.
    pub sprint_id: String,
    pub occurred_at_ms: i64,
    pub delivery_id: String,
    /// `sprint_created`, `sprint_updated`, `sprint_started`, `sprint_closed`, `sprint_deleted`.
    pub event_type: String,
    /// The sprint's `originBoardId`.
    pub board_id: String,
    pub name: String,
    /// Jira's `state`: `future`, `active` or `closed`.
    pub state: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub complete_ms: i64,
}

/// One worklog delivery: `worklogs`; the newest `version` of a worklog is its state.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct WorklogRow {
    pub installation_id: InstallationId,
    pub worklog_id: String,
    /// See [`WorklogRow::version_of`].
    pub version: u64,
    pub delivery_id: String,
    pub occurred_at_ms: i64,
    /// `worklog_created`, `worklog_updated` or `worklog_deleted`.
    pub event_type: String,
    pub issue_id: String,
    /// Whose time it is (`worklog.author`), not who last edited it.
    pub author_account_id: String,
    /// When the logged work started (`worklog.started`); -1 when the payload has none.
    pub started_ms: i64,
    pub time_spent_seconds: i64,
    /// 1 for a deletion: the worklog no longer counts.
    pub deleted: u8,
}

impl WorklogRow {
    /// Orders a worklog's deliveries by event time, then by kind (created < updated < deleted),
    /// so the newest state wins whatever order the deliveries arrive in. Times before the epoch
    /// (never sent by Jira) order first.
    pub fn version_of(occurred_at_ms: i64, event_type: &str) -> u64 {
        let kind = match event_type {
            "worklog_created" => 0,
            "worklog_deleted" => 2,
            _ => 1,
        };
        u64::try_from(occurred_at_ms.max(0)).unwrap_or(0) * 4 + kind
    }
}
