//! The HTTP side of the simulator: what Atlassian serves to apps. The install keys and Forge JWKS
//! that verify our signatures, and the Jira REST endpoints onboarding calls (a user's email, a
//! user's permissions, whether the app is still installed, what an account may browse), and the
//! OAuth 2.0 (3LO) authorization server with the platform API its tokens open, for members
//! linking their Atlassian account.

mod announce;
mod app_auth;
mod app_installation;
mod bulk_permissions;
mod keys;
mod my_permissions;
mod oauth;
mod user_email;

use std::{io, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::{
    error::{Result, SimulatorError},
    keys::SigningKey,
    oauth::OAuthGrants,
    permissions::PermissionStore,
    registry::Registry,
};

#[derive(Debug, Clone)]
pub(crate) struct ServerState {
    pub(crate) key: Arc<SigningKey>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) oauth: Arc<OAuthGrants>,
    pub(crate) permissions: Arc<PermissionStore>,
}

fn router(state: ServerState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/install-keys/{kid}", get(keys::install_key))
        .route("/forge/jwks.json", get(keys::jwks))
        .route("/rest/api/3/user/email", get(user_email::user_email))
        .route(
            "/rest/api/3/mypermissions",
            get(my_permissions::my_permissions),
        )
        .route(
            "/rest/atlassian-connect/1/addons/{addon_key}",
            get(app_installation::connect_addon),
        )
        .route("/rest/api/3/myself", get(app_installation::myself))
        .route(
            bulk_permissions::PATH,
            post(bulk_permissions::check).layer(DefaultBodyLimit::max(bulk_permissions::MAX_BODY)),
        )
        .route(
            "/authorize",
            get(oauth::authorize::show_consent).post(oauth::authorize::decide),
        )
        .route("/oauth/token", post(oauth::token::exchange_code))
        .route(
            "/oauth/token/accessible-resources",
            get(oauth::platform_api::accessible_resources),
        )
        .route("/me", get(oauth::platform_api::me))
        .route(crate::announce::INSTALLED_PATH, post(announce::installed))
        .route(crate::announce::FORGET_PATH, post(announce::forget))
        .route(
            crate::announce::PERMISSIONS_PATH,
            post(announce::permissions),
        )
        .route(
            crate::announce::PERMISSIONS_FAILING_PATH,
            post(announce::permissions_failing),
        )
        .with_state(state)
}

/// The running key server. Dropping it stops the server without waiting for it.
#[derive(Debug)]
pub(crate) struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    pub(crate) async fn bind(addr: SocketAddr, state: ServerState) -> Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimulatorError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async {
                    // A dropped sender is a stop signal too.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, "key server listening");
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "key server ended with an error"),
                Err(err) => tracing::warn!(error = %err, "key server task failed"),
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
