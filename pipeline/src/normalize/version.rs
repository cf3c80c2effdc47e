//! Version events (`jira:version_*`, `avi:jira:*:version`): the version's project, by id only
//! (neither path sends its key).

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        project_id: text_at(body, &["version", "projectId"]),
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}
