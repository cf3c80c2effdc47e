//! The dashboards' settings: each field names its environment variable and default once, and
//! `validate()` refuses a configuration that could only fail later, before anything connects.

use service_runtime::{
    ConfigError, ServerConfig,
    config::{self, check},
    connections::{ClickHouseConfig, PostgresConfig},
};
use url::Url;

#[derive(clap::Parser)]
#[command(
    name = "dashboards",
    about = "MetaFrazo dashboards: an organization's Jira activity, as pages and an API",
    mut_arg("listen", |arg| arg
        .long("dashboards-addr")
        .env("DASHBOARDS_ADDR")
        .default_value("127.0.0.1:8082"))
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    #[command(flatten)]
    pub postgres: PostgresConfig,
    /// Where people sign in and manage their organization (onboarding serves those pages and sets
    /// the session cookie both read).
    #[arg(
        long = "onboarding-url",
        env = "ONBOARDING_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub onboarding_url: Url,
    /// The troubleshooting page reads refused deliveries and the pipeline's backlog there.
    #[arg(
        long = "prometheus-url",
        env = "PROMETHEUS_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub prometheus_url: Url,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// Refuses URLs we could neither link to nor call, and the shared settings' own refusals.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.clickhouse.validate()?;
        self.postgres.validate()?;
        check::http_url("ONBOARDING_URL", &self.onboarding_url)?;
        check::http_url("PROMETHEUS_URL", &self.prometheus_url)
    }
}

#[cfg(test)]
mod tests;
