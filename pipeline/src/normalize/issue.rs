//! Issue events (`jira:issue_*`, `avi:jira:*:issue`): the issue's columns, which comment and
//! worklog events reuse, and one field change per changelog item of an update.

use super::{
    ACTOR, Columns,
    fields::{Object, at, change_value, first_text_at, object_at, text_at, texts_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        actor_account_id: first_text_at(body, ACTOR),
        ..issue_columns(body)
    }
}

/// The columns of the body's `issue`, if it has one; the actor is left to the caller.
pub(super) fn issue_columns(body: &Object) -> Columns {
    let Some(issue) = object_at(body, &["issue"]) else {
        return Columns::default();
    };
    Columns {
        project_id: text_at(issue, &["fields", "project", "id"]),
        project_key: text_at(issue, &["fields", "project", "key"]),
        issue_id: text_at(issue, &["id"]),
        issue_key: text_at(issue, &["key"]),
        // Jira sends `issuetype`; Forge's type reference spells it `issueType`.
        issue_type: first_text_at(
            issue,
            &[
                &["fields", "issuetype", "name"],
                &["fields", "issueType", "name"],
            ],
        ),
        status: text_at(issue, &["fields", "status", "name"]),
        status_category: text_at(issue, &["fields", "status", "statusCategory", "key"]),
        priority: text_at(issue, &["fields", "priority", "name"]),
        assignee_account_id: text_at(issue, &["fields", "assignee", "accountId"]),
        assignee_name: text_at(issue, &["fields", "assignee", "displayName"]),
        labels: texts_at(issue, &["fields", "labels"], &[]),
        components: texts_at(issue, &["fields", "components"], &["name"]),
        security_level: text_at(issue, &["fields", "security", "id"]),
        actor_account_id: String::new(),
    }
}

/// One changelog item, as the field-change row stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) item_index: u16,
    pub(super) field: String,
    pub(super) field_id: String,
    pub(super) from_value: String,
    pub(super) to_value: String,
    pub(super) from_string: String,
    pub(super) to_string: String,
}

/// The body's `changelog.items`, each keeping its position; items that are not objects are
/// skipped, and positions past `u16::MAX` (far beyond any real changelog) are dropped.
pub(super) fn changelog(body: &Object) -> Vec<Change> {
    let Some(items) = at(body, &["changelog", "items"]).and_then(|items| items.as_array()) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map_while(|(index, item)| Some((u16::try_from(index).ok()?, item)))
        .filter_map(|(item_index, item)| {
            let item = item.as_object()?;
            Some(Change {
                item_index,
                field: change_value(item.get("field")),
                field_id: change_value(item.get("fieldId")),
                from_value: change_value(item.get("from")),
                to_value: change_value(item.get("to")),
                from_string: change_value(item.get("fromString")),
                to_string: change_value(item.get("toString")),
            })
        })
        .collect()
}
