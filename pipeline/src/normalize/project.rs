//! Project events (`project_*`, `avi:jira:*:project`): the project itself. Its lead is not the
//! actor.

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        project_id: text_at(body, &["project", "id"]),
        project_key: text_at(body, &["project", "key"]),
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}
