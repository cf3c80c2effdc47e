//! Serving a service's routes and stopping it gracefully. Each service has two listeners: the
//! public one for its own routes, and an admin one that alone answers `/healthz`, `/readyz` and
//! `/metrics` (readiness spends a Postgres connection and an SMTP session, and the metrics name
//! tenants, so neither belongs on the internet). On SIGTERM or Ctrl-C both stop accepting, let
//! in-flight requests finish within a grace period, then give up on the stragglers. A client that
//! sends its headers slowly, or never, is cut off after the header read timeout, and each
//! listener serves at most `MAX_CONNECTIONS` at once, so idle or flooding sockets cannot pile up
//! until the process runs out of file descriptors.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router, extract::ConnectInfo, http::header, middleware, response::IntoResponse, routing::get,
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

mod config;

pub use config::ServerConfig;

use crate::{Readiness, http_metrics::HttpMetrics, request_span};

/// A task that runs beside the server (an outbox sender, say) and ends when its token is
/// cancelled.
type BackgroundTask =
    Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("binding {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A declaration mistake: the service has public routes but declared no address for them.
    #[error("the service has public routes but no address to serve them on")]
    NoPublicAddress,
}

/// A service's two routers: `public` for its own routes (none for the pipeline), `admin` for
/// health, readiness and metrics. Made by [`ServiceRouter::finish`].
pub struct Routes {
    pub public: Option<Router>,
    pub admin: Router,
}

impl Routes {
    /// Applies `layer` to the public routes, when there are any.
    pub fn map_public(mut self, layer: impl FnOnce(Router) -> Router) -> Self {
        self.public = self.public.map(layer);
        self
    }
}

/// How each listener serves its connections.
#[derive(Clone, Copy)]
struct Limits {
    shutdown_grace: Duration,
    header_read_timeout: Duration,
    max_connections: usize,
}

/// A service bound to its ports and ready to serve: tests bind port 0 and read the ports back.
pub struct Application {
    public: Option<(TcpListener, Router)>,
    admin: (TcpListener, Router),
    limits: Limits,
    background: Vec<(&'static str, BackgroundTask)>,
}

impl Application {
    pub async fn bind(config: &ServerConfig, routes: Routes) -> Result<Self, BindError> {
        let public = match (routes.public, config.listen) {
            (Some(router), Some(address)) => Some((bind(address, "listening").await?, router)),
            (Some(_), None) => return Err(BindError::NoPublicAddress),
            // A service without public routes opens no public port, whatever it was given.
            (None, _) => None,
        };
        let admin = (
            bind(
                config.admin_listen,
                "admin port (health, readiness, metrics) listening",
            )
            .await?,
            routes.admin,
        );
        Ok(Self {
            public,
            admin,
            limits: Limits {
                shutdown_grace: config.shutdown_grace,
                header_read_timeout: config.header_read_timeout,
                max_connections: config.max_connections,
            },
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

    /// The public port's address; `None` for a service with no public routes.
    pub fn public_addr(&self) -> Option<SocketAddr> {
        self.public
            .as_ref()
            .map(|(listener, _)| address_of(listener))
    }

    /// The admin port's address: `/healthz`, `/readyz`, `/metrics`.
    pub fn admin_addr(&self) -> SocketAddr {
        address_of(&self.admin.0)
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            public,
            admin: (admin_listener, admin_router),
            limits,
            background,
        } = self;
        let stop_background = CancellationToken::new();
        let tasks: Vec<_> = background
            .into_iter()
            .map(|(name, task)| (name, tokio::spawn(task(stop_background.child_token()))))
            .collect();
        // One shutdown for both listeners: they stop accepting together.
        let stop_serving = CancellationToken::new();
        let on_shutdown = stop_serving.clone();
        let watcher = tokio::spawn(async move {
            shutdown.await;
            on_shutdown.cancel();
        });
        let public = async {
            match public {
                Some((listener, router)) => {
                    serve(listener, router, stop_serving.clone(), limits).await
                }
                None => Ok(()),
            }
        };
        let admin = serve(admin_listener, admin_router, stop_serving.clone(), limits);
        let (public, admin) = tokio::join!(public, admin);
        watcher.abort();
        stop_background.cancel();
        for (name, task) in tasks {
            match tokio::time::timeout(limits.shutdown_grace, task).await {
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
        public.and(admin)
    }
}

async fn bind(address: SocketAddr, what: &'static str) -> Result<TcpListener, BindError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| BindError::Bind { address, source })?;
    tracing::info!(address = %address_of(&listener), "{what}");
    Ok(listener)
}

fn address_of(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound listener has an address")
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

/// Makes a service's [`Routes`]: its own routes and the icon on the public port, `/healthz`,
/// `/readyz` and `/metrics` on the admin port, every request counted and logged on both.
pub struct ServiceRouter {
    pub registry: Arc<Registry>,
    pub readiness: Readiness,
}

impl ServiceRouter {
    pub fn finish(self, app: Router) -> anyhow::Result<Routes> {
        self.routes(Some(app))
    }

    /// For a service with no public routes (the pipeline): the admin port alone.
    pub fn admin_only(self) -> anyhow::Result<Routes> {
        self.routes(None)
    }

    fn routes(self, app: Option<Router>) -> anyhow::Result<Routes> {
        let http_metrics = HttpMetrics::register(&self.registry)?;
        let registry = self.registry;
        let instrument = |router: Router| {
            router
                .layer(middleware::from_fn_with_state(
                    http_metrics.clone(),
                    HttpMetrics::middleware,
                ))
                // Outermost, so the metrics middleware's refusal line is inside the request's
                // span.
                .layer(middleware::from_fn(request_span::middleware))
        };
        let admin = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(Readiness::handler).with_state(self.readiness),
            )
            .route("/metrics", get(move || render_metrics(registry)));
        Ok(Routes {
            public: app.map(|app| instrument(app.route("/favicon.svg", get(favicon)))),
            admin: instrument(admin),
        })
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

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains for at most the
/// grace period. Clients get the header read timeout for each request's headers, and at most
/// `max_connections` are served at once. HTTP/1.1, as axum served it here (its `http2` feature
/// is off).
async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    limits: Limits,
) -> std::io::Result<()> {
    let mut connections = http1::Builder::new();
    connections
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    // A permit per open connection, taken before accepting: at the cap we stop calling accept,
    // so further clients wait in the kernel's queue (and are answered once a connection closes)
    // rather than being accepted and dropped.
    let open = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&open).acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // keep serving the connections we have, and try again shortly.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // The peer, as axum's `ConnectInfo` (what a limit per client starts from).
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let connection =
            graceful.watch(connections.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Clients hanging up, timing out over their headers or sending garbage end here;
            // none of it is ours to report above debug.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    // Stop accepting at once; connections already open finish their requests.
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?limits.shutdown_grace,
            "in-flight requests did not finish within the grace period"
        );
    }
    Ok(())
}

const ACCEPT_RETRY: Duration = Duration::from_millis(100);
