//! Property tests: the normalizer on any bytes never panics, and on any JSON object answers a
//! row of a known family (or `unknown`, named as sent) with the payload kept byte for byte.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{Delivery, EventTimeBounds, Family, connect_event_names, forge_event_names, normalize};

/// Keys our family modules read, so generated bodies reach their code, and any other.
const KEYS: &[&str] = &[
    "webhookEvent",
    "eventType",
    "payload",
    "timestamp",
    "issue",
    "fields",
    "project",
    "key",
    "id",
    "issuetype",
    "status",
    "statusCategory",
    "priority",
    "changelog",
    "items",
    "field",
    "fieldId",
    "from",
    "to",
    "fromString",
    "toString",
    "comment",
    "created",
    "updated",
    "worklog",
    "issueLink",
    "sprint",
    "board",
    "version",
    "user",
    "accountId",
    "atlassianId",
    "name",
    "self",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(|n| Value::String(n.to_string())),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A known Connect or Forge name, or any other.
fn event_name() -> impl Strategy<Value = String> {
    let known: Vec<&'static str> = connect_event_names().chain(forge_event_names()).collect();
    prop_oneof![
        3 => proptest::sample::select(known).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A body naming its event (as Connect or as Forge, maybe wrapped in `payload`) with any fields.
fn event_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        event_name(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec((key(), json()), 0..10),
    )
        .prop_map(|(name, forge, wrapped, fields)| {
            let mut body: Map<String, Value> = fields.into_iter().collect();
            // The name goes in last so that a generated field cannot overwrite it.
            let name_key = if forge { "eventType" } else { "webhookEvent" };
            body.remove("webhookEvent");
            body.remove("eventType");
            body.remove("payload");
            body.insert(name_key.to_owned(), Value::String(name.clone()));
            let body = if wrapped && forge {
                Value::Object(
                    [("payload".to_owned(), Value::Object(body))]
                        .into_iter()
                        .collect(),
                )
            } else {
                Value::Object(body)
            };
            (name, serde_json::to_vec(&body).expect("a Value serializes"))
        })
}

fn delivery(payload: &[u8]) -> Delivery<'_> {
    Delivery {
        installation_id: "7a6b1c2d-0f3e-4a5b-9c8d-1e2f3a4b5c6d".parse().unwrap(),
        delivery_id: "delivery-1",
        source: "connect",
        received_at_ms: 1_800_000_000_000,
        payload,
    }
}

proptest! {
    #[test]
    fn any_bytes_give_rows_or_a_typed_error(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(normalized) = normalize(&delivery(&payload), EventTimeBounds::DEFAULT) {
            prop_assert_eq!(normalized.event.payload.as_bytes(), &payload[..]);
        }
    }

    #[test]
    fn any_json_gives_rows_unless_it_is_not_an_object(value in json()) {
        let payload = serde_json::to_vec(&value).expect("a Value serializes");
        match normalize(&delivery(&payload), EventTimeBounds::DEFAULT) {
            Ok(normalized) => {
                prop_assert!(value.is_object());
                prop_assert_eq!(normalized.event.payload.as_bytes(), &payload[..]);
            }
            Err(err) => {
                prop_assert!(!value.is_object(), "{err} for an object");
                prop_assert_eq!(err.reason(), "not_an_object");
            }
        }
    }

    #[test]
    fn a_named_event_keeps_its_name_whatever_else_it_carries((name, payload) in event_body()) {
        let normalized = normalize(&delivery(&payload), EventTimeBounds::DEFAULT).expect("an object is a row");
        let event = normalized.event;
        let known = connect_event_names().chain(forge_event_names()).any(|known| known == name);
        if known {
            prop_assert_ne!(event.family.as_str(), Family::Unknown.as_str());
        } else if name.is_empty() {
            prop_assert_eq!(event.family.as_str(), Family::Unknown.as_str());
            prop_assert_eq!(event.event_type.as_str(), "unknown");
        } else {
            prop_assert_eq!(event.family.as_str(), Family::Unknown.as_str());
            prop_assert_eq!(event.event_type, name);
        }
        prop_assert_eq!(event.payload.as_bytes(), &payload[..]);
        for change in &normalized.field_changes {
            prop_assert_eq!(&change.delivery_id, &event.delivery_id);
        }
    }
}
