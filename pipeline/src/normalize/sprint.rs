//! Sprint events (`sprint_*`, `avi:jira-software:*:sprint`): a sprint belongs to a board, not to
//! a project or an issue, so only the actor is an event column; the sprint itself becomes a
//! `sprints` row (id, board, name, state and dates) for the sprint views.

use contracts::InstallationId;
use warehouse::SprintRow;

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, iso_ms, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}

/// The sprint the body is about, if it names one by id.
pub(super) fn row(
    installation_id: InstallationId,
    delivery_id: &str,
    event_type: &str,
    occurred_at_ms: i64,
    body: &Object,
) -> Option<SprintRow> {
    let sprint_id = text_at(body, &["sprint", "id"]);
    if sprint_id.is_empty() {
        return None;
    }
    let date = |key: &str| iso_ms(super::fields::at(body, &["sprint", key])).unwrap_or(-1);
    Some(SprintRow {
        installation_id,
        sprint_id,
        occurred_at_ms,
        delivery_id: delivery_id.to_owned(),
        event_type: event_type.to_owned(),
        board_id: text_at(body, &["sprint", "originBoardId"]),
        name: text_at(body, &["sprint", "name"]),
        state: text_at(body, &["sprint", "state"]),
        start_ms: date("startDate"),
        end_ms: date("endDate"),
        complete_ms: date("completeDate"),
    })
}
