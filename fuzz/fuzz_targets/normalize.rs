//! The Jira normalizer on any payload: it must answer rows or a typed error, never panic, and
//! keep the payload byte for byte. Seeded with the shared Connect and Forge fixtures.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pipeline::normalize::{Delivery, EventTimeBounds, NormalizeError, normalize};

const FAMILIES: &[&str] = &[
    "issue",
    "comment",
    "worklog",
    "issue_link",
    "sprint",
    "board",
    "project",
    "version",
    "user",
    "unknown",
];

fuzz_target!(|payload: &[u8]| {
    // The first byte picks the path the delivery came by, so each shape is tried as each source.
    let source = match payload.first().map(|byte| byte % 3) {
        Some(0) => "forge",
        Some(1) => "webhook-secret",
        _ => "connect",
    };
    let delivery = Delivery {
        installation_id: "3f2a9c1e-0000-4000-8000-00000000f022".parse().unwrap(),
        delivery_id: "fuzz-1",
        source,
        received_at_ms: 1_763_397_602_311,
        payload,
    };
    match normalize(&delivery, EventTimeBounds::DEFAULT) {
        Ok(normalized) => {
            let event = &normalized.event;
            assert_eq!(
                event.payload.as_bytes(),
                payload,
                "payload kept byte for byte"
            );
            assert!(
                FAMILIES.contains(&event.family.as_str()),
                "{}",
                event.family
            );
            assert!(
                !event.event_type.is_empty(),
                "every row names its event type"
            );
            for change in &normalized.field_changes {
                assert_eq!(change.delivery_id, event.delivery_id);
                assert_eq!(change.issue_key, event.issue_key);
            }
        }
        Err(NormalizeError::NotUtf8(_)) => assert!(std::str::from_utf8(payload).is_err()),
        // Not JSON, or JSON but not an object: a dead letter, which is all we ask.
        Err(NormalizeError::NotJson(_) | NormalizeError::NotAnObject) => {}
    }
});
