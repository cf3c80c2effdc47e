//! The flow compaction job: every `FLOW_COMPACT_INTERVAL_SECS` it merges the flow facts tables
//! whole (`warehouse::flow::compaction`), so the flow view reads the issues not refreshed since
//! without FINAL. Every pipeline instance runs it; two at once merge twice, which is only work.

use std::time::Duration;

use prometheus::{IntCounter, Opts, Registry};
use tokio_util::sync::CancellationToken;
use warehouse::flow::compaction::{self, Compaction};

use crate::metrics::{FLOW_COMPACTION_FAILURES_TOTAL, FLOW_COMPACTIONS_TOTAL};

pub struct FlowCompaction {
    client: clickhouse::Client,
    interval: Duration,
    recorded: IntCounter,
    failures: IntCounter,
}

impl FlowCompaction {
    pub fn new(
        client: clickhouse::Client,
        interval: Duration,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let recorded = IntCounter::with_opts(Opts::new(
            FLOW_COMPACTIONS_TOTAL,
            "Compactions of the flow facts that left no older part: views read the issues not refreshed since without FINAL.",
        ))?;
        let failures = IntCounter::with_opts(Opts::new(
            FLOW_COMPACTION_FAILURES_TOTAL,
            "Compactions of the flow facts that failed or left an older part (tried at the next interval; views stay exact, only slower).",
        ))?;
        registry.register(Box::new(recorded.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        Ok(Self {
            client,
            interval,
            recorded,
            failures,
        })
    }

    /// One compaction, counted.
    pub async fn run_once(&self) -> Result<Compaction, clickhouse::error::Error> {
        let done = compaction::compact(&self.client)
            .await
            .inspect_err(|_| self.failures.inc())?;
        match done {
            Compaction::Recorded { .. } => self.recorded.inc(),
            Compaction::PartsLeft { parts } => {
                self.failures.inc();
                tracing::warn!(parts, "flow compaction left older parts; not recorded");
            }
        }
        Ok(done)
    }

    /// Compactions until `stop`, one an interval after the start and then every interval (a
    /// pipeline that restarts often does not merge the tables at each start). A failed one is
    /// logged and tried at the next interval.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {},
            }
            if let Err(err) = self.run_once().await {
                tracing::warn!(error = %err, retry_in = ?self.interval, "flow compaction failed");
            }
        }
    }
}
