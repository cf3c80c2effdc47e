use std::net::{Ipv4Addr, SocketAddr};

use service_runtime::{
    ConfigError, ServerConfig,
    connections::{ClickHouseConfig, PostgresConfig},
    env_or,
};
use url::Url;

pub struct Config {
    /// `DASHBOARDS_ADDR`, default `127.0.0.1:8082`.
    pub server: ServerConfig,
    pub clickhouse: ClickHouseConfig,
    pub postgres: PostgresConfig,
    /// `ONBOARDING_URL`, default `http://127.0.0.1:8081`: where people sign in and manage their
    /// organization (onboarding serves those pages and sets the session cookie both read).
    pub onboarding_url: Url,
    /// `PROMETHEUS_URL`, default `http://127.0.0.1:9090`: the troubleshooting page reads refused
    /// deliveries and the pipeline's backlog there.
    pub prometheus_url: Url,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "DASHBOARDS_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8082)),
            )?,
            clickhouse: ClickHouseConfig::from_env()?,
            postgres: PostgresConfig::from_env()?,
            onboarding_url: env_or(
                "ONBOARDING_URL",
                Url::parse("http://127.0.0.1:8081").expect("valid default"),
            )?,
            prometheus_url: env_or(
                "PROMETHEUS_URL",
                Url::parse("http://127.0.0.1:9090").expect("valid default"),
            )?,
        })
    }
}
