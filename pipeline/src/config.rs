use std::net::{Ipv4Addr, SocketAddr};

use service_kit::{
    ConfigError, ServerConfig,
    connections::{ClickHouseConfig, KafkaConfig},
};

pub struct Config {
    /// `PIPELINE_ADDR`, default `127.0.0.1:8083`: health and metrics only.
    pub server: ServerConfig,
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "PIPELINE_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8083)),
            )?,
            kafka: KafkaConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
        })
    }
}
