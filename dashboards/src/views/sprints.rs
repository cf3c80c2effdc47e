//! The sprints view: per sprint, the issues committed, added, removed and completed. The JSON API
//! serializes it, its sprints are the CSV's rows, and the sprints page draws its chart and table
//! from it.

use contracts::InstallationId;
use serde::Serialize;
use utoipa::ToSchema;
use warehouse::queries::sprints as computed;

use super::Range;
use crate::{csv_body::CsvRow, error::DashboardError, view_request::View};

/// Sprints of any board type that overlap the range, oldest start first, from the sprint events
/// and the issues' `Sprint` changes MetaFrazo received.
///
/// Definitions: a sprint **starts** at its `sprint_started` event and **closes** at its
/// `sprint_closed` event. **Committed**: issues in the sprint when it started. **Added**: issues
/// moved into it after the start and before the close. **Removed**: issues moved out of it after
/// the start and before the close (the moves Jira makes at the close, carrying unfinished issues
/// to the next sprint, are not removals). **Completed**: issues in the sprint at its close whose
/// status category was done then. Each count is of distinct issues, and lists them. Only what the
/// stream can know: a sprint whose start MetaFrazo never saw (it started before the connection)
/// has no committed count (`null`), one whose close it never saw has no completed count, and a
/// sprint created before the connection may hold issues planned into it then that never moved
/// since, which cannot be seen; `exact` is false and `notes` says why. Copies of a delivery and
/// the order deliveries arrived in change no number.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Sprints {
    #[serde(flatten)]
    pub range: Range,
    pub sprints: Vec<Sprint>,
}

/// One sprint and its four counts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Sprint {
    /// The Jira workspace (MetaFrazo's installation id) the sprint is in.
    #[schema(value_type = String)]
    pub workspace: InstallationId,
    /// Jira's sprint id.
    pub sprint_id: String,
    /// The board it was created on (`originBoardId`).
    pub board_id: String,
    pub name: String,
    /// Jira's latest state: `future`, `active`, `closed`, or `deleted`.
    pub state: String,
    /// When it started (milliseconds since the epoch): its start event, else the start date Jira
    /// gave; `null` when unknown.
    #[schema(required = true)]
    pub start_ms: Option<i64>,
    /// Its planned end, as Jira gave it.
    #[schema(required = true)]
    pub end_ms: Option<i64>,
    /// When it closed: its close event, else the complete date Jira gave.
    #[schema(required = true)]
    pub close_ms: Option<i64>,
    /// MetaFrazo saw it created, started, closed.
    pub created_seen: bool,
    pub start_seen: bool,
    pub close_seen: bool,
    /// Issues in the sprint when it started; `null` when its start was not seen.
    #[schema(required = true)]
    pub committed: Option<SprintIssues>,
    /// Issues moved into it after the start, before the close.
    pub added: SprintIssues,
    /// Issues moved out of it after the start, before the close.
    pub removed: SprintIssues,
    /// Issues in it at its close, in a done status category then; `null` until a close was seen.
    #[schema(required = true)]
    pub completed: Option<SprintIssues>,
    /// Issues in it at its close whose status then MetaFrazo never saw (not counted as completed).
    pub completed_unknown: SprintIssues,
    /// Every count is exact: MetaFrazo saw the sprint created, started and (when closed) closed.
    pub exact: bool,
    /// What the stream cannot know about this sprint, in words.
    pub notes: Vec<String>,
}

/// A count of distinct issues and the issues behind it, ordered by key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SprintIssues {
    pub count: u64,
    pub issues: Vec<SprintIssue>,
}

/// An issue behind a sprint count; its events are the event feed's `issue_key=`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SprintIssue {
    pub issue_key: String,
    pub project_key: String,
}

impl Sprints {
    /// What the view shows: nothing when the organization has no workspace to ask.
    pub(crate) async fn load<A>(
        warehouse: &clickhouse::Client,
        view: &View<A>,
    ) -> Result<Self, DashboardError> {
        super::refuse_issue_dimensions(view, "sprints")?;
        let range = Range::of(view);
        if view.scope.installations.is_empty() {
            return Ok(Self {
                range,
                sprints: Vec::new(),
            });
        }
        let found = warehouse::queries::sprints(warehouse, &view.scope).await?;
        Ok(Self {
            range,
            sprints: found.sprints.into_iter().map(Sprint::from).collect(),
        })
    }
}

impl From<computed::SprintIssues> for SprintIssues {
    fn from(issues: computed::SprintIssues) -> Self {
        Self {
            count: issues.count,
            issues: issues
                .issues
                .into_iter()
                .map(|issue| SprintIssue {
                    issue_key: issue.issue_key,
                    project_key: issue.project_key,
                })
                .collect(),
        }
    }
}

impl From<computed::Sprint> for Sprint {
    fn from(sprint: computed::Sprint) -> Self {
        Self {
            workspace: sprint.installation_id,
            sprint_id: sprint.sprint_id,
            board_id: sprint.board_id,
            name: sprint.name,
            state: sprint.state,
            start_ms: sprint.start_ms,
            end_ms: sprint.end_ms,
            close_ms: sprint.close_ms,
            created_seen: sprint.created_seen,
            start_seen: sprint.start_seen,
            close_seen: sprint.close_seen,
            committed: sprint.committed.map(SprintIssues::from),
            added: sprint.added.into(),
            removed: sprint.removed.into(),
            completed: sprint.completed.map(SprintIssues::from),
            completed_unknown: sprint.completed_unknown.into(),
            exact: sprint.exact,
            notes: sprint.notes,
        }
    }
}

fn count(issues: Option<&SprintIssues>) -> String {
    issues.map_or_else(String::new, |issues| issues.count.to_string())
}

fn optional(ms: Option<i64>) -> String {
    ms.map_or_else(String::new, |ms| ms.to_string())
}

/// A row per sprint; an unknown count is an empty cell.
impl CsvRow for Sprint {
    fn header() -> Vec<String> {
        [
            "workspace",
            "sprint_id",
            "board_id",
            "name",
            "state",
            "start_ms",
            "close_ms",
            "committed",
            "added",
            "removed",
            "completed",
            "completed_unknown",
            "exact",
            "notes",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.workspace.to_string(),
            self.sprint_id.clone(),
            self.board_id.clone(),
            self.name.clone(),
            self.state.clone(),
            optional(self.start_ms),
            optional(self.close_ms),
            count(self.committed.as_ref()),
            self.added.count.to_string(),
            self.removed.count.to_string(),
            count(self.completed.as_ref()),
            self.completed_unknown.count.to_string(),
            self.exact.to_string(),
            self.notes.join(" "),
        ]
    }
}
