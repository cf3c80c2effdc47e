//! How long a signed Data Center delivery may be replayed. Its HMAC covers the body only, so a
//! captured request verifies forever; the body's `timestamp` (epoch milliseconds, inside the
//! signed bytes) says when Jira made it, and a delivery is trusted only while that is within
//! the window of now. Within the window a replay is the same body, hence the same delivery id,
//! and is stored once; past it, it is refused.

use std::{borrow::Cow, fmt, time::Duration};

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, Visitor},
};
use serde_json::Value;

use super::Refused;

/// `INGRESS_REPLAY_WINDOW_SECS`: long enough for Jira's retries (spread over about half an hour)
/// and a server clock some minutes off, short enough that the warehouse still holds the first
/// copy of anything replayed (so it is counted once).
#[derive(Debug, Clone, Copy)]
pub struct ReplayWindow(pub Duration);

impl ReplayWindow {
    /// Checks the signed body's `timestamp` against `now_ms`. A body that is not a JSON object
    /// passes here: it is no event, so the route answers 400 and it never reaches the raw topic.
    pub fn check(&self, body: &[u8], now_ms: i64) -> Result<(), Refused> {
        // Not UTF-8, or not a JSON object: not an event either (serde_json skips the bytes of
        // fields it ignores, so UTF-8 is checked first, as the event check does).
        let Ok(stamped) = std::str::from_utf8(body)
            .map_err(|_| ())
            .and_then(|text| serde_json::from_str::<Stamped>(text).map_err(|_| ()))
        else {
            return Ok(());
        };
        if stamped.again {
            // Two timestamps: which one the pipeline reads is not ours to guess.
            return Err(Refused::NoTimestamp);
        }
        let made_at_ms = match stamped.timestamp {
            Some(Value::Number(number)) => number.as_i64(),
            // Forge-shaped bodies carry it as a string of digits.
            Some(Value::String(text)) => text.trim().parse().ok(),
            _ => None,
        }
        .ok_or(Refused::NoTimestamp)?;
        let window_ms = i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX);
        if made_at_ms < now_ms.saturating_sub(window_ms) {
            Err(Refused::StaleDelivery)
        } else if made_at_ms > now_ms.saturating_add(window_ms) {
            Err(Refused::DeliveryFromTheFuture)
        } else {
            Ok(())
        }
    }
}

/// A body's top-level `timestamp`, and whether it had a second one. Only that value is built;
/// every other field is skipped.
struct Stamped {
    timestamp: Option<Value>,
    again: bool,
}

impl<'de> Deserialize<'de> for Stamped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StampedVisitor;
        impl<'de> Visitor<'de> for StampedVisitor {
            type Value = Stamped;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stamped, A::Error> {
                let mut stamped = Stamped {
                    timestamp: None,
                    again: false,
                };
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "timestamp" {
                        stamped.again |= stamped.timestamp.is_some();
                        stamped.timestamp = Some(map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(stamped)
            }
        }
        deserializer.deserialize_map(StampedVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_trusted_only_while_its_timestamp_is_within_the_window() {
        let window = ReplayWindow(Duration::from_secs(3600));
        let now: i64 = 1_763_400_000_000;
        let hour = 3_600_000;
        let cases: Vec<(String, Result<(), Refused>, &str)> = vec![
            (format!(r#"{{"timestamp":{now}}}"#), Ok(()), "now"),
            (
                format!(r#"{{"timestamp":{}}}"#, now - hour),
                Ok(()),
                "an hour ago, the edge",
            ),
            (
                format!(r#"{{"timestamp":{}}}"#, now - hour - 1),
                Err(Refused::StaleDelivery),
                "just past the window",
            ),
            (
                format!(r#"{{"timestamp":"{}"}}"#, now - 5_000),
                Ok(()),
                "a string of digits",
            ),
            (
                format!(r#"{{"timestamp":{}}}"#, now + hour + 1),
                Err(Refused::DeliveryFromTheFuture),
                "a clock far ahead",
            ),
            (
                r#"{"webhookEvent":"x"}"#.to_owned(),
                Err(Refused::NoTimestamp),
                "none",
            ),
            (
                r#"{"timestamp":null}"#.to_owned(),
                Err(Refused::NoTimestamp),
                "null",
            ),
            (
                r#"{"timestamp":"yesterday"}"#.to_owned(),
                Err(Refused::NoTimestamp),
                "not a number",
            ),
            (
                r#"{"timestamp":1.5e12}"#.to_owned(),
                Err(Refused::NoTimestamp),
                "not an integer",
            ),
            (
                format!(r#"{{"timestamp":{now},"timestamp":{}}}"#, now - 10 * hour),
                Err(Refused::NoTimestamp),
                "two of them",
            ),
            ("[1,2]".to_owned(), Ok(()), "not an object: left to the 400"),
            ("not json".to_owned(), Ok(()), "not JSON: left to the 400"),
        ];
        for (body, expected, case) in cases {
            assert_eq!(window.check(body.as_bytes(), now), expected, "{case}");
        }
        assert_eq!(
            window.check(b"{\"webhookEvent\":\"x\",\"x\":\"\xff\"}", now),
            Ok(()),
            "not UTF-8: left to the 400"
        );
    }
}
