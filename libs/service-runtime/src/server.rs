//! Serving a service's router with the operational routes every binary has, and stopping it
//! gracefully: on SIGTERM or Ctrl-C, stop accepting, let in-flight requests finish within a
//! grace period, then give up on the stragglers. A client that opens a connection and sends its
//! headers slowly, or never, is cut off after the header read timeout, so idle sockets cannot
//! pile up until the process runs out of file descriptors.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{Router, http::header, middleware, response::IntoResponse, routing::get};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod config;

pub use config::ServerConfig;

use crate::{Readiness, http_metrics::HttpMetrics, request_span};

/// A task that runs beside the server (an outbox sender, say) and ends when its token is
/// cancelled.
type BackgroundTask =
    Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A service bound to its port and ready to serve: tests bind port 0 and read the port back.
pub struct Application {
    listener: TcpListener,
    router: Router,
    shutdown_grace: Duration,
    header_read_timeout: Duration,
    background: Vec<(&'static str, BackgroundTask)>,
}

impl Application {
    pub async fn bind(config: &ServerConfig, router: Router) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        Ok(Self {
            listener,
            router,
            shutdown_grace: config.shutdown_grace,
            header_read_timeout: config.header_read_timeout,
            background: Vec::new(),
        })
    }

    /// Runs `task` beside the server from when it starts serving; on shutdown the task's token
    /// is cancelled and it gets the same grace period as in-flight requests.
    pub fn with_background<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push((name, Box::new(move |stop| Box::pin(task(stop)))));
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop_background = CancellationToken::new();
        let tasks: Vec<_> = self
            .background
            .into_iter()
            .map(|(name, task)| (name, tokio::spawn(task(stop_background.child_token()))))
            .collect();
        let served = serve(
            self.listener,
            self.router,
            shutdown,
            self.shutdown_grace,
            self.header_read_timeout,
        )
        .await;
        stop_background.cancel();
        for (name, task) in tasks {
            match tokio::time::timeout(self.shutdown_grace, task).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(task = name, error = %err, "background task failed")
                }
                Err(_) => tracing::warn!(
                    task = name,
                    "background task did not stop within the grace period"
                ),
            }
        }
        served
    }
}

/// MetaFrazo's mark, for the pages' `<link rel="icon">`: without one, browsers ask for
/// `/favicon.ico` and log a 404 on every page.
const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2454d6"/><path d="M7 23V9l9 8 9-8v14" fill="none" stroke="#fff" stroke-width="3" stroke-linejoin="round"/></svg>"##;

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

/// Adds `/healthz`, `/readyz`, `/metrics` and the icon to a service's routes and counts every
/// request.
pub struct ServiceRouter {
    pub registry: Arc<Registry>,
    pub readiness: Readiness,
}

impl ServiceRouter {
    pub fn finish(self, app: Router) -> anyhow::Result<Router> {
        let http_metrics = HttpMetrics::register(&self.registry)?;
        let registry = self.registry;
        Ok(app
            .route("/favicon.svg", get(favicon))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(Readiness::handler).with_state(self.readiness),
            )
            .route("/metrics", get(move || render_metrics(registry)))
            .layer(middleware::from_fn_with_state(
                http_metrics,
                HttpMetrics::middleware,
            ))
            // Outermost, so the metrics middleware's refusal line is inside the request's span.
            .layer(middleware::from_fn(request_span::middleware)))
    }
}

async fn render_metrics(registry: Arc<Registry>) -> impl IntoResponse {
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(err) = encoder.encode(&registry.gather(), &mut body) {
        tracing::error!(error = %err, "encoding metrics failed");
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
        body,
    )
}

/// A registry with this process's CPU, memory and file-descriptor metrics already in it.
pub fn new_registry() -> anyhow::Result<Arc<Registry>> {
    let registry = Registry::new();
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(Arc::new(registry))
}

/// Resolves on SIGTERM (what `compose/local down`, systemd and Kubernetes send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most `grace`.
/// Clients get `header_read_timeout` for each request's headers. HTTP/1.1, as axum served it
/// here (its `http2` feature is off).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let mut connections = http1::Builder::new();
    connections
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // keep serving the connections we have, and try again shortly.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection =
            graceful.watch(connections.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Clients hanging up, timing out over their headers or sending garbage end here;
            // none of it is ours to report above debug.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    // Stop accepting at once; connections already open finish their requests.
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "in-flight requests did not finish within the grace period"
        );
    }
    Ok(())
}

const ACCEPT_RETRY: Duration = Duration::from_millis(100);
