//! The sealing job: every `SEAL_INTERVAL_SECS` it counts the hourly rollup's quiet hours once
//! (`warehouse::sealing`), so the weekly-rates and trends views over a large tenant add numbers
//! instead of merging sets of delivery ids. Every pipeline instance runs it; two sealing the
//! same hour write the same counts.

use std::time::Duration;

use prometheus::{IntCounter, Opts, Registry};
use tokio_util::sync::CancellationToken;
use warehouse::sealing::{self, SealCursor, SealPass};

use crate::metrics::{ROLLUP_SEALS_TOTAL, SEAL_FAILURES_TOTAL};

/// Installations whose hours one pass seals at most; with more waiting (the first passes after
/// an upgrade, which seal every stored hour) the next pass starts at once.
const INSTALLATIONS_PER_PASS: u64 = 100;

pub struct Sealing {
    client: clickhouse::Client,
    interval: Duration,
    sealed: IntCounter,
    failures: IntCounter,
}

impl Sealing {
    pub fn new(
        client: clickhouse::Client,
        interval: Duration,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let sealed = IntCounter::with_opts(Opts::new(
            ROLLUP_SEALS_TOTAL,
            "Hours of the hourly rollup counted once, so views add numbers for them.",
        ))?;
        let failures = IntCounter::with_opts(Opts::new(
            SEAL_FAILURES_TOTAL,
            "Sealing passes that failed (tried again at the next interval; views stay exact, only slower).",
        ))?;
        registry.register(Box::new(sealed.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        Ok(Self {
            client,
            interval,
            sealed,
            failures,
        })
    }

    /// One pass from `cursor`, counted.
    pub async fn run_once(
        &self,
        cursor: &mut SealCursor,
    ) -> Result<SealPass, clickhouse::error::Error> {
        let pass = sealing::seal_quiet_hours(
            &self.client,
            cursor,
            INSTALLATIONS_PER_PASS,
            sealing::QUIET_SECS,
        )
        .await
        .inspect_err(|_| self.failures.inc())?;
        self.sealed.inc_by(pass.sealed);
        Ok(pass)
    }

    /// Passes until `stop`: at once, then every interval, or again at once while hours wait. A
    /// failed pass is logged and tried at the next interval.
    pub async fn run(self, stop: CancellationToken) {
        let mut cursor = SealCursor::default();
        loop {
            let again_now = match self.run_once(&mut cursor).await {
                Ok(pass) => pass.more_waiting,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?self.interval, "sealing pass failed");
                    false
                }
            };
            if again_now && !stop.is_cancelled() {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {},
            }
        }
    }
}
