//! The wall clock, read in the units Atlassian's payloads and tokens use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch, for JWT `iat`/`exp`/`nbf`.
pub(crate) fn now_secs() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the epoch, for webhook `timestamp`s.
pub(crate) fn now_millis() -> u64 {
    u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
}

fn since_epoch() -> std::time::Duration {
    // A clock before 1970 is a broken machine; 0 makes every token look expired, which says so.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
