//! `/readyz`: asks each real dependency, concurrently and with a deadline, whether it answers.
//! The answer is kept for a second and probes arriving meanwhile share one check, so a burst of
//! probes costs one Postgres connection and one SMTP session, not one each; a second later a
//! service reports ready again by itself once a dependency is back.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Mutex;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use futures::future::{BoxFuture, join_all};
use prometheus::{IntGaugeVec, Opts, Registry};
use serde_json::json;

pub const DEPENDENCY_UP: &str = "dependency_up";

/// How long one dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an answer is reused: short next to any probe's period (Kubernetes: 10 s,
/// Prometheus here: 5 s), long enough that a flood of probes costs one check a second.
pub const CACHED_FOR: Duration = Duration::from_secs(1);

/// Each dependency's name and its failure, if any.
pub type Report = BTreeMap<&'static str, Result<(), String>>;

/// A report and when it was asked for.
type Answer = (Instant, Arc<Report>);

/// One dependency a service cannot work without.
pub trait DependencyCheck: Send + Sync + 'static {
    /// A short, stable name: used in the `/readyz` body and as a metric label.
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answered; otherwise what went wrong, for an operator.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<Box<dyn DependencyCheck>>>,
    up: IntGaugeVec,
    /// The last report and when it was made. Held across the check, so a probe arriving while
    /// one runs waits for it and takes its answer instead of starting another.
    last: Arc<Mutex<Option<Answer>>>,
}

impl Readiness {
    pub fn new(
        registry: &Registry,
        checks: Vec<Box<dyn DependencyCheck>>,
    ) -> prometheus::Result<Self> {
        let up = IntGaugeVec::new(
            Opts::new(
                DEPENDENCY_UP,
                "1 when the dependency answered the last readiness check, else 0.",
            ),
            &["dependency"],
        )?;
        registry.register(Box::new(up.clone()))?;
        Ok(Self {
            checks: Arc::new(checks),
            up,
            last: Arc::default(),
        })
    }

    /// Each dependency's name and its failure, if any: from the last second's check, or a new
    /// one.
    pub async fn report(&self) -> Arc<Report> {
        self.report_at(Instant::now()).await
    }

    /// `report` asked at `now` (a parameter, so tests need not wait for the second to pass).
    async fn report_at(&self, now: Instant) -> Arc<Report> {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref()
            && now.saturating_duration_since(*at) < CACHED_FOR
        {
            return Arc::clone(report);
        }
        let report = Arc::new(self.check_now().await);
        *last = Some((now, Arc::clone(&report)));
        report
    }

    async fn check_now(&self) -> Report {
        let results = join_all(self.checks.iter().map(|check| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check.check()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            (check.name(), outcome)
        }))
        .await;
        for (name, outcome) in &results {
            self.up
                .with_label_values(&[name])
                .set(i64::from(outcome.is_ok()));
        }
        results.into_iter().collect()
    }

    pub(crate) async fn handler(State(readiness): State<Self>) -> impl IntoResponse {
        let report = readiness.report().await;
        let failures: Vec<String> = report
            .iter()
            .filter_map(|(name, outcome)| {
                outcome.as_ref().err().map(|err| format!("{name}: {err}"))
            })
            .collect();
        let dependencies: BTreeMap<_, _> = report
            .iter()
            .map(|(name, outcome)| (*name, outcome.as_ref().err().map_or("ok", String::as_str)))
            .collect();
        if failures.is_empty() {
            (
                StatusCode::OK,
                Json(json!({"status": "ready", "dependencies": dependencies})),
            )
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "error": "not_ready",
                    "message": format!("waiting for {}", failures.join("; ")),
                    "dependencies": dependencies,
                })),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::FutureExt;

    use super::*;

    /// Counts the checks made.
    struct Counted(Arc<AtomicUsize>);

    impl DependencyCheck for Counted {
        fn name(&self) -> &'static str {
            "counted"
        }

        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            async move {
                self.0.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn an_answer_is_reused_for_a_second_then_checked_again() {
        let checks = Arc::new(AtomicUsize::new(0));
        let readiness = Readiness::new(
            &Registry::new(),
            vec![Box::new(Counted(Arc::clone(&checks)))],
        )
        .unwrap();
        let start = Instant::now();
        readiness.report_at(start).await;
        assert!(readiness.report_at(start + CACHED_FOR / 2).await["counted"].is_ok());
        assert_eq!(checks.load(Ordering::SeqCst), 1, "reused within the second");
        readiness.report_at(start + CACHED_FOR).await;
        assert_eq!(checks.load(Ordering::SeqCst), 2, "checked again after it");
    }
}
