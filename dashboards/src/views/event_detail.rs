//! The one-event view: an event with the fields its delivery changed and, for roles that may
//! see them, the values it changed them between and the payload Jira sent. The API serializes
//! it; the event page shows the same. Changed values are payload too (a summary's or a
//! description's old and new text), so a viewer sees which fields changed and nothing more.

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

/// One changelog item. The values are absent for viewers, as the payload is.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FieldChange {
    /// Jira's field name: `status`, `assignee`, `priority`, `resolution`, …
    pub field: String,
    /// The value before, as Jira's id (an account id, a status id); empty when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub from: Option<String>,
    /// The value after, as Jira's id; empty when cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub to: Option<String>,
    /// The value before, as Jira shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub from_string: Option<String>,
    /// The value after, as Jira shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub to_string: Option<String>,
}

impl EventDetail {
    /// `with_payload` is the caller's right to see payloads, changed values included.
    pub(crate) fn new(detail: &warehouse::queries::EventDetail, with_payload: bool) -> Self {
        let raw = &detail.event.payload;
        Self {
            event: Event::from(&detail.event),
            field_changes: detail
                .field_changes
                .iter()
                .map(|change: &FieldChangeRow| {
                    let value = |value: &String| with_payload.then(|| value.clone());
                    FieldChange {
                        field: change.field.clone(),
                        from: value(&change.from_value),
                        to: value(&change.to_value),
                        from_string: value(&change.from_string),
                        to_string: value(&change.to_string),
                    }
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
