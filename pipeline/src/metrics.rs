//! The pipeline's metrics: what was consumed, inserted and dead-lettered, how big and slow the
//! inserts are, how long an event took from ingress to ClickHouse, the flow facts' refreshes,
//! the consumer's lag, the retention job's drops, the sealing job's hours and the flow
//! compactions. Every name the pipeline exports is here.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

pub const CONSUMED_TOTAL: &str = "pipeline_consumed_total";
pub const INSERTED_ROWS_TOTAL: &str = "pipeline_inserted_rows_total";
pub const DEAD_LETTERS_TOTAL: &str = "pipeline_dead_letters_total";
pub const INSERT_FAILURES_TOTAL: &str = "pipeline_insert_failures_total";
pub const FLOW_REFRESH_SECONDS: &str = "pipeline_flow_refresh_seconds";
pub const FLOW_REFRESH_FAILURES_TOTAL: &str = "pipeline_flow_refresh_failures_total";
pub const BATCH_ROWS: &str = "pipeline_batch_rows";
pub const INSERT_DURATION_SECONDS: &str = "pipeline_insert_duration_seconds";
pub const END_TO_END_DELAY_SECONDS: &str = "pipeline_end_to_end_delay_seconds";
/// Registered by the consumer's statistics callback (`lag.rs`).
pub const CONSUMER_LAG_MESSAGES: &str = "pipeline_consumer_lag_messages";
/// Registered beside it, kept by the rebalance callback (`lag.rs`).
pub const ASSIGNED_PARTITIONS: &str = "pipeline_assigned_partitions";
/// Registered by the retention job (`retention.rs`).
pub const PARTITIONS_DROPPED_TOTAL: &str = "pipeline_retention_partitions_dropped_total";
/// Registered by the sealing job (`sealing.rs`).
/// Named for seals, not "hours": Prometheus reads a unit into "hours" (`promtool check metrics`).
pub const ROLLUP_SEALS_TOTAL: &str = "pipeline_rollup_seals_total";
pub const SEAL_FAILURES_TOTAL: &str = "pipeline_seal_failures_total";
/// Registered by the flow compaction job (`flow_compaction.rs`).
pub const FLOW_COMPACTIONS_TOTAL: &str = "pipeline_flow_compactions_total";
pub const FLOW_COMPACTION_FAILURES_TOTAL: &str = "pipeline_flow_compaction_failures_total";

/// Batches range from a handful of rows (quiet hours) to BATCH_MAX_ROWS.
const BATCH_ROW_BUCKETS: &[f64] = &[
    1.0, 10.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 20000.0, 50000.0,
];
/// A healthy insert takes tens of milliseconds; seconds mean ClickHouse is struggling.
const INSERT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Ingress to ClickHouse: about the batch wait (1 s) when healthy; minutes when lagging.
const DELAY_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

#[derive(Clone)]
pub struct PipelineMetrics {
    pub consumed: IntCounter,
    pub inserted_rows: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub insert_failures: IntCounter,
    pub batch_rows: Histogram,
    pub insert_duration: Histogram,
    pub end_to_end_delay: Histogram,
    pub flow_refresh: Histogram,
    pub flow_refresh_failures: IntCounter,
}

impl PipelineMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            consumed: IntCounter::new(CONSUMED_TOTAL, "Messages read from the raw topic.")?,
            inserted_rows: IntCounterVec::new(
                Opts::new(INSERTED_ROWS_TOTAL, "Rows ClickHouse accepted, by table."),
                &["table"],
            )?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    DEAD_LETTERS_TOTAL,
                    "Messages sent to the dead-letter topic, by reason.",
                ),
                &["reason"],
            )?,
            insert_failures: IntCounter::new(
                INSERT_FAILURES_TOTAL,
                "Inserts ClickHouse refused or did not answer: an outage is retried, refused rows are split out.",
            )?,
            batch_rows: Histogram::with_opts(
                HistogramOpts::new(BATCH_ROWS, "Deliveries per insert.")
                    .buckets(BATCH_ROW_BUCKETS.to_vec()),
            )?,
            insert_duration: Histogram::with_opts(
                HistogramOpts::new(
                    INSERT_DURATION_SECONDS,
                    "Time to insert one batch into ClickHouse.",
                )
                .buckets(INSERT_BUCKETS.to_vec()),
            )?,
            end_to_end_delay: Histogram::with_opts(
                HistogramOpts::new(
                    END_TO_END_DELAY_SECONDS,
                    "From ingress receiving an event to its row being inserted.",
                )
                .buckets(DELAY_BUCKETS.to_vec()),
            )?,
            flow_refresh: Histogram::with_opts(
                HistogramOpts::new(
                    FLOW_REFRESH_SECONDS,
                    "Time to refresh the flow facts of one batch's issues.",
                )
                .buckets(INSERT_BUCKETS.to_vec()),
            )?,
            flow_refresh_failures: IntCounter::new(
                FLOW_REFRESH_FAILURES_TOTAL,
                "Flow-fact refreshes ClickHouse refused or did not answer (each retried).",
            )?,
        };
        registry.register(Box::new(metrics.consumed.clone()))?;
        registry.register(Box::new(metrics.inserted_rows.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.insert_failures.clone()))?;
        registry.register(Box::new(metrics.batch_rows.clone()))?;
        registry.register(Box::new(metrics.insert_duration.clone()))?;
        registry.register(Box::new(metrics.end_to_end_delay.clone()))?;
        registry.register(Box::new(metrics.flow_refresh.clone()))?;
        registry.register(Box::new(metrics.flow_refresh_failures.clone()))?;
        Ok(metrics)
    }
}
