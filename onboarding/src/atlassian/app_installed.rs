//! Asks Jira, before a setup link connects a workspace, whether MetaFrazo is still installed on
//! its site: our own record only says what the last lifecycle call told us, and an uninstall
//! whose callback never reached us would otherwise connect a workspace that sends nothing.

use url::Url;

use super::jira_users::{JiraUsers, JiraUsersError};

/// Jira's resource for a Connect app's own installation on the site it is called on.
const CONNECT_ADDON_PATH: &str = "/rest/atlassian-connect/1/addons";
/// The calling account. Chosen for Forge because it needs a live token and nothing else: the
/// app system token's own account answers it (under the `read:jira-user` scope the manifest
/// already asks for), it has no anonymous access (unlike `serverInfo`, whose 200 would prove
/// nothing), and Jira refuses the token once it revoked it at uninstall.
const FORGE_MYSELF_PATH: &str = "/rest/api/3/myself";

#[derive(Debug, thiserror::Error)]
pub enum AppInstalledError {
    #[error("Jira says the Connect app is not installed on {site} (HTTP {status})")]
    ConnectNotInstalled { site: String, status: u16 },
    /// Jira refuses the app system token: revoked at uninstall, or expired (they are
    /// short-lived, and renewed only when Jira next calls us).
    #[error("Jira refused the Forge app's system token for {site} (HTTP {status})")]
    ForgeTokenRefused { site: String, status: u16 },
    #[error("Jira cannot be asked whether the app is installed on {site}: {reason}")]
    CannotAsk { site: String, reason: String },
}

impl AppInstalledError {
    fn cannot_ask(site: &str, reason: impl Into<String>) -> Self {
        Self::CannotAsk {
            site: site.to_owned(),
            reason: reason.into(),
        }
    }
}

impl JiraUsers {
    /// `GET {site}/rest/atlassian-connect/1/addons/{app key}` signed as the Connect app: 200 is
    /// installed (a disabled app is still installed; our own state follows its `disabled`
    /// callback); 401 (no installation's secret signed it any more) and 404 (not installed) are
    /// not; anything else, or no answer, means Jira cannot be asked.
    pub async fn connect_app_installed(
        &self,
        site_base_url: &str,
        shared_secret: &[u8],
    ) -> Result<(), AppInstalledError> {
        let path = format!("{CONNECT_ADDON_PATH}/{}", self.app_key());
        let (url, authorization) = self
            .connect_request(site_base_url, shared_secret, &path, None)
            .map_err(|err| AppInstalledError::cannot_ask(site_base_url, err.to_string()))?;
        match self.status_of(url, authorization, site_base_url).await? {
            200 => Ok(()),
            status @ (401 | 404) => Err(AppInstalledError::ConnectNotInstalled {
                site: site_base_url.to_owned(),
                status,
            }),
            other => Err(AppInstalledError::cannot_ask(
                site_base_url,
                format!("Jira answered HTTP {other}"),
            )),
        }
    }

    /// `GET {api_base_url}/rest/api/3/myself` with the app system token as a bearer token (the
    /// base overridden as for the email lookup): 200 is installed, 401/403 is a token Jira no
    /// longer honours, anything else means Jira cannot be asked. `site` names the workspace in
    /// errors.
    pub async fn forge_app_installed(
        &self,
        site: &str,
        api_base_url: &str,
        system_token: &[u8],
    ) -> Result<(), AppInstalledError> {
        let token = std::str::from_utf8(system_token).map_err(|_| {
            AppInstalledError::cannot_ask(site, "the stored system token is not text")
        })?;
        let url = self
            .forge_url(api_base_url, FORGE_MYSELF_PATH, None)
            .map_err(|err| AppInstalledError::cannot_ask(site, err.to_string()))?;
        match self.status_of(url, format!("Bearer {token}"), site).await? {
            200 => Ok(()),
            status @ (401 | 403) => Err(AppInstalledError::ForgeTokenRefused {
                site: site.to_owned(),
                status,
            }),
            other => Err(AppInstalledError::cannot_ask(
                site,
                format!("Jira answered HTTP {other}"),
            )),
        }
    }

    async fn status_of(
        &self,
        url: Url,
        authorization: String,
        site: &str,
    ) -> Result<u16, AppInstalledError> {
        self.get(url, authorization)
            .await
            .map(|response| response.status().as_u16())
            .map_err(|err| {
                AppInstalledError::cannot_ask(
                    site,
                    JiraUsersError::Unreachable(err.without_url().to_string()).to_string(),
                )
            })
    }
}
