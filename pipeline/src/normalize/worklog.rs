//! Worklog events (`worklog_*`, `avi:jira:*:worklog`): the issue the time was logged on and who
//! logged it. Neither path sends the issue itself, only `worklog.issueId`. The worklog itself
//! becomes a `worklogs` row (whose time, when it started, how long) for the time-logged view.

use contracts::InstallationId;
use warehouse::WorklogRow;

use super::{
    ACTOR, Columns,
    fields::{Object, at, first_text_at, iso_ms, text_at},
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

/// The worklog the body is about, if it names one by id.
pub(super) fn row(
    installation_id: InstallationId,
    delivery_id: &str,
    event_type: &str,
    occurred_at_ms: i64,
    issue_id: &str,
    body: &Object,
) -> Option<WorklogRow> {
    let worklog_id = text_at(body, &["worklog", "id"]);
    if worklog_id.is_empty() {
        return None;
    }
    let seconds = at(body, &["worklog", "timeSpentSeconds"]).and_then(|value| match value {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    });
    Some(WorklogRow {
        installation_id,
        worklog_id,
        version: WorklogRow::version_of(occurred_at_ms, event_type),
        delivery_id: delivery_id.to_owned(),
        occurred_at_ms,
        event_type: event_type.to_owned(),
        issue_id: issue_id.to_owned(),
        author_account_id: text_at(body, &["worklog", "author", "accountId"]),
        started_ms: iso_ms(at(body, &["worklog", "started"])).unwrap_or(-1),
        time_spent_seconds: seconds.unwrap_or(0).max(0),
        deleted: u8::from(event_type == "worklog_deleted"),
    })
}
