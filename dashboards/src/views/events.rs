//! The events views: a page of the feed, and one event. An event's row is the same for the JSON
//! API, the API's CSV, the streamed export and the events page's table.

use serde::Serialize;
use utoipa::ToSchema;
use warehouse::{EventRow, queries::FeedPage};

use crate::{csv_body::CsvRow, event_id};

/// One event, as the warehouse stored it (a delivery Jira sent twice appears once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Event {
    /// Opaque and URL-safe; `GET …/events/{id}` answers the event with its field changes.
    pub id: String,
    /// MetaFrazo's id of the Jira workspace (installation) it came from.
    pub installation_id: String,
    /// The delivery's id, unique per installation.
    pub delivery_id: String,
    /// When it happened in Jira, milliseconds since the epoch (UTC).
    pub occurred_at_ms: i64,
    /// When MetaFrazo received it, milliseconds since the epoch (UTC).
    pub received_at_ms: i64,
    /// Normalized, the same for a Connect event and its Forge twin: `issue_created`,
    /// `issue_updated`, `issue_deleted`, `comment_created`, `worklog_updated`, … or, for an
    /// event MetaFrazo does not know, Jira's own name.
    pub event_type: String,
    /// `issue`, `comment`, `worklog`, `issue_link`, `sprint`, `board`, `project`, `version`,
    /// `user`, or `unknown`.
    pub family: String,
    pub project_key: String,
    pub issue_key: String,
    pub issue_type: String,
    pub status: String,
    /// Jira's status category: `new`, `indeterminate` or `done`; empty when unknown.
    pub status_category: String,
    pub priority: String,
    /// The issue's assignee (Atlassian account id) as this delivery states it; empty when
    /// unassigned.
    pub assignee: String,
    /// The issue's labels as this delivery states them, sorted (in CSV: separated by spaces,
    /// which Jira labels cannot contain).
    pub labels: Vec<String>,
    /// The issue's components' names, sorted (in CSV: separated by `; `).
    pub components: Vec<String>,
    /// The Atlassian account id of who did it, when the payload says.
    pub actor_account_id: String,
    /// Empty when `occurred_at_ms` is Jira's own time. Otherwise it is the receipt time, and
    /// this says why: `missing` (the payload had none), `too_old` (before the retention window,
    /// or seconds where milliseconds belong) or `in_future` (more than a day ahead).
    pub occurred_at_note: String,
}

impl From<&EventRow> for Event {
    fn from(event: &EventRow) -> Self {
        Self {
            id: event_id::encode(event),
            installation_id: event.installation_id.to_string(),
            delivery_id: event.delivery_id.clone(),
            occurred_at_ms: event.occurred_at_ms,
            received_at_ms: event.received_at_ms,
            event_type: event.event_type.clone(),
            family: event.family.clone(),
            project_key: event.project_key.clone(),
            issue_key: event.issue_key.clone(),
            issue_type: event.issue_type.clone(),
            status: event.status.clone(),
            status_category: event.status_category.clone(),
            priority: event.priority.clone(),
            assignee: event.assignee_account_id.clone(),
            labels: event.labels.clone(),
            components: event.components.clone(),
            actor_account_id: event.actor_account_id.clone(),
            occurred_at_note: event.occurred_at_note.clone(),
        }
    }
}

/// A column per field, in the JSON's order and with its names.
impl CsvRow for Event {
    fn header() -> Vec<String> {
        [
            "id",
            "installation_id",
            "delivery_id",
            "occurred_at_ms",
            "received_at_ms",
            "event_type",
            "family",
            "project_key",
            "issue_key",
            "issue_type",
            "status",
            "status_category",
            "priority",
            "assignee",
            "labels",
            "components",
            "actor_account_id",
            "occurred_at_note",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.installation_id.clone(),
            self.delivery_id.clone(),
            self.occurred_at_ms.to_string(),
            self.received_at_ms.to_string(),
            self.event_type.clone(),
            self.family.clone(),
            self.project_key.clone(),
            self.issue_key.clone(),
            self.issue_type.clone(),
            self.status.clone(),
            self.status_category.clone(),
            self.priority.clone(),
            self.assignee.clone(),
            self.labels.join(" "),
            self.components.join("; "),
            self.actor_account_id.clone(),
            self.occurred_at_note.clone(),
        ]
    }
}

/// A page of the feed, newest first.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct EventsPage {
    pub events: Vec<Event>,
    /// The next page's `after`; `null` on the last page.
    #[schema(required = true)]
    pub next: Option<String>,
}

impl From<&FeedPage> for EventsPage {
    fn from(page: &FeedPage) -> Self {
        Self {
            events: page.events.iter().map(Event::from).collect(),
            next: page.next.as_ref().map(event_id::encode_cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_columns_are_the_json_fields_in_order() {
        let event = Event::from(&EventRow {
            delivery_id: "d-1".into(),
            event_type: "issue_created".into(),
            occurred_at_ms: 1_795_000_000_000,
            labels: vec!["backend".into(), "customer".into()],
            components: vec!["api".into(), "mobile web".into()],
            ..Default::default()
        });
        let json = serde_json::to_value(&event).unwrap();
        let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        let mut header = Event::header();
        assert_eq!(header.len(), keys.len());
        for (column, cell) in header.iter().zip(event.record()) {
            let value = &json[column.as_str()];
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                // Lists: labels cannot hold a space; component names can, so `; ` parts them.
                serde_json::Value::Array(items) => {
                    let items: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
                    items.join(if column == "labels" { " " } else { "; " })
                }
                other => other.to_string(),
            };
            assert_eq!(cell, text, "the {column} column holds the JSON's {column}");
        }
        keys.sort();
        header.sort();
        assert_eq!(header.iter().collect::<Vec<_>>(), keys);
    }
}
