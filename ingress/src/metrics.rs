//! Ingress's own metrics. Names are constants; labels come from small fixed sets (route
//! templates, outcomes, refusal codes), except the per-installation last-event gauge, which has
//! one series per connected workspace.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub const DELIVERIES_TOTAL: &str = "ingress_deliveries_total";
pub const REFUSALS_TOTAL: &str = "ingress_refusals_total";
pub const REFUSALS_BY_INSTALLATION_TOTAL: &str = "ingress_installation_refusals_total";
pub const DEAD_LETTERS_TOTAL: &str = "ingress_dead_letters_total";
pub const PRODUCE_DURATION_SECONDS: &str = "ingress_produce_duration_seconds";
pub const IN_FLIGHT_REQUESTS: &str = "ingress_in_flight_requests";
pub const PRODUCER_QUEUE_MESSAGES: &str = "ingress_producer_queue_messages";
pub const LAST_EVENT_TIMESTAMP_SECONDS: &str = "ingress_last_event_timestamp_seconds";
pub const INSTALLATIONS_CACHED: &str = "ingress_installations_cached";
pub const FORGE_TOKENS_TRACKED: &str = "ingress_forge_tokens_tracked";

/// Broker acknowledgement takes ~1–20 ms with linger; the tail shows a struggling broker
/// well before the 5 s produce timeout answers 503.
const PRODUCE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone)]
pub struct IngressMetrics {
    pub deliveries: IntCounterVec,
    pub refusals: IntCounterVec,
    /// Refusals of deliveries claiming a known installation: what the troubleshooting page shows.
    pub refusals_by_installation: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub produce_duration: Histogram,
    pub in_flight: IntGauge,
    pub queue_depth: IntGauge,
    pub last_event: IntGaugeVec,
    pub installations: IntGauge,
    pub forge_tokens: IntGauge,
}

impl IngressMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            deliveries: IntCounterVec::new(
                Opts::new(
                    DELIVERIES_TOTAL,
                    "Deliveries answered, by route and outcome (accepted, refused, invalid, too_large, unavailable).",
                ),
                &["route", "outcome"],
            )?,
            refusals: IntCounterVec::new(
                Opts::new(
                    REFUSALS_TOTAL,
                    "Deliveries refused as untrusted (401), by reason.",
                ),
                &["reason"],
            )?,
            refusals_by_installation: IntCounterVec::new(
                Opts::new(
                    REFUSALS_BY_INSTALLATION_TOTAL,
                    "Refused deliveries that claimed a known installation, by installation id and reason.",
                ),
                &["installation", "reason"],
            )?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    DEAD_LETTERS_TOTAL,
                    "Verified deliveries kept on the dead-letter topic instead of the raw topic, by reason.",
                ),
                &["reason"],
            )?,
            produce_duration: Histogram::with_opts(
                HistogramOpts::new(
                    PRODUCE_DURATION_SECONDS,
                    "Time from producing an event to the broker's acknowledgement.",
                )
                .buckets(PRODUCE_BUCKETS.to_vec()),
            )?,
            in_flight: IntGauge::new(IN_FLIGHT_REQUESTS, "Event deliveries being handled now.")?,
            queue_depth: IntGauge::new(
                PRODUCER_QUEUE_MESSAGES,
                "Events in the producer's queue or awaiting the broker's acknowledgement.",
            )?,
            last_event: IntGaugeVec::new(
                Opts::new(
                    LAST_EVENT_TIMESTAMP_SECONDS,
                    "When the last accepted event of each installation arrived (Unix seconds).",
                ),
                &["installation"],
            )?,
            installations: IntGauge::new(
                INSTALLATIONS_CACHED,
                "Installations held in the in-memory cache.",
            )?,
            forge_tokens: IntGauge::new(
                FORGE_TOKENS_TRACKED,
                "Forge Invocation Tokens remembered until they expire, so none carries a second delivery (503 too_many_tokens at the cap).",
            )?,
        };
        registry.register(Box::new(metrics.deliveries.clone()))?;
        registry.register(Box::new(metrics.refusals.clone()))?;
        registry.register(Box::new(metrics.refusals_by_installation.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.produce_duration.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.queue_depth.clone()))?;
        registry.register(Box::new(metrics.last_event.clone()))?;
        registry.register(Box::new(metrics.installations.clone()))?;
        registry.register(Box::new(metrics.forge_tokens.clone()))?;
        Ok(metrics)
    }
}
