use std::net::{Ipv4Addr, SocketAddr};

use service_kit::{
    ConfigError, ServerConfig,
    connections::{PostgresConfig, SmtpConfig},
};

pub struct Config {
    /// `ONBOARDING_ADDR`, default `127.0.0.1:8081`.
    pub server: ServerConfig,
    pub postgres: PostgresConfig,
    pub smtp: SmtpConfig,
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
        })
    }
}
