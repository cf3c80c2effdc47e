//! Sprint events (`sprint_*`, `avi:jira-software:*:sprint`): a sprint belongs to a board, not to
//! a project or an issue, so only the actor is a column (the sprint stays in the payload).

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}
