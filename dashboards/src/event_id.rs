//! The public id of one event: its installation, delivery id and when it happened (which lets
//! the lookup use the primary key), opaque and URL-safe. Resolving an id always goes through
//! the caller's installations, so an id of another organization's event finds nothing.

use crate::access::Member;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use contracts::InstallationId;
use serde::{Serialize, de::DeserializeOwned};

/// An event as its id names it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EventKey {
    pub installation_id: InstallationId,
    pub delivery_id: String,
    /// Absent from ids made before it was added; the lookup is slower without it.
    pub occurred_at_ms: Option<i64>,
}

pub(crate) fn encode(event: &warehouse::EventRow) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}\n{}\n{}",
        event.installation_id, event.delivery_id, event.occurred_at_ms
    ))
}

pub(crate) fn decode(id: &str) -> Option<EventKey> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, '\n');
    let installation_id = parts.next()?.parse().ok()?;
    let delivery_id = parts.next()?.to_owned();
    let occurred_at_ms = match parts.next() {
        Some(ms) => Some(ms.parse().ok()?),
        None => None,
    };
    Some(EventKey {
        installation_id,
        delivery_id,
        occurred_at_ms,
    })
}

/// Looks the event up among the member's installations, as far as they may see it.
pub(crate) async fn lookup(
    client: &clickhouse::Client,
    member: &Member,
    key: &EventKey,
) -> Result<Option<warehouse::queries::EventDetail>, warehouse::queries::QueryError> {
    let installations = member.installation_ids();
    let (installations, visibility) = (&installations, &member.visibility);
    match key.occurred_at_ms {
        Some(at) => {
            warehouse::queries::event_at(
                client,
                installations,
                visibility,
                key.installation_id,
                &key.delivery_id,
                at,
            )
            .await
        }
        None => {
            warehouse::queries::event(
                client,
                installations,
                visibility,
                key.installation_id,
                &key.delivery_id,
            )
            .await
        }
    }
}

/// A feed cursor as an opaque query value.
pub(crate) fn encode_cursor(cursor: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub(crate) fn decode_cursor<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_garbage_finds_nothing() {
        let event = warehouse::EventRow {
            installation_id: InstallationId::new_random(),
            delivery_id: "d/42?x".into(),
            occurred_at_ms: 1_795_000_000_123,
            ..Default::default()
        };
        let id = encode(&event);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            decode(&id),
            Some(EventKey {
                installation_id: event.installation_id,
                delivery_id: event.delivery_id.clone(),
                occurred_at_ms: Some(1_795_000_000_123),
            })
        );
        let installation = event.installation_id;
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode(format!("{installation}\nd")))
                .unwrap()
                .occurred_at_ms,
            None
        );
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode(format!("{installation}\nd\nnot a time"))),
            None
        );
        // A client key where the installation id belongs names no event.
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("client-key\nd\n1")), None);
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("no separator")), None);
    }
}
