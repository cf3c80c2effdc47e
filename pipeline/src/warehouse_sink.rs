//! Inserting a batch into ClickHouse, retried with capped exponential backoff until it is
//! accepted or the pipeline is told to stop. While it retries nothing new is consumed, so memory
//! stays bounded and the broker keeps what we have not stored.

use std::time::{Duration, Instant};

use service_runtime::retry::RetryPolicy;
use tokio_util::sync::CancellationToken;
use warehouse::{EventRow, FieldChangeRow};

use crate::{batch::Batch, metrics::PipelineMetrics};

const INSERT_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(10));

#[derive(Clone)]
pub(crate) struct WarehouseSink {
    pub(crate) client: clickhouse::Client,
    pub(crate) metrics: PipelineMetrics,
}

/// The batch was not stored because the pipeline is stopping; its offsets must not be stored.
#[derive(Debug)]
pub(crate) struct Abandoned;

impl WarehouseSink {
    /// A span per batch: its retries and failures are logged inside it. A delivery's own lines
    /// (normalized away, dead-lettered) carry its request, delivery and installation ids.
    #[tracing::instrument(name = "batch", skip_all, fields(rows = batch.events.len(), field_changes = batch.field_changes.len()))]
    pub(crate) async fn insert(
        &self,
        batch: &Batch,
        stop: &CancellationToken,
    ) -> Result<(), Abandoned> {
        if batch.events.is_empty() {
            return Ok(());
        }
        let stored = INSERT_RETRY
            .until_ok(
                "ClickHouse insert failed; consuming paused",
                stop,
                || async {
                    let started = Instant::now();
                    self.try_insert(batch).await.inspect_err(|_| {
                        self.metrics.insert_failures.inc();
                    })?;
                    Ok::<_, clickhouse::error::Error>(started.elapsed())
                },
            )
            .await;
        let Some(took) = stored else {
            return Err(Abandoned);
        };
        self.record_insert(batch, took);
        Ok(())
    }

    fn record_insert(&self, batch: &Batch, took: Duration) {
        self.metrics.insert_duration.observe(took.as_secs_f64());
        self.metrics.batch_rows.observe(batch.events.len() as f64);
        self.metrics
            .inserted_rows
            .with_label_values(&["events"])
            .inc_by(batch.events.len() as u64);
        self.metrics
            .inserted_rows
            .with_label_values(&["field_changes"])
            .inc_by(batch.field_changes.len() as u64);
        let now_ms = chrono::Utc::now().timestamp_millis();
        for received in &batch.received_at_ms {
            self.metrics
                .end_to_end_delay
                .observe((now_ms - received).max(0) as f64 / 1000.0);
        }
    }

    /// Field changes first: if we crash between the two inserts, the redelivered batch inserts
    /// both again and the keys absorb the copies; events are never visible without their changes.
    async fn try_insert(&self, batch: &Batch) -> Result<(), clickhouse::error::Error> {
        if !batch.field_changes.is_empty() {
            let mut insert = self
                .client
                .insert::<FieldChangeRow>("field_changes")
                .await?;
            for row in &batch.field_changes {
                insert.write(row).await?;
            }
            insert.end().await?;
        }
        let mut insert = self.client.insert::<EventRow>("events").await?;
        for row in &batch.events {
            insert.write(row).await?;
        }
        insert.end().await
    }
}
