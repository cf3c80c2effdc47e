//! Announcing installations and permission changes to a running `serve` (see
//! `server/announce.rs`), so a simulator or test in any process can install the app, and change
//! what each account may see, and still have the app's calls to that `serve` answered for it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    connect::ConnectInstallation,
    error::{Result, SimulatorError},
    forge::ForgeInstall,
    permissions::SitePermissions,
    simulator::Simulator,
};

pub(crate) const INSTALLED_PATH: &str = "/_simulator/installations";
pub(crate) const FORGET_PATH: &str = "/_simulator/installations/forget";
pub(crate) const PERMISSIONS_PATH: &str = "/_simulator/permissions";
pub(crate) const PERMISSIONS_FAILING_PATH: &str = "/_simulator/permissions/failing";

/// A `serve` on the local stack answers at once; longer means it is not there.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Announcement {
    Connect(ConnectInstallation),
    Forge(ForgeInstall),
}

/// `POST /_simulator/permissions`: one site's whole permission model, replacing what it had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PermissionsAnnouncement {
    /// The site's base URL, `https://<name>.atlassian.net`.
    pub(crate) site: String,
    #[serde(flatten)]
    pub(crate) permissions: SitePermissions,
}

/// `POST /_simulator/permissions/failing`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct FailingAnnouncement {
    pub(crate) failing: bool,
}

/// Tells the `serve` at `simulator_url` (the stack's simulator, `http://127.0.0.1:8090` on the
/// local stack) that from its next bulk permission check on, `site_base_url` has `permissions`
/// and nothing else: the announced model replaces the site's previous one wholesale.
pub async fn announce_permissions(
    simulator_url: &Url,
    site_base_url: &str,
    permissions: &SitePermissions,
) -> Result<()> {
    let announcement = PermissionsAnnouncement {
        site: site_base_url.to_owned(),
        permissions: permissions.clone(),
    };
    post(simulator_url, PERMISSIONS_PATH, &announcement).await
}

/// Tells the `serve` at `simulator_url` to answer its bulk permission checks with 503 while
/// `failing`, as Jira does in an incident.
pub async fn announce_failing_permission_checks(simulator_url: &Url, failing: bool) -> Result<()> {
    post(
        simulator_url,
        PERMISSIONS_FAILING_PATH,
        &FailingAnnouncement { failing },
    )
    .await
}

/// One announcement, from a caller that holds no `Simulator`: a client of its own.
async fn post(base: &Url, path: &str, body: &impl Serialize) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(ANNOUNCE_TIMEOUT)
        .build()
        .map_err(SimulatorError::HttpClient)?;
    send(&http, join(base, path)?, body).await
}

/// Fails unless the `serve` takes `body`: a change it did not take would leave a test
/// asserting against the old state.
async fn send(http: &reqwest::Client, url: Url, body: &impl Serialize) -> Result<()> {
    let response = http
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|source| SimulatorError::Announce {
            url: url.to_string(),
            reason: source.to_string(),
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(SimulatorError::Announce {
            url: url.to_string(),
            reason: format!("it answered HTTP {}", response.status()),
        })
    }
}

impl Simulator {
    /// Tells the `serve` at `announce_to` (if any) about `announcement`; `forget` for an
    /// uninstall. Fails when that `serve` does not take it: the install would then stall on
    /// lookups nobody answers, which is better said at once.
    pub(crate) async fn announce(&self, announcement: Announcement, forget: bool) -> Result<()> {
        let Some(base) = &self.announce_to else {
            return Ok(());
        };
        let url = join(base, if forget { FORGET_PATH } else { INSTALLED_PATH })?;
        send(&self.http, url, &announcement).await
    }
}

fn join(base: &Url, path: &str) -> Result<Url> {
    base.join(path).map_err(|err| SimulatorError::Announce {
        url: base.to_string(),
        reason: err.to_string(),
    })
}
