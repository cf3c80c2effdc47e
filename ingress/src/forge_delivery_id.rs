//! Forge sends no delivery id, and retries a delivery it thinks failed (four times, a minute
//! apart). The id is derived from what names the event, so every retry of one event gets the
//! same id and the warehouse counts it once: the event type, the installation's entity ids (issue,
//! comment, worklog, issue link, sprint, board, project, version, user), the changelog id and
//! the timestamp, read from the flat body or from a `{"payload": …}` wrapper. A body without an
//! `eventType` falls back to the hash of its bytes (an exact retry still matches).

use std::{borrow::Cow, fmt};

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use sha2::{Digest, Sha256};

/// What names a Forge event, read without building a tree of the body (events are a few KB,
/// and this runs on every Forge delivery): every other field is skipped.
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(rename = "eventType", borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<Box<Named<'a>>>,
    #[serde(default)]
    issue: Entity,
    #[serde(default)]
    comment: Entity,
    #[serde(default)]
    worklog: Entity,
    #[serde(default, rename = "issueLink")]
    issue_link: Entity,
    #[serde(default)]
    sprint: Entity,
    #[serde(default)]
    board: Entity,
    #[serde(default)]
    project: Entity,
    #[serde(default)]
    version: Entity,
    #[serde(default)]
    user: Entity,
    #[serde(default)]
    changelog: Entity,
    #[serde(default)]
    timestamp: Scalar,
}

/// An entity's `id` and `accountId`; anything that is not an object reads as empty.
#[derive(Default)]
struct Entity {
    id: Scalar,
    account_id: Scalar,
}

/// A string or a number as text; anything else reads as empty.
#[derive(Default)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, text: &str) -> Result<Scalar, E> {
                Ok(Scalar(text.to_owned()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar, E> {
                Ok(Scalar(n.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar, E> {
                Ok(Scalar(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar, E> {
                Ok(Scalar(
                    serde_json::Number::from_f64(n).map_or_else(String::new, |n| n.to_string()),
                ))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::default())
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntityVisitor;
        impl<'de> Visitor<'de> for EntityVisitor {
            type Value = Entity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entity, A::Error> {
                let mut entity = Entity::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "id" => entity.id = map.next_value()?,
                        "accountId" => entity.account_id = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(entity)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entity, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entity::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Entity, E> {
                Ok(Entity::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Entity, E> {
                Ok(Entity::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Entity, E> {
                Ok(Entity::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Entity, E> {
                Ok(Entity::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Entity, E> {
                Ok(Entity::default())
            }
            fn visit_unit<E>(self) -> Result<Entity, E> {
                Ok(Entity::default())
            }
        }
        deserializer.deserialize_any(EntityVisitor)
    }
}

/// The delivery id of a Forge event body, or `None` when it names no event type.
pub(crate) fn derive(body: &[u8]) -> Option<String> {
    let root: Named<'_> = serde_json::from_slice(body).ok()?;
    let event = match (&root.event_type, &root.payload) {
        (None, Some(inner)) => inner.as_ref(),
        _ => &root,
    };
    let event_type = event.event_type.as_deref()?;
    let mut hasher = Sha256::new();
    hasher.update(event_type.as_bytes());
    for text in [
        &event.issue.id,
        &event.comment.id,
        &event.worklog.id,
        &event.issue_link.id,
        &event.sprint.id,
        &event.board.id,
        &event.project.id,
        &event.version.id,
        &event.user.account_id,
        &event.changelog.id,
        &event.timestamp,
    ] {
        hasher.update(b"\n");
        hasher.update(text.0.as_bytes());
    }
    Some(format!("forge-{}", hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
