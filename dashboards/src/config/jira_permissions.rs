//! What the dashboards need to ask Jira, as our app, what a member's Jira account may browse
//! (for organizations that show members only that): the same app key, Jira address and secrets
//! key as onboarding, which stored the installations' credentials, and how long an answer is
//! kept.

use std::time::Duration;

use service_runtime::{
    ConfigError,
    config::{Deployment, check, parse},
    secret_cipher::{DEVELOPMENT_KEY, SecretCipher},
};
use url::Url;

#[derive(clap::Args)]
pub struct JiraPermissionsConfig {
    /// Our Connect app's key, the `iss` of the requests we sign: onboarding's.
    #[arg(
        long = "atlassian-app-key",
        env = "ATLASSIAN_APP_KEY",
        default_value = "io.metafrazo.jira"
    )]
    pub app_key: String,
    /// Where Jira REST calls go: the local Jira simulator by default; `site` sends each to the
    /// installation's own site, as production must. Onboarding's.
    #[arg(
        long = "atlassian-api-base-url",
        env = "ATLASSIAN_API_BASE_URL",
        default_value = "http://127.0.0.1:8090",
        value_parser = parse::url_or_site
    )]
    // Spelled out so clap takes the whole `Option` from the parser rather than an optional flag.
    pub api_base_override: std::option::Option<Url>,
    /// Decrypts the installations' stored credentials: onboarding's key.
    #[arg(
        long = "secrets-key",
        env = "SECRETS_KEY",
        default_value = DEVELOPMENT_KEY,
        value_parser = SecretCipher::parse_key,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub cipher: SecretCipher,
    /// How long Jira's answer for a member is used before Jira is asked again; past it, a
    /// member whom Jira cannot be asked for sees nothing rather than an old answer.
    #[arg(
        long = "jira-permissions-ttl-secs",
        env = "JIRA_PERMISSIONS_TTL_SECS",
        default_value = "300",
        value_parser = parse::secs
    )]
    pub ttl: Duration,
}

impl JiraPermissionsConfig {
    pub fn validate(&self, deployment: Deployment) -> Result<(), ConfigError> {
        self.cipher.refuse_development_key(deployment)?;
        check::not_zero("JIRA_PERMISSIONS_TTL_SECS", self.ttl)?;
        if let Some(api_base) = &self.api_base_override {
            check::http_url("ATLASSIAN_API_BASE_URL", api_base)?;
            deployment.require_https("ATLASSIAN_API_BASE_URL", api_base)?;
        }
        Ok(())
    }
}
