//! Comment events (`comment_*`, `avi:jira:commented:issue`, `avi:jira:deleted:comment`): the
//! commented issue's columns and who wrote or edited the comment.

use serde_json::Value;

use super::{
    ACTOR, Columns,
    fields::{Object, at, first_text_at},
    issue,
};

/// Connect's comment events carry no `user`: the comment's last editor (its author, for a new
/// one) is who acted. A deletion says nothing about who deleted, so there the author is not
/// taken for the actor.
const EDITOR: &[&[&str]] = &[
    &["atlassianId"],
    &["user", "accountId"],
    &["comment", "updateAuthor", "accountId"],
    &["comment", "author", "accountId"],
];

pub(super) fn columns(event_type: &str, body: &Object) -> Columns {
    let actor = if event_type == "comment_deleted" {
        ACTOR
    } else {
        EDITOR
    };
    Columns {
        actor_account_id: first_text_at(body, actor),
        ..issue::issue_columns(body)
    }
}

/// Forge sends `avi:jira:commented:issue` for a new comment and for an edit alike; an edited
/// comment's `updated` differs from its `created`.
pub(super) fn created_or_updated(body: &Object) -> &'static str {
    let date = |key| at(body, &["comment", key]).and_then(Value::as_str);
    match (date("created"), date("updated")) {
        (Some(created), Some(updated)) if created != updated => "comment_updated",
        _ => "comment_created",
    }
}
