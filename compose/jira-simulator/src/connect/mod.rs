//! Atlassian Connect as Jira Cloud plays it: reading the app descriptor, signed lifecycle
//! callbacks (RS256, the install keys), and webhooks signed with the shared secret (HS256 + qsh).

mod descriptor;
mod lifecycle;
mod webhook;

use serde::{Deserialize, Serialize};

pub use descriptor::DEFAULT_WEBHOOK_PATH;
pub use webhook::sign_connect_token;

/// What Jira and the app share once the app is installed on a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectInstallation {
    /// The app's key, from its descriptor.
    pub app_key: String,
    pub client_key: String,
    pub shared_secret: String,
    /// The Jira site, `https://<name>.atlassian.net`.
    pub site_base_url: String,
    pub cloud_id: String,
    /// `ari:cloud:ecosystem::installation/<uuid>`.
    pub installation_id: String,
    /// `712020:<uuid>`: the admin who installed the app (`sub` of the install token).
    pub installer_account_id: String,
    /// What Jira's email endpoint answers for the installer.
    pub installer_email: String,
    /// The app's public base URL, from its descriptor: the `aud` and qsh base of install tokens.
    pub app_base_url: String,
    /// The descriptor's webhook path, relative to `app_base_url`, with its query if any.
    #[serde(default = "default_webhook_path")]
    pub webhook_path: String,
}

fn default_webhook_path() -> String {
    DEFAULT_WEBHOOK_PATH.to_owned()
}

/// The Jira site an install happens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSpec {
    /// The site name: `https://<name>.atlassian.net`. Lower-case letters, digits and dashes.
    pub name: String,
    /// The installer's email before `@example.test`; `None`: `admin.<name>`.
    pub installer_local_part: Option<String>,
}

impl WorkspaceSpec {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            installer_local_part: None,
        }
    }

    /// A site with a fresh name, so parallel tests never share one.
    pub fn random() -> Self {
        Self::named(format!(
            "ws-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
    }

    pub fn with_installer(mut self, local_part: impl Into<String>) -> Self {
        self.installer_local_part = Some(local_part.into());
        self
    }

    pub(crate) fn site_base_url(&self) -> String {
        format!("https://{}.atlassian.net", self.name)
    }

    pub(crate) fn installer_email(&self) -> String {
        match &self.installer_local_part {
            Some(local) => format!("{local}@example.test"),
            None => format!("admin.{}@example.test", self.name),
        }
    }
}
