//! The simulator itself: one signing key, an HTTP client to call the app with, the installations
//! it made, what each account may see on each site, and (when started) the key server. The
//! Connect, Forge and admin webhook modules add its methods.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use url::Url;

use crate::{
    config::{ForgeAppConfig, SimulatorConfig},
    error::{Result, SimulatorError},
    keys::{Jwk, SigningKey},
    oauth::OAuthGrants,
    permissions::{PermissionStore, SitePermissions},
    registry::Registry,
    server::{RunningServer, ServerState},
};

/// A bound on every call that has no delivery timeout of its own (descriptor, lifecycle).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Simulator {
    pub(crate) key: Arc<SigningKey>,
    pub(crate) http: reqwest::Client,
    pub(crate) registry: Arc<Registry>,
    /// What the Atlassian authorization server handed out to members linking their account.
    pub(crate) oauth: Arc<OAuthGrants>,
    /// Each site's project permissions and issue security levels.
    pub(crate) permissions: Arc<PermissionStore>,
    pub(crate) forge: ForgeAppConfig,
    pub(crate) announce_to: Option<Url>,
    server: Option<RunningServer>,
}

impl Simulator {
    /// A simulator serving its keys on `config.addr` (port 0: a free port, see [`Simulator::addr`]).
    pub async fn start(config: SimulatorConfig) -> Result<Self> {
        let mut simulator = Self::new(config.clone()).await?;
        let state = ServerState {
            key: simulator.key.clone(),
            registry: simulator.registry.clone(),
            oauth: simulator.oauth.clone(),
            permissions: simulator.permissions.clone(),
        };
        simulator.server = Some(RunningServer::bind(config.addr, state).await?);
        Ok(simulator)
    }

    /// A simulator that signs and sends but serves nothing: for a process that runs next to a
    /// `serve`, sharing its key file (the CLI's `install`, `stream`, `uninstall`).
    pub async fn new(config: SimulatorConfig) -> Result<Self> {
        let key_file = config.key_file.clone();
        // Generating an RSA key takes CPU for a while; keep it off the async workers.
        let key = tokio::task::spawn_blocking(move || match key_file {
            Some(path) => SigningKey::load_or_create(&path),
            None => SigningKey::generate(),
        })
        .await
        .map_err(|err| SimulatorError::KeyTask(err.to_string()))??;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // Atlassian does not follow an app's redirects; a 3xx is the answer.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(SimulatorError::HttpClient)?;
        tracing::info!(kid = key.kid(), "signing key ready");
        Ok(Self {
            key: Arc::new(key),
            http,
            registry: Arc::new(Registry::new(config.installations_file)),
            oauth: Arc::default(),
            permissions: Arc::default(),
            forge: config.forge,
            announce_to: config.announce_to,
            server: None,
        })
    }

    /// The kid of the signing key: install tokens and FITs carry it in their header.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    pub fn public_key_pem(&self) -> &str {
        self.key.public_key_pem()
    }

    pub fn jwk(&self) -> Jwk {
        self.key.jwk()
    }

    /// Where the key server listens; `None` for a simulator made with [`Simulator::new`].
    pub fn addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(RunningServer::addr)
    }

    /// `http://{addr}`: the base for `/install-keys/{kid}`, `/forge/jwks.json` and Jira's REST API.
    pub fn url(&self) -> Option<Url> {
        let addr = self.addr()?;
        Url::parse(&format!("http://{addr}")).ok()
    }

    /// `http://{addr}/install-keys/`: configure it where production has
    /// `https://connect-install-keys.atlassian.com/`.
    pub fn install_keys_base_url(&self) -> Option<Url> {
        self.url()?.join("/install-keys/").ok()
    }

    /// `http://{addr}/forge/jwks.json`.
    pub fn jwks_url(&self) -> Option<Url> {
        self.url()?.join("/forge/jwks.json").ok()
    }

    /// Jira deletes the user `account_id`: from now on looking them up answers 404, for good.
    pub fn delete_user(&self, account_id: &str) {
        self.registry.delete_user(account_id);
    }

    /// While `failing`, Jira answers the app's "am I installed?" calls (Connect's addon
    /// resource, Forge's `myself`) with 503, as in an incident.
    pub fn fail_installation_checks(&self, failing: bool) {
        self.registry.fail_installation_checks(failing);
    }

    /// How many "am I installed?" calls this simulator's Jira answered, failed ones included.
    pub fn installation_checks_answered(&self) -> u32 {
        self.registry.installation_checks()
    }

    /// From the next bulk permission check on, `site_base_url` (`https://<name>.atlassian.net`,
    /// the site of a Connect or Forge installation) has `permissions` and nothing else: they
    /// replace what it had. A site never set lets every account see everything. For a `serve`
    /// in another process, use [`announce_permissions`](crate::announce_permissions).
    pub fn set_permissions(&self, site_base_url: &str, permissions: SitePermissions) {
        self.permissions.set(site_base_url, permissions);
    }

    /// While `failing`, Jira answers the bulk permission check with 503, as in an incident.
    pub fn fail_permission_checks(&self, failing: bool) {
        self.permissions.set_failing(failing);
    }

    /// How many bulk permission checks this simulator's Jira answered, any status included.
    pub fn permission_checks_answered(&self) -> u32 {
        self.permissions.answered()
    }

    /// While `failing`, Atlassian's token endpoint and the platform API a 3LO token opens
    /// (`accessible-resources`, `/me`) answer 503, as in an incident. The consent page still
    /// works: it is another Atlassian service.
    pub fn fail_atlassian_oauth(&self, failing: bool) {
        self.oauth.set_failing(failing);
    }

    /// Every authorization code and access token the authorization server handed out, in
    /// order, expired and used ones included: a test asserts none of them was stored.
    pub fn atlassian_tokens_issued(&self) -> Vec<String> {
        self.oauth.issued()
    }

    /// Stops the key server (if any), letting in-flight requests finish.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}
