//! Turns one delivery's Jira payload into warehouse rows: one `EventRow` per delivery, one
//! `FieldChangeRow` per changelog item, and a `SprintRow` or `WorklogRow` for those events. Pure: no I/O, no clock, and no panic on any input.
//!
//! A Connect (or admin webhook) body and its Forge twin give the same rows. Only a payload that
//! cannot be a row at all (not UTF-8, not JSON, not a JSON object) is an error, for the dead-letter
//! topic; an event we do not know is kept as family `unknown` with its own name.

mod board;
mod comment;
mod event_name;
mod event_time;
mod fields;
mod issue;
mod issue_link;
mod project;
mod sprint;
mod user;
mod version;
mod worklog;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use event_name::{Family, connect_event_names, forge_event_names};
pub use event_time::EventTimeBounds;

use contracts::InstallationId;
use serde_json::Value;
use warehouse::{EventRow, FieldChangeRow, SprintRow, WorklogRow};

use event_name::EventType;
use fields::Object;

/// One delivery as the envelope carries it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// MetaFrazo's installation, the warehouse's key (the envelope's, never a client key).
    pub installation_id: InstallationId,
    pub delivery_id: &'a str,
    /// `connect`, `forge` or `webhook-secret`.
    pub source: &'a str,
    pub received_at_ms: i64,
    /// The body Jira sent, byte for byte.
    pub payload: &'a [u8],
}

/// The rows one delivery becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub event: EventRow,
    /// One per changelog item; empty for everything but issue updates.
    pub field_changes: Vec<FieldChangeRow>,
    /// The sprint a sprint event is about.
    pub sprint: Option<SprintRow>,
    /// The worklog a worklog event is about.
    pub worklog: Option<WorklogRow>,
}

/// Why a payload cannot become a row at all.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("the payload is not UTF-8: {0}")]
    NotUtf8(std::str::Utf8Error),
    #[error("the payload is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the payload is JSON but not an object")]
    NotAnObject,
}

impl NormalizeError {
    /// A short, fixed label for metrics and dead-letter headers.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotUtf8(_) => "not_utf8",
            Self::NotJson(_) => "not_json",
            Self::NotAnObject => "not_an_object",
        }
    }
}

/// Normalizes one delivery, its event time within `bounds`. Errors only for payloads that
/// cannot be rows at all.
pub fn normalize(
    delivery: &Delivery<'_>,
    bounds: EventTimeBounds,
) -> Result<Normalized, NormalizeError> {
    let text = std::str::from_utf8(delivery.payload).map_err(NormalizeError::NotUtf8)?;
    let parsed: Value = serde_json::from_str(text).map_err(NormalizeError::NotJson)?;
    let Value::Object(outer) = &parsed else {
        return Err(NormalizeError::NotAnObject);
    };
    let body = unwrap_payload(outer);

    let claimed_ms = fields::epoch_ms(body.get("timestamp"))
        .or_else(|| fields::epoch_ms(outer.get("timestamp")));
    let (occurred_at_ms, occurred_at_note) =
        bounds.occurred_at(claimed_ms, delivery.received_at_ms);
    let (name, known) = event_name::read(body);
    let (family, event_type, columns) = match known {
        None => (
            Family::Unknown,
            name.unwrap_or("unknown"),
            Columns::default(),
        ),
        Some(known) => {
            let event_type = match known.event_type {
                EventType::Fixed(event_type) => event_type,
                EventType::CommentCreatedOrUpdated => comment::created_or_updated(body),
            };
            let columns = family_columns(known.family, event_type, body);
            (known.family, event_type, columns)
        }
    };
    let changes = match family {
        Family::Issue => issue::changelog(body),
        _ => Vec::new(),
    };

    let field_changes = changes
        .into_iter()
        .map(|change| FieldChangeRow {
            installation_id: delivery.installation_id,
            delivery_id: delivery.delivery_id.to_owned(),
            item_index: change.item_index,
            occurred_at_ms,
            project_key: columns.project_key.clone(),
            issue_id: columns.issue_id.clone(),
            issue_key: columns.issue_key.clone(),
            issue_type: columns.issue_type.clone(),
            field: change.field,
            field_id: change.field_id,
            from_value: change.from_value,
            to_value: change.to_value,
            from_string: change.from_string,
            to_string: change.to_string,
            status_category: columns.status_category.clone(),
            priority: columns.priority.clone(),
            assignee_account_id: columns.assignee_account_id.clone(),
            labels: columns.labels.clone(),
            components: columns.components.clone(),
        })
        .collect();
    let sprint = match family {
        Family::Sprint => sprint::row(
            delivery.installation_id,
            delivery.delivery_id,
            event_type,
            occurred_at_ms,
            body,
        ),
        _ => None,
    };
    let worklog = match family {
        Family::Worklog => worklog::row(
            delivery.installation_id,
            delivery.delivery_id,
            event_type,
            occurred_at_ms,
            &columns.issue_id,
            body,
        ),
        _ => None,
    };
    let event = EventRow {
        installation_id: delivery.installation_id,
        delivery_id: delivery.delivery_id.to_owned(),
        source: delivery.source.to_owned(),
        family: family.as_str().to_owned(),
        event_type: event_type.to_owned(),
        occurred_at_ms,
        received_at_ms: delivery.received_at_ms,
        project_id: columns.project_id,
        project_key: columns.project_key,
        issue_id: columns.issue_id,
        issue_key: columns.issue_key,
        issue_type: columns.issue_type,
        status: columns.status,
        status_category: columns.status_category,
        priority: columns.priority,
        assignee_account_id: columns.assignee_account_id,
        assignee_name: columns.assignee_name,
        labels: columns.labels,
        components: columns.components,
        security_level: columns.security_level,
        actor_account_id: columns.actor_account_id,
        occurred_at_note: occurred_at_note.to_owned(),
        payload: text.to_owned(),
    };
    Ok(Normalized {
        event,
        field_changes,
        sprint,
        worklog,
    })
}

/// A Forge body may arrive wrapped as `{"payload": {...}}`; a body that names its event itself is
/// never unwrapped.
fn unwrap_payload(outer: &Object) -> &Object {
    let names_itself = ["webhookEvent", "eventType"]
        .iter()
        .any(|key| outer.contains_key(*key));
    match outer.get("payload") {
        Some(Value::Object(inner)) if !names_itself => inner,
        _ => outer,
    }
}

/// Who did it, as Forge (`atlassianId`) or Connect (`user`) says. User events are the exception:
/// there `user` is the account the event is about (see `user.rs`).
const ACTOR: &[&[&str]] = &[&["atlassianId"], &["user", "accountId"]];

/// What a family module reads out of a body: the event row's entity columns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Columns {
    project_id: String,
    project_key: String,
    issue_id: String,
    issue_key: String,
    issue_type: String,
    status: String,
    status_category: String,
    priority: String,
    assignee_account_id: String,
    assignee_name: String,
    labels: Vec<String>,
    components: Vec<String>,
    security_level: String,
    actor_account_id: String,
}

fn family_columns(family: Family, event_type: &str, body: &Object) -> Columns {
    match family {
        Family::Issue => issue::columns(body),
        Family::Comment => comment::columns(event_type, body),
        Family::Worklog => worklog::columns(event_type, body),
        Family::IssueLink => issue_link::columns(body),
        Family::Sprint => sprint::columns(body),
        Family::Board => board::columns(body),
        Family::Project => project::columns(body),
        Family::Version => version::columns(body),
        Family::User => user::columns(body),
        Family::Unknown => Columns::default(),
    }
}
