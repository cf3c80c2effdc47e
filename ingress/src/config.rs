use std::net::{Ipv4Addr, SocketAddr};

use service_kit::{
    ConfigError, ServerConfig,
    connections::{KafkaConfig, PostgresConfig},
};

pub struct Config {
    /// `INGRESS_ADDR`, default `127.0.0.1:8080`.
    pub server: ServerConfig,
    pub kafka: KafkaConfig,
    pub postgres: PostgresConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "INGRESS_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            )?,
            kafka: KafkaConfig::from_env()?,
            postgres: PostgresConfig::from_env()?,
        })
    }
}
