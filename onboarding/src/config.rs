//! Onboarding's settings: each field names its environment variable and default once (the groups
//! live in `config/`), and `validate()` refuses a configuration that could only fail later,
//! before anything connects.

mod accounts;
mod atlassian;
mod atlassian_oauth;
mod digest;
mod oidc;

pub use accounts::{AccountsConfig, MailConfig};
pub use atlassian::AtlassianConfig;
pub use atlassian_oauth::AtlassianOAuthSettings;
pub use digest::DigestConfig;
pub use oidc::OidcConfig;
use service_runtime::{
    ConfigError, ServerConfig,
    config::{self},
    connections::{ClickHouseConfig, PostgresConfig, SmtpConfig},
    secret_cipher::{DEVELOPMENT_KEY, SecretCipher},
};

/// The client the local stack's providers register (the OpenID providers, the simulator's
/// Atlassian): only for them.
const LOCAL_CLIENT_ID: &str = "metafrazo-local";
const LOCAL_CLIENT_SECRET: &str = "metafrazo-local-secret";

#[derive(clap::Parser)]
#[command(
    name = "onboarding",
    mut_arg("listen", |arg| arg
        .long("onboarding-addr")
        .env("ONBOARDING_ADDR")
        .default_value("127.0.0.1:8081")),
    mut_arg("admin_listen", |arg| arg
        .long("onboarding-admin-addr")
        .env("ONBOARDING_ADMIN_ADDR")
        .default_value("127.0.0.1:9181"))
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub postgres: PostgresConfig,
    #[command(flatten)]
    pub smtp: SmtpConfig,
    /// Where an organization's events are erased when it is deleted, and where the admin page
    /// reads when the last event arrived.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    #[command(flatten)]
    pub atlassian: AtlassianConfig,
    #[command(flatten)]
    pub accounts: AccountsConfig,
    #[command(flatten)]
    pub mail: MailConfig,
    /// Encrypts shared secrets at rest: base64 of 32 bytes.
    #[arg(
        long = "secrets-key",
        env = "SECRETS_KEY",
        default_value = DEVELOPMENT_KEY,
        value_parser = SecretCipher::parse_key,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub cipher: SecretCipher,
    #[command(flatten)]
    pub oidc: OidcConfig,
    /// Members linking their own Atlassian accounts.
    #[command(flatten)]
    pub atlassian_oauth: AtlassianOAuthSettings,
    /// The weekly digest email's job.
    #[command(flatten)]
    pub digest: DigestConfig,
}

impl Config {
    /// Read from the environment; the settings whose default depends on another (the cookies'
    /// `Secure` on the public URL's scheme) and the OIDC providers are then worked out once.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config: Self = config::from_env()?;
        config.resolve();
        Ok(config)
    }

    fn resolve(&mut self) {
        self.accounts.resolve(&self.atlassian.public_base_url);
        self.oidc.resolve();
    }

    /// Refuses what would only fail later: URLs that are not http(s), zero lifetimes, a real
    /// OIDC provider with the local client's credentials; and outside local mode, the
    /// development fallbacks (the committed SECRETS_KEY, the simulator's plain-http URLs).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.cipher.refuse_development_key(self.server.deployment)?;
        self.atlassian
            .refuse_development_urls(self.server.deployment)?;
        self.postgres.validate()?;
        self.smtp.validate()?;
        self.clickhouse.validate()?;
        self.atlassian.validate()?;
        self.accounts.validate()?;
        self.mail.validate()?;
        self.digest.validate()?;
        self.atlassian_oauth.validate(self.server.deployment)?;
        self.oidc.validate()
    }
}

#[cfg(test)]
mod tests;
