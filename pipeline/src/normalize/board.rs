//! Board events (`board_*`, `avi:jira-software:*:board`): the project a board is located in,
//! when it is a project's board. Connect's `board.location` names it `projectId`/`projectKey`;
//! Forge's configuration event has `configuration.location` with `type`, `id` and `key`.

use serde_json::Value;

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, object_at, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    let location = object_at(body, &["board", "location"])
        .or_else(|| object_at(body, &["configuration", "location"]));
    let (project_id, project_key) = location.map(project_of).unwrap_or_default();
    Columns {
        project_id,
        project_key,
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}

fn project_of(location: &Object) -> (String, String) {
    let in_project = location.get("type").and_then(Value::as_str) == Some("project");
    let id = text_at(location, &["projectId"]);
    let key = text_at(location, &["projectKey"]);
    if in_project {
        (
            if id.is_empty() {
                text_at(location, &["id"])
            } else {
                id
            },
            if key.is_empty() {
                text_at(location, &["key"])
            } else {
                key
            },
        )
    } else {
        (id, key)
    }
}
