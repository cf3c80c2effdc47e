//! Worklog events (`worklog_*`, `avi:jira:*:worklog`): the issue the time was logged on and who
//! logged it. Neither path sends the issue itself, only `worklog.issueId`.

use super::{
    ACTOR, Columns,
    fields::{Object, first_text_at, text_at},
    issue,
};

/// As for comments: without `user`, the worklog's last editor is who acted, except on deletion.
const EDITOR: &[&[&str]] = &[
    &["atlassianId"],
    &["user", "accountId"],
    &["worklog", "updateAuthor", "accountId"],
    &["worklog", "author", "accountId"],
];

pub(super) fn columns(event_type: &str, body: &Object) -> Columns {
    let mut columns = issue::issue_columns(body);
    if columns.issue_id.is_empty() {
        columns.issue_id = text_at(body, &["worklog", "issueId"]);
    }
    let actor = if event_type == "worklog_deleted" {
        ACTOR
    } else {
        EDITOR
    };
    columns.actor_account_id = first_text_at(body, actor);
    columns
}
