//! Request counting and timing for every route, labelled by axum's matched route template
//! (never the raw URI, whose ids would explode the label set).

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub const REQUESTS_TOTAL: &str = "http_requests_total";
pub const REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";

/// Request latency buckets: our handlers answer in well under a millisecond to a few hundred
/// milliseconds; the tail buckets catch a slow dependency before the 5 s client timeouts.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Attached to a response by an error's `IntoResponse`, so the refusal is logged once, here,
/// with its route, rather than by each handler or again by the error itself.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub code: &'static str,
    /// For the operator's log; never a secret or a token.
    pub reason: String,
    /// The installation concerned, when known.
    pub installation: Option<String>,
}

impl Refusal {
    /// A refusal whose reason is `err` and every cause under it (`a: b: c`), so a store error
    /// logs what Postgres said, not only that the store was unavailable.
    pub fn of(code: &'static str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            code,
            reason: error_chain(err),
            installation: None,
        }
    }
}

/// `err` and its sources, outermost first, each once (a source already written into its
/// parent's message is not repeated).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the store is unavailable")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("hashing failed: {0}")]
    struct Repeats(#[source] Inner);

    #[test]
    fn the_chain_names_every_cause_once() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "the store is unavailable: connection refused"
        );
        assert_eq!(
            error_chain(&Repeats(Inner)),
            "hashing failed: connection refused"
        );
    }
}

#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                REQUESTS_TOTAL,
                "HTTP requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                REQUEST_DURATION_SECONDS,
                "Time from receiving a request to answering it, by route and method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }

    pub async fn middleware(State(metrics): State<Self>, request: Request, next: Next) -> Response {
        let started = Instant::now();
        // Clones of an Arc and of a standard method: no allocation per request.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let method = request.method().clone();
        let method = method.as_str();
        let response = next.run(request).await;
        if let Some(refusal) = response.extensions().get::<Refusal>() {
            let status = response.status();
            let installation = refusal.installation.as_deref().unwrap_or("");
            // Our failure (a 5xx) is an error for the operator; a refused request is a warning.
            if status.is_server_error() {
                tracing::error!(route = %route, status = status.as_u16(), code = refusal.code, reason = %refusal.reason, installation, "request failed");
            } else {
                tracing::warn!(route = %route, status = status.as_u16(), code = refusal.code, reason = %refusal.reason, installation, "request refused");
            }
        }
        metrics
            .requests
            .with_label_values(&[route, method, response.status().as_str()])
            .inc();
        metrics
            .duration
            .with_label_values(&[route, method])
            .observe(started.elapsed().as_secs_f64());
        response
    }
}
