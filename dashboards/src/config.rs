use std::net::{Ipv4Addr, SocketAddr};

use service_kit::{
    ConfigError, ServerConfig,
    connections::{ClickHouseConfig, PostgresConfig},
};

pub struct Config {
    /// `DASHBOARDS_ADDR`, default `127.0.0.1:8082`.
    pub server: ServerConfig,
    pub clickhouse: ClickHouseConfig,
    pub postgres: PostgresConfig,
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
        })
    }
}
