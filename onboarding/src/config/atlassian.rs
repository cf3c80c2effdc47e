//! How Atlassian reaches us and how we check and call it back.

use std::time::Duration;

use atlassian_auth::forge_fit::ForgeAppConfig;
use service_runtime::{
    ConfigError,
    config::{Deployment, check, parse},
};
use url::Url;

#[derive(clap::Args)]
pub struct AtlassianConfig {
    /// The URL Atlassian reaches us at (the descriptor's `baseUrl`, the `aud` of install tokens,
    /// the base of every `qsh`). In production one public URL fronts onboarding and ingress with
    /// a path router.
    #[arg(
        long = "public-base-url",
        env = "PUBLIC_BASE_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub public_base_url: Url,
    /// The Connect app key.
    #[arg(
        long = "atlassian-app-key",
        env = "ATLASSIAN_APP_KEY",
        default_value = "io.metafrazo.jira"
    )]
    pub app_key: String,
    /// Where the keys of signed install callbacks are: the local Jira simulator by default;
    /// Atlassian's is `https://connect-install-keys.atlassian.com`.
    #[arg(
        long = "atlassian-install-keys-url",
        env = "ATLASSIAN_INSTALL_KEYS_URL",
        default_value = "http://127.0.0.1:8090/install-keys"
    )]
    pub install_keys_url: Url,
    /// Allowed clock skew for `exp` and `iat`, in seconds.
    #[arg(
        long = "jwt-leeway-secs",
        env = "JWT_LEEWAY_SECS",
        default_value_t = 30
    )]
    pub jwt_leeway_secs: u64,
    /// Where Jira REST calls go: the local Jira simulator by default, which serves every
    /// simulated site. `site` sends each to the installation's own site, as production must.
    #[arg(
        long = "atlassian-api-base-url",
        env = "ATLASSIAN_API_BASE_URL",
        default_value = "http://127.0.0.1:8090",
        value_parser = parse::url_or_site
    )]
    // Spelled out so clap takes the whole `Option` from the parser rather than an optional flag.
    pub api_base_override: std::option::Option<Url>,
    /// The same app as ingress's: the only `aud` accepted in a Forge Invocation Token.
    #[command(flatten)]
    pub forge: ForgeAppConfig,
    /// A lifecycle callback's whole body must arrive within it, else 408, so a client trickling
    /// bytes holds no connection for long.
    #[arg(
        long = "onboarding-body-read-timeout-ms",
        env = "ONBOARDING_BODY_READ_TIMEOUT_MS",
        default_value = "10000",
        value_parser = parse::millis
    )]
    pub body_read_timeout: Duration,
}

impl AtlassianConfig {
    /// The public base URL as Atlassian compares it: no trailing slash.
    pub fn base_url(&self) -> String {
        self.public_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check::http_url("PUBLIC_BASE_URL", &self.public_base_url)?;
        check::http_url("ATLASSIAN_INSTALL_KEYS_URL", &self.install_keys_url)?;
        if let Some(api_base) = &self.api_base_override {
            check::http_url("ATLASSIAN_API_BASE_URL", api_base)?;
        }
        check::http_url("FORGE_JWKS_URL", &self.forge.jwks_url)?;
        check::not_zero("ONBOARDING_BODY_READ_TIMEOUT_MS", self.body_read_timeout)
    }

    /// Outside local mode, where we fetch keys and call Jira must be https: the defaults are the
    /// local simulator's plain-http URLs, and keys fetched over http could be anyone's.
    /// (`ATLASSIAN_API_BASE_URL=site` calls each installation's own https site.)
    pub fn refuse_development_urls(&self, deployment: Deployment) -> Result<(), ConfigError> {
        if let Some(api_base) = &self.api_base_override {
            deployment.require_https("ATLASSIAN_API_BASE_URL", api_base)?;
        }
        deployment.require_https("FORGE_JWKS_URL", &self.forge.jwks_url)?;
        deployment.require_https("ATLASSIAN_INSTALL_KEYS_URL", &self.install_keys_url)
    }
}
