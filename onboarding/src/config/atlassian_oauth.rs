//! Linking members' own Atlassian accounts (OAuth 2.0 3LO). The defaults name the Jira
//! simulator of `compose/local`, which plays Atlassian's authorization server; an authorization
//! URL of `off` hides "Connect" and its routes.

use secrecy::{ExposeSecret, SecretString};
use service_runtime::{
    ConfigError,
    config::{Deployment, check, parse},
};
use url::Url;

use super::{LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET};

use crate::accounts::atlassian_oauth::AtlassianOAuthConfig;

#[derive(Debug, Clone, clap::Args)]
pub struct AtlassianOAuthSettings {
    /// Atlassian's authorization server (`https://auth.atlassian.com`), or `off`.
    #[arg(
        long = "atlassian-oauth-auth-url",
        env = "ATLASSIAN_OAUTH_AUTH_URL",
        default_value = "http://127.0.0.1:8090",
        value_parser = auth_url
    )]
    pub auth_url: std::option::Option<Url>,
    /// Atlassian's API gateway (`https://api.atlassian.com`): accessible resources and `/me`.
    #[arg(
        long = "atlassian-oauth-api-url",
        env = "ATLASSIAN_OAUTH_API_URL",
        default_value = "http://127.0.0.1:8090"
    )]
    pub api_url: Url,
    /// The OAuth 2.0 (3LO) app's client id, from Atlassian's developer console.
    #[arg(
        long = "atlassian-oauth-client-id",
        env = "ATLASSIAN_OAUTH_CLIENT_ID",
        default_value = LOCAL_CLIENT_ID
    )]
    client_id: String,
    #[arg(
        long = "atlassian-oauth-client-secret",
        env = "ATLASSIAN_OAUTH_CLIENT_SECRET",
        default_value = LOCAL_CLIENT_SECRET,
        value_parser = parse::secret,
        hide_env_values = true
    )]
    client_secret: SecretString,
}

/// `off`, or the authorization server's URL.
fn auth_url(value: &str) -> Result<Option<Url>, url::ParseError> {
    match value {
        "off" => Ok(None),
        url => Url::parse(url).map(Some),
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
}

impl AtlassianOAuthSettings {
    /// The client's settings, unless linking is `off`.
    pub fn resolved(&self) -> Option<AtlassianOAuthConfig> {
        self.auth_url.clone().map(|auth_url| AtlassianOAuthConfig {
            auth_url,
            api_url: self.api_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        })
    }

    /// The local client is only the simulator's, and Atlassian only answers over https.
    pub fn validate(&self, deployment: Deployment) -> Result<(), ConfigError> {
        let Some(auth_url) = &self.auth_url else {
            return Ok(());
        };
        check::http_url("ATLASSIAN_OAUTH_AUTH_URL", auth_url)?;
        check::http_url("ATLASSIAN_OAUTH_API_URL", &self.api_url)?;
        deployment.require_https("ATLASSIAN_OAUTH_AUTH_URL", auth_url)?;
        deployment.require_https("ATLASSIAN_OAUTH_API_URL", &self.api_url)?;
        if is_loopback(auth_url) {
            return Ok(());
        }
        if self.client_id == LOCAL_CLIENT_ID {
            return Err(ConfigError::invalid(
                "ATLASSIAN_OAUTH_CLIENT_ID",
                &self.client_id,
                format!(
                    "set it (and ATLASSIAN_OAUTH_CLIENT_SECRET) to the OAuth 2.0 app registered for {auth_url}"
                ),
            ));
        }
        if self.client_secret.expose_secret() == LOCAL_CLIENT_SECRET {
            return Err(ConfigError::invalid(
                "ATLASSIAN_OAUTH_CLIENT_SECRET",
                "<hidden>",
                format!("set it to the secret of client {}", self.client_id),
            ));
        }
        Ok(())
    }
}
