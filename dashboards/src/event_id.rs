//! The public id of one event: its installation and delivery id, opaque and URL-safe. Resolving
//! an id always goes through the caller's installations, so an id of another organization's
//! event finds nothing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

pub(crate) fn encode(installation_id: &str, delivery_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{installation_id}\n{delivery_id}"))
}

pub(crate) fn decode(id: &str) -> Option<(String, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (installation, delivery) = text.split_once('\n')?;
    Some((installation.to_owned(), delivery.to_owned()))
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
        let id = encode("ari:cloud:ecosystem::installation/1", "d/42?x");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            decode(&id),
            Some((
                "ari:cloud:ecosystem::installation/1".into(),
                "d/42?x".into()
            ))
        );
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("no separator")), None);
    }
}
