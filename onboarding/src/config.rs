use std::net::{Ipv4Addr, SocketAddr};

use service_kit::{
    ConfigError, ServerConfig,
    connections::{PostgresConfig, SmtpConfig},
    env_or,
    secret_cipher::SecretCipher,
};
use url::Url;

pub struct Config {
    /// `ONBOARDING_ADDR`, default `127.0.0.1:8081`.
    pub server: ServerConfig,
    pub postgres: PostgresConfig,
    pub smtp: SmtpConfig,
    pub atlassian: AtlassianConfig,
    /// `SECRETS_KEY`: encrypts shared secrets at rest.
    pub cipher: SecretCipher,
}

pub struct AtlassianConfig {
    /// `PUBLIC_BASE_URL`, default `http://127.0.0.1:8081`: the URL Atlassian reaches us at (the
    /// descriptor's `baseUrl`, the `aud` of install tokens, the base of every `qsh`). In
    /// production one public URL fronts onboarding and ingress with a path router.
    pub public_base_url: Url,
    /// `ATLASSIAN_APP_KEY`, default `io.metafrazo.jira`: the Connect app key.
    pub app_key: String,
    /// `ATLASSIAN_INSTALL_KEYS_URL`, default `http://127.0.0.1:8090/install-keys` (the local Jira
    /// simulator); Atlassian's is `https://connect-install-keys.atlassian.com`.
    pub install_keys_url: Url,
    /// `JWT_LEEWAY_SECS`, default 30: allowed clock skew for `exp` and `iat`.
    pub jwt_leeway_secs: u64,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "ONBOARDING_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            )?,
            postgres: PostgresConfig::from_env()?,
            smtp: SmtpConfig::from_env()?,
            atlassian: AtlassianConfig::from_env()?,
            cipher: SecretCipher::from_env()?,
        })
    }
}

impl AtlassianConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            public_base_url: env_or(
                "PUBLIC_BASE_URL",
                Url::parse("http://127.0.0.1:8081").expect("valid default"),
            )?,
            app_key: env_or("ATLASSIAN_APP_KEY", "io.metafrazo.jira".to_owned())?,
            install_keys_url: env_or(
                "ATLASSIAN_INSTALL_KEYS_URL",
                Url::parse("http://127.0.0.1:8090/install-keys").expect("valid default"),
            )?,
            jwt_leeway_secs: env_or("JWT_LEEWAY_SECS", 30)?,
        })
    }

    /// The public base URL as Atlassian compares it: no trailing slash.
    pub fn base_url(&self) -> String {
        self.public_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }
}
