//! Forge sends no delivery id, and retries a delivery it thinks failed (four times, a minute
//! apart). The id is derived from what names the event, so every retry of one event gets the
//! same id and the warehouse counts it once: the event type, the installation's entity ids (issue,
//! comment, worklog, issue link, sprint, board, project, version, user), the changelog id and
//! the timestamp, read from the flat body or from a `{"payload": …}` wrapper. A body without an
//! `eventType` falls back to the hash of its bytes (an exact retry still matches).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where each family names its entity.
const ENTITY_IDS: &[&[&str]] = &[
    &["issue", "id"],
    &["comment", "id"],
    &["worklog", "id"],
    &["issueLink", "id"],
    &["sprint", "id"],
    &["board", "id"],
    &["project", "id"],
    &["version", "id"],
    &["user", "accountId"],
];

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

fn at<'a>(event: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(event, |value, key| value.get(key))
}

/// The delivery id of a Forge event body, or `None` when it names no event type.
pub(crate) fn derive(body: &[u8]) -> Option<String> {
    let root: Value = serde_json::from_slice(body).ok()?;
    let event = match root.get("payload") {
        Some(inner) if root.get("eventType").is_none() => inner,
        _ => &root,
    };
    let event_type = event.get("eventType")?.as_str()?;
    let mut hasher = Sha256::new();
    hasher.update(event_type.as_bytes());
    for path in ENTITY_IDS {
        hasher.update(b"\n");
        hasher.update(text(at(event, path)).as_bytes());
    }
    for key in [&["changelog", "id"][..], &["timestamp"][..]] {
        hasher.update(b"\n");
        hasher.update(text(at(event, key)).as_bytes());
    }
    Some(format!("forge-{}", hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(value: Value) -> Option<String> {
        derive(value.to_string().as_bytes())
    }

    #[test]
    fn a_retry_a_reserialisation_and_a_wrapped_body_get_the_same_id() {
        let event = json!({
            "eventType": "avi:jira:updated:issue",
            "issue": {"id": "10042", "key": "ACME-7", "fields": {"summary": "a"}},
            "changelog": {"id": "20001"},
            "timestamp": "1763397600123",
            "atlassianId": "712020:abc",
        });
        let first = id(event.clone()).unwrap();
        assert!(first.starts_with("forge-"));
        assert_eq!(id(json!({"payload": event.clone()})), Some(first.clone()));
        let mut edited_elsewhere = event.clone();
        edited_elsewhere["issue"]["fields"]["summary"] =
            json!("other fields do not name the event");
        assert_eq!(id(edited_elsewhere), Some(first.clone()));
        let mut later = event.clone();
        later["timestamp"] = json!("1763397600124");
        assert_ne!(id(later), Some(first.clone()));
        let mut other_change = event;
        other_change["changelog"]["id"] = json!(20002);
        assert_ne!(id(other_change), Some(first));
    }

    #[test]
    fn families_are_told_apart_and_bodies_without_a_type_have_no_id() {
        let comment = json!({"eventType": "avi:jira:commented:issue", "issue": {"id": "1"}, "comment": {"id": "5"}, "timestamp": 1});
        let other_comment = json!({"eventType": "avi:jira:commented:issue", "issue": {"id": "1"}, "comment": {"id": "6"}, "timestamp": 1});
        assert_ne!(id(comment), id(other_comment));
        assert_eq!(id(json!({"issue": {"id": "1"}})), None);
        assert_eq!(derive(b"not json"), None);
    }
}
