//! Issue link events (`issuelink_*`, `avi:jira:*:issuelink`): the link's source issue. Connect
//! wraps the link in `issueLink` with numeric ids; Forge sends its fields at the top level, ids
//! as strings.

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, object_at, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    let link = object_at(body, &["issueLink"]).unwrap_or(body);
    Columns {
        issue_id: text_at(link, &["sourceIssueId"]),
        // Forge documents `sourceProjectId`; Connect's link has no project.
        project_id: text_at(link, &["sourceProjectId"]),
        actor_account_id: first_text_at(body, ACTOR),
        ..Columns::default()
    }
}
