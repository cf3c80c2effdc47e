//! Whether the consuming side is still alive. A pipeline whose worker died would otherwise keep
//! answering health and metrics while consuming nothing, so readiness reports it and the
//! process exits non-zero, for its supervisor to restart it.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use futures::{FutureExt, future::BoxFuture};
use service_runtime::DependencyCheck;

/// Why the worker stopped, once it has; `None` while it runs (or stopped because asked to).
#[derive(Clone, Default)]
pub struct WorkerHealth(Arc<Mutex<Option<String>>>);

impl WorkerHealth {
    fn died(&self, err: &anyhow::Error) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(format!("{err:#}"));
    }

    fn failure(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl DependencyCheck for WorkerHealth {
    fn name(&self) -> &'static str {
        "worker"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let failure = self.failure();
        async move {
            match failure {
                None => Ok(()),
                Some(reason) => Err(format!("the consuming worker stopped: {reason}")),
            }
        }
        .boxed()
    }
}

/// Runs `consuming` in a task of its own and returns its outcome, a panic counted as an error;
/// an error is recorded in `health` first, so readiness turns red before the process exits.
pub(crate) async fn supervise(
    health: WorkerHealth,
    consuming: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) -> anyhow::Result<()> {
    let outcome = match tokio::spawn(consuming).await {
        Ok(outcome) => outcome,
        Err(err) => Err(anyhow::Error::new(err).context("the consuming task failed")),
    };
    if let Err(err) = &outcome {
        tracing::error!(error = format!("{err:#}"), "the pipeline stopped consuming");
        health.died(err);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use prometheus::Registry;
    use service_runtime::Readiness;

    use super::*;

    #[tokio::test]
    async fn a_dead_worker_turns_readiness_red() {
        let health = WorkerHealth::default();
        let readiness = Readiness::new(&Registry::new(), vec![Box::new(health.clone())]).unwrap();
        assert!(readiness.report().await["worker"].is_ok(), "alive at first");

        let outcome = supervise(health.clone(), async { panic!("an insert task panicked") }).await;

        let err = format!("{:#}", outcome.expect_err("a panic is an error"));
        assert!(err.contains("the consuming task failed"), "{err}");
        let failure = health.check().await.expect_err("the worker is dead");
        assert!(
            failure.starts_with("the consuming worker stopped"),
            "{failure}"
        );
    }

    #[tokio::test]
    async fn a_worker_that_stopped_because_asked_stays_green() {
        let health = WorkerHealth::default();
        supervise(health.clone(), async { Ok(()) }).await.unwrap();
        health.check().await.unwrap();
    }
}
