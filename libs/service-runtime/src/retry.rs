//! One retry policy for every "a dependency is away" wait: the broker while topics are created,
//! ClickHouse while the warehouse migrates or a batch is inserted, Postgres under the
//! installation follower, the dead-letter topic, and the retries the outbox schedules in its
//! table. Exponential backoff, capped; in process with jitter, so many instances that lost the
//! same dependency do not come back in step. Built on `backon`.

use std::{fmt::Display, future::Future, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

/// As configuration, both delays are in milliseconds, and the service that reads them names
/// their variables and defaults: `#[command(mut_arg("retry_first", |arg| arg.env(…)…))]` (so
/// neither is `required` here: clap would demand the flag even once it has a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct RetryPolicy {
    /// The first delay (milliseconds); each failure doubles it.
    #[arg(
        id = "retry_first",
        long = "retry-first-ms",
        required = false,
        value_parser = crate::config::parse::millis
    )]
    pub first: Duration,
    /// The delay never grows past this (milliseconds).
    #[arg(
        id = "retry_max",
        long = "retry-max-ms",
        required = false,
        value_parser = crate::config::parse::millis
    )]
    pub max: Duration,
}

impl RetryPolicy {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { first, max }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
    }

    /// Runs `attempt` until it succeeds, logging each failure as a warning that says `waiting`;
    /// `None` when `stop` is cancelled first. Never gives up on its own: these are the waits a
    /// service cannot work without, and its readiness says it is waiting.
    pub async fn until_ok<T, E, F, Fut>(
        &self,
        waiting: &'static str,
        stop: &CancellationToken,
        attempt: F,
    ) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let retried = attempt
            .retry(self.backoff())
            .notify(|err: &E, retry_in: Duration| {
                // `{:#}`: an anyhow error with its causes, which say what is wrong.
                tracing::warn!(error = %format_args!("{err:#}"), ?retry_in, "{waiting}");
            });
        tokio::select! {
            () = stop.cancelled() => None,
            done = retried => done.ok(),
        }
    }

    /// The delay before the next try after `failures` failed ones, for retries a store
    /// schedules (a row's `next_attempt_at`) rather than a task that waits: no jitter, so the
    /// schedule can be read back and tested.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.min(20));
        self.first.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const QUICK: RetryPolicy = RetryPolicy::new(Duration::from_millis(1), Duration::from_millis(4));

    #[test]
    fn a_scheduled_delay_doubles_from_the_first_and_is_capped() {
        let policy = RetryPolicy::new(Duration::from_secs(30), Duration::from_secs(600));
        let delays: Vec<u64> = (0..7).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(600));
    }

    #[tokio::test]
    async fn failures_are_retried_until_one_succeeds() {
        let tries = AtomicU32::new(0);
        let answer = QUICK
            .until_ok("waiting in a test", &CancellationToken::new(), || async {
                match tries.fetch_add(1, Ordering::SeqCst) {
                    0..3 => Err("not yet"),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(answer, Some(3));
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait() {
        let stop = CancellationToken::new();
        stop.cancel();
        let answer: Option<()> = QUICK
            .until_ok("waiting in a test", &stop, || async { Err("never") })
            .await;
        assert_eq!(answer, None);
    }
}
