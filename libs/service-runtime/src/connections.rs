//! Where each shared dependency lives and how to connect to it. The variable names are the same
//! for every service (and in `compose/docker-compose.yml`), so one environment configures all.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    ConfigError,
    config::{env_or, env_secret_or, redact_url},
};

/// `DATABASE_URL`, default `postgres://metafrazo:metafrazo@127.0.0.1:5432/metafrazo`.
#[derive(Clone)]
pub struct PostgresConfig {
    pub url: SecretString,
    /// `DATABASE_POOL_SIZE`, default 16.
    pub pool_size: usize,
}

impl PostgresConfig {
    pub const DEFAULT_URL: &'static str = "postgres://metafrazo:metafrazo@127.0.0.1:5432/metafrazo";

    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: env_secret_or("DATABASE_URL", Self::DEFAULT_URL)?,
            pool_size: env_or("DATABASE_POOL_SIZE", 16)?,
        })
    }

    /// The URL with its password masked.
    pub fn display_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }

    /// A pool that connects lazily: building it succeeds while Postgres is down, and the
    /// service reports not-ready until it answers.
    pub fn pool(&self) -> anyhow::Result<Pool> {
        let pg_config = tokio_postgres::Config::from_str(self.url.expose_secret())
            .map_err(|err| anyhow::anyhow!("DATABASE_URL is not a valid Postgres URL: {err}"))?;
        let manager = Manager::from_config(
            pg_config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Ok(Pool::builder(manager)
            .max_size(self.pool_size)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()?)
    }
}

/// `CLICKHOUSE_URL` (default `http://127.0.0.1:8123`), `CLICKHOUSE_DATABASE` (default
/// `metafrazo`), `CLICKHOUSE_USER` (default `default`), `CLICKHOUSE_PASSWORD` (default empty).
#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: SecretString,
}

impl ClickHouseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: env_or("CLICKHOUSE_URL", "http://127.0.0.1:8123".to_owned())?,
            database: env_or("CLICKHOUSE_DATABASE", "metafrazo".to_owned())?,
            user: env_or("CLICKHOUSE_USER", "default".to_owned())?,
            password: env_secret_or("CLICKHOUSE_PASSWORD", "")?,
        })
    }

    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(&self.url)
            .with_database(&self.database)
            .with_user(&self.user)
            .with_password(self.password.expose_secret())
            // ClickHouse 18.16 (Debian's, the local stack) lacks RowBinaryWithNamesAndTypes,
            // which the crate's schema validation needs.
            .with_validation(false)
    }
}

/// `KAFKA_BROKERS`, default `127.0.0.1:9092`.
#[derive(Clone)]
pub struct KafkaConfig {
    pub brokers: String,
}

impl KafkaConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            brokers: env_or("KAFKA_BROKERS", "127.0.0.1:9092".to_owned())?,
        })
    }
}

/// `SMTP_URL`, default `smtp://127.0.0.1:1025` (the local sink). Use `smtps://` or
/// `smtp://…?tls=required` with credentials for a real relay.
#[derive(Clone)]
pub struct SmtpConfig {
    pub url: SecretString,
}

impl SmtpConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            url: env_secret_or("SMTP_URL", "smtp://127.0.0.1:1025")?,
        })
    }

    pub fn transport(&self) -> anyhow::Result<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>> {
        Ok(
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(
                self.url.expose_secret(),
            )
            .map_err(|err| anyhow::anyhow!("SMTP_URL is not a valid SMTP URL: {err}"))?
            .timeout(Some(std::time::Duration::from_secs(5)))
            .build(),
        )
    }
}
