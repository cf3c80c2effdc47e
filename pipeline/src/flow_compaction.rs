//! The flow compaction job: every `FLOW_COMPACT_INTERVAL_SECS` it copies the flow facts into a
//! new snapshot and counts its status changes per hour (`warehouse::flow::compaction`), so the
//! flow view reads the issues not refreshed since from the snapshot, without FINAL. Every
//! pipeline instance runs it; two at once make two snapshots, which is only work.

use std::time::Duration;

use prometheus::{IntCounter, Opts, Registry};
use tokio_util::sync::CancellationToken;
use warehouse::flow::compaction::{self, Snapshot};

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
            "Snapshots of the flow facts recorded: views read the issues not refreshed since from the newest, without FINAL.",
        ))?;
        let failures = IntCounter::with_opts(Opts::new(
            FLOW_COMPACTION_FAILURES_TOTAL,
            "Compactions of the flow facts that failed (tried at the next interval; views stay exact, reading the facts changed since the newest snapshot with FINAL).",
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
    pub async fn run_once(&self) -> Result<Snapshot, clickhouse::error::Error> {
        let snapshot = compaction::compact(&self.client)
            .await
            .inspect_err(|_| self.failures.inc())?;
        self.recorded.inc();
        Ok(snapshot)
    }

    /// Compactions until `stop`, one an interval after the start and then every interval (a
    /// pipeline that restarts often does not copy the tables at each start). A failed one is
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
