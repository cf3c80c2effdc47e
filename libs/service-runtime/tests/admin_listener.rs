//! Health, readiness and metrics answer on the admin port only: on the public port they are
//! unknown paths. Readiness is kept for a second, so a burst of probes costs one check.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::get};
use futures::{FutureExt, future::BoxFuture};
use service_runtime::{
    Application, DependencyCheck, Readiness, ServerConfig, ServiceRouter, new_registry,
};
use test_kit::TestApp;

/// A dependency that answers after a while, counting how often it was asked.
struct SlowDependency(Arc<AtomicUsize>);

impl DependencyCheck for SlowDependency {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            // The dependency's round trip, long enough that the probes below overlap it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }
        .boxed()
    }
}

/// A service with one public route, `/hello`, and the counter of its readiness checks.
async fn app() -> (TestApp, Arc<AtomicUsize>) {
    let checks = Arc::new(AtomicUsize::new(0));
    let registry = new_registry().unwrap();
    let readiness = Readiness::new(
        &registry,
        vec![Box::new(SlowDependency(Arc::clone(&checks)))],
    )
    .unwrap();
    let routes = ServiceRouter {
        registry,
        readiness,
    }
    .finish(Router::new().route("/hello", get(|| async { "hello" })))
    .unwrap();
    let app = Application::bind(&ServerConfig::loopback(), routes)
        .await
        .unwrap();
    (TestApp::spawn(app), checks)
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_on_the_admin_port_only() {
    let (app, _) = app().await;
    assert_ne!(app.address, app.admin_address, "two ports");
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path).await.status(), 404, "public {path}");
        assert_eq!(app.admin_get(path).await.status(), 200, "admin {path}");
    }
    assert_eq!(app.get("/hello").await.status(), 200);
    assert_eq!(
        app.admin_get("/hello").await.status(),
        404,
        "the service's own routes stay on the public port"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("dependency_up{dependency=\"slow\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("http_requests_total{")
                && line.contains("route=\"/hello\"")
                && line.ends_with(" 1")),
        "public requests are counted: {metrics}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_readiness_probes_share_one_check() {
    let (app, checks) = app().await;
    let probes: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .client
                .get(format!("{}/readyz", app.admin_address))
                .send();
            tokio::spawn(request)
        })
        .collect();
    for probe in probes {
        assert_eq!(probe.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(
        checks.load(Ordering::SeqCst),
        1,
        "20 probes within a second should cost one check"
    );
    app.stop().await.unwrap();
}
