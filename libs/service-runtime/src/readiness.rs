//! `/readyz`: asks each real dependency, concurrently and with a deadline, whether it answers.
//! Nothing is cached, so a service reports ready again by itself once a dependency is back.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use futures::future::{BoxFuture, join_all};
use prometheus::{IntGaugeVec, Opts, Registry};
use serde_json::json;

pub const DEPENDENCY_UP: &str = "dependency_up";

/// How long one dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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
        })
    }

    /// Each dependency's name and its failure, if any.
    pub async fn report(&self) -> BTreeMap<&'static str, Result<(), String>> {
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
