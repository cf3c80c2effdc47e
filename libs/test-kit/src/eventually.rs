//! Waiting for something the test cannot be told about, only observe: a row in ClickHouse, a
//! message in the mailbox, a service that answers. One bounded poll, so a timeout always says
//! what was awaited and what was last seen instead of hanging or failing mutely.

use std::{fmt::Display, future::Future, time::Duration};

/// The first pause between checks: most conditions hold within a few milliseconds.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The pause doubles up to this, so a condition that takes seconds is not polled (a ClickHouse
/// query, a Jira delivery) hundreds of times over while the machine is busy with the rest of
/// the suite.
const LONGEST_PAUSE: Duration = Duration::from_millis(200);

/// Runs `check` until it answers `Ok`, and returns that value. `Err` carries what was observed
/// instead (a status, a count, a body): if `timeout` passes without an `Ok`, this panics with
/// `what` was awaited and the last observation. A check under way when time runs out is let
/// finish, so a slow but successful check still counts.
pub async fn eventually<T, Seen, Check, Checked>(
    timeout: Duration,
    what: &str,
    mut check: Check,
) -> T
where
    Seen: Display,
    Check: FnMut() -> Checked,
    Checked: Future<Output = Result<T, Seen>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}; last seen: {seen}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn answers_the_value_once_the_check_succeeds() {
        let calls = AtomicU32::new(0);
        let value = eventually(Duration::from_secs(5), "the third call", || async {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call == 3 { Ok(call) } else { Err(call) }
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "the answer: not within 50ms; last seen: still 41")]
    async fn a_timeout_names_what_was_awaited_and_what_was_last_seen() {
        eventually(Duration::from_millis(50), "the answer", || async {
            Err::<(), _>("still 41")
        })
        .await;
    }
}
