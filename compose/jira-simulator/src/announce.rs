//! Announcing installations to a running `serve` (see `server/announce.rs`), so a simulator in
//! any process can install the app and still have onboarding's lookups of the installer answered.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    connect::ConnectInstallation,
    error::{Result, SimulatorError},
    forge::ForgeInstall,
    simulator::Simulator,
};

pub(crate) const INSTALLED_PATH: &str = "/_simulator/installations";
pub(crate) const FORGET_PATH: &str = "/_simulator/installations/forget";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Announcement {
    Connect(ConnectInstallation),
    Forge(ForgeInstall),
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
        let response = self
            .http
            .post(url.clone())
            .json(&announcement)
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
}

fn join(base: &Url, path: &str) -> Result<Url> {
    base.join(path).map_err(|err| SimulatorError::Announce {
        url: base.to_string(),
        reason: err.to_string(),
    })
}
