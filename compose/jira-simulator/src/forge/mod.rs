//! Forge as Atlassian runs it for an app with a remote backend: Forge Invocation Tokens (FITs)
//! signed with the key in the Forge JWKS, product events POSTed to the remote endpoint, and the
//! admin page's `invokeRemote` calls.

mod events;
mod fit;
mod lifecycle;
mod ui;

pub use events::FORGE_EVENTS_PATH;
pub use lifecycle::{
    FORGE_LIFECYCLE_PATH, ForgeInstall, INSTALLED_EVENT, LifecycleAnswer, SYSTEM_TOKEN_HEADER,
    UNINSTALLED_EVENT, UPGRADED_EVENT,
};
pub use ui::{AdminPageUser, USER_TOKEN_HEADER, UiAnswer};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::simulator::Simulator;

/// One Forge installation of the app on a Jira site. A FIT carries all of it; the Forge lifecycle
/// body carries none of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeInstallation {
    /// `ari:cloud:ecosystem::installation/<uuid>`.
    pub installation_id: String,
    pub cloud_id: String,
    /// `https://<name>.atlassian.net`.
    pub site_url: String,
    /// `https://api.atlassian.com/ex/jira/<cloud id>`.
    pub api_base_url: String,
}

impl Simulator {
    /// A Forge installation on a fresh site.
    pub fn new_forge_installation(&self) -> ForgeInstallation {
        let cloud_id = Uuid::new_v4().to_string();
        ForgeInstallation {
            installation_id: format!("ari:cloud:ecosystem::installation/{}", Uuid::new_v4()),
            site_url: format!(
                "https://forge-{}.atlassian.net",
                &Uuid::new_v4().simple().to_string()[..12]
            ),
            api_base_url: format!("https://api.atlassian.com/ex/jira/{cloud_id}"),
            cloud_id,
        }
    }
}
