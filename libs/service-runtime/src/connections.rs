//! Where each shared dependency lives and how to connect to it. The variable names are the same
//! for every service (and in `compose/docker-compose.yml`), so one environment configures all.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{
    ConfigError,
    config::{self, check, parse, redact_url},
};

#[derive(Clone, clap::Args)]
pub struct PostgresConfig {
    /// The accounts database (a password in it is never logged).
    #[arg(
        id = "DATABASE_URL",
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "postgres://metafrazo:metafrazo@127.0.0.1:5432/metafrazo",
        value_parser = parse::secret,
        hide_env_values = true
    )]
    pub url: SecretString,
    /// Connections the pool keeps at most.
    #[arg(
        long = "database-pool-size",
        env = "DATABASE_POOL_SIZE",
        default_value_t = 16
    )]
    pub pool_size: usize,
}

impl PostgresConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// A URL Postgres's client cannot read is refused before anything connects.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::at_least_one("DATABASE_POOL_SIZE", self.pool_size)?;
        tokio_postgres::Config::from_str(self.url.expose_secret())
            .map(|_| ())
            .map_err(|err| ConfigError::invalid("DATABASE_URL", self.display_url(), err))
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

#[derive(Clone, clap::Args)]
pub struct ClickHouseConfig {
    /// ClickHouse's HTTP interface.
    #[arg(
        id = "CLICKHOUSE_URL",
        long = "clickhouse-url",
        env = "CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    pub url: String,
    #[arg(
        long = "clickhouse-database",
        env = "CLICKHOUSE_DATABASE",
        default_value = "metafrazo"
    )]
    pub database: String,
    #[arg(
        long = "clickhouse-user",
        env = "CLICKHOUSE_USER",
        default_value = "default"
    )]
    pub user: String,
    #[arg(
        long = "clickhouse-password",
        env = "CLICKHOUSE_PASSWORD",
        default_value = "",
        value_parser = parse::secret,
        hide_env_values = true
    )]
    pub password: SecretString,
    /// The ClickHouse cluster (`remote_servers` in the servers' config) the warehouse's tables
    /// span, as replicated tables under `Distributed` ones; empty for one server. Read by the
    /// migrations, which create the tables; every service reads the topology from the schema.
    #[arg(
        long = "clickhouse-cluster",
        env = "CLICKHOUSE_CLUSTER",
        default_value = ""
    )]
    pub cluster: String,
}

impl ClickHouseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// The client speaks HTTP: any other URL would only fail at the first query.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = Url::parse(&self.url)
            .map_err(|err| ConfigError::invalid("CLICKHOUSE_URL", redact_url(&self.url), err))?;
        check::http_url("CLICKHOUSE_URL", &url)?;
        // Written into DDL as it is: a bare identifier, as `remote_servers` names clusters.
        if !self
            .cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError::invalid(
                "CLICKHOUSE_CLUSTER",
                &self.cluster,
                "must be a cluster name of letters, digits and underscores (or empty for one server)",
            ));
        }
        Ok(())
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
            // On a cluster (warehouse::topology): an insert through a `Distributed` table
            // returns once its shard stored it, so an error reaches the caller, who retries the
            // same block (which the replicated table then stores once); a subquery reads the
            // shard's own rows, where all of an installation's rows live. Neither changes
            // anything on one server.
            .with_setting("insert_distributed_sync", "1")
            .with_setting("distributed_product_mode", "local")
    }
}

#[derive(Clone, clap::Args)]
pub struct KafkaConfig {
    /// Bootstrap brokers, comma-separated `host:port`.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
}

impl KafkaConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }
}

#[derive(Clone, clap::Args)]
pub struct SmtpConfig {
    /// The relay mail is sent through: the local sink by default; `smtps://` or
    /// `smtp://…?tls=required` with credentials for a real relay.
    #[arg(
        id = "SMTP_URL",
        long = "smtp-url",
        env = "SMTP_URL",
        default_value = "smtp://127.0.0.1:1025",
        value_parser = parse::secret,
        hide_env_values = true
    )]
    pub url: SecretString,
}

impl SmtpConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// A URL lettre cannot read is refused before anything connects.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.transport().map(|_| ()).map_err(|err| {
            ConfigError::invalid("SMTP_URL", redact_url(self.url.expose_secret()), err)
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
