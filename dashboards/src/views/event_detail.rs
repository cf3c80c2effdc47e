//! The one-event view: an event with the fields its delivery changed and, for roles that may
//! see them, the payload Jira sent. The API serializes it; the event page shows the same.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use warehouse::FieldChangeRow;

use super::events::Event;

/// One event, its field changes and (analysts and above) its payload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventDetail {
    #[serde(flatten)]
    pub event: Event,
    /// What the delivery's changelog changed, in Jira's order.
    pub field_changes: Vec<FieldChange>,
    /// The Jira payload as received (its text when it is not JSON). Absent for viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub payload: Option<Value>,
}

/// One changelog item.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FieldChange {
    /// Jira's field name: `status`, `assignee`, `priority`, `resolution`, …
    pub field: String,
    /// The value before, as Jira's id (an account id, a status id); empty when there was none.
    pub from: String,
    /// The value after, as Jira's id; empty when cleared.
    pub to: String,
    /// The value before, as Jira shows it.
    pub from_string: String,
    /// The value after, as Jira shows it.
    pub to_string: String,
}

impl EventDetail {
    /// `with_payload` is the caller's right to see payloads.
    pub(crate) fn new(detail: &warehouse::queries::EventDetail, with_payload: bool) -> Self {
        let raw = &detail.event.payload;
        Self {
            event: Event::from(&detail.event),
            field_changes: detail
                .field_changes
                .iter()
                .map(|change: &FieldChangeRow| FieldChange {
                    field: change.field.clone(),
                    from: change.from_value.clone(),
                    to: change.to_value.clone(),
                    from_string: change.from_string.clone(),
                    to_string: change.to_string.clone(),
                })
                .collect(),
            payload: with_payload
                .then(|| serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))),
        }
    }

    /// The payload as the event page prints it: indented JSON, or the text as it came.
    pub(crate) fn payload_text(&self) -> Option<String> {
        self.payload.as_ref().map(|payload| match payload {
            Value::String(text) => text.clone(),
            json => serde_json::to_string_pretty(json).unwrap_or_default(),
        })
    }
}
