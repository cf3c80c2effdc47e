//! The retention job: every `RETENTION_INTERVAL_SECS` it drops the warehouse's monthly
//! partitions older than `RETENTION_MONTHS` (ClickHouse 18.16 has no TTL). Every pipeline
//! instance runs it; dropping a partition twice is harmless.

use chrono::NaiveDate;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;
use warehouse::retention::{self, DroppedPartition, RetentionError};

use crate::{config::RetentionConfig, metrics::PARTITIONS_DROPPED_TOTAL};

pub struct Retention {
    client: clickhouse::Client,
    config: RetentionConfig,
    dropped: IntCounterVec,
}

impl Retention {
    pub fn new(
        client: clickhouse::Client,
        config: RetentionConfig,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let dropped = IntCounterVec::new(
            Opts::new(
                PARTITIONS_DROPPED_TOTAL,
                "Monthly partitions dropped for being older than the retention, by table.",
            ),
            &["table"],
        )?;
        registry.register(Box::new(dropped.clone()))?;
        Ok(Self {
            client,
            config,
            dropped,
        })
    }

    /// One pass as of `today` (UTC): drops what is older than the retention, counts it, and
    /// returns it. Nothing when the retention is 0 (keep forever).
    pub async fn run_once(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<DroppedPartition>, RetentionError> {
        if self.config.months == 0 {
            return Ok(Vec::new());
        }
        let first_kept = retention::first_kept_month(today, self.config.months);
        let dropped = retention::drop_months_before(&self.client, first_kept).await?;
        for partition in &dropped {
            self.dropped.with_label_values(&[partition.table]).inc();
            tracing::info!(
                table = partition.table,
                month = partition.month,
                "dropped a month older than the retention"
            );
        }
        Ok(dropped)
    }

    /// Runs a pass at once and then every interval until `stop`; a failed pass is logged and
    /// tried again at the next interval (the data only waits a little longer to go).
    pub async fn run(self, stop: CancellationToken) {
        if self.config.months == 0 {
            return;
        }
        loop {
            if let Err(err) = self.run_once(chrono::Utc::now().date_naive()).await {
                tracing::warn!(error = %err, retry_in = ?self.config.interval, "retention pass failed");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.config.interval) => {},
            }
        }
    }
}
