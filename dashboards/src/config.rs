//! The dashboards' settings: each field names its environment variable and default once, and
//! `validate()` refuses a configuration that could only fail later, before anything connects.

use service_runtime::{
    ConfigError, ServerConfig,
    config::{self, check},
    connections::{ClickHouseConfig, PostgresConfig},
};
use url::Url;

mod jira_permissions;

pub(crate) use jira_permissions::JiraPermissionsConfig;

#[derive(clap::Parser)]
#[command(
    name = "dashboards",
    about = "MetaFrazo dashboards: an organization's Jira activity, as pages and an API",
    mut_arg("listen", |arg| arg
        .long("dashboards-addr")
        .env("DASHBOARDS_ADDR")
        .default_value("127.0.0.1:8082")),
    mut_arg("admin_listen", |arg| arg
        .long("dashboards-admin-addr")
        .env("DASHBOARDS_ADMIN_ADDR")
        .default_value("127.0.0.1:9182"))
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
    /// Where browsers reach these pages (in production the one public address): a form posted
    /// from a page of any other origin is refused, a saved view's link names it, and the visitor
    /// cookie is `Secure` when it is https.
    #[arg(
        long = "dashboards-url",
        env = "DASHBOARDS_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub dashboards_url: Url,
    /// The troubleshooting page reads refused deliveries and the pipeline's backlog there.
    #[arg(
        long = "prometheus-url",
        env = "PROMETHEUS_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub prometheus_url: Url,
    #[command(flatten)]
    pub query_limits: QueryLimits,
    /// Asking Jira what each member may see, for organizations that show members only that.
    #[command(flatten)]
    pub jira_permissions: JiraPermissionsConfig,
}

/// What one view may ask of the shared ClickHouse, set on every query the dashboards send: a
/// view past a limit is answered 422 (narrow it), and no viewer can make ClickHouse sort all of
/// history for everyone else.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct QueryLimits {
    /// Seconds one query may run (`max_execution_time`).
    #[arg(
        long = "dashboards-query-max-seconds",
        env = "DASHBOARDS_QUERY_MAX_SECONDS",
        default_value_t = 20
    )]
    pub max_seconds: u64,
    /// Rows one query may read (`max_rows_to_read`): about five years of a busy workspace's
    /// raw events, far above what the rollups need.
    #[arg(
        long = "dashboards-query-max-rows-read",
        env = "DASHBOARDS_QUERY_MAX_ROWS_READ",
        default_value_t = 500_000_000
    )]
    pub max_rows_read: u64,
    /// Bytes of memory one query may use (`max_memory_usage`), 2 GiB.
    #[arg(
        long = "dashboards-query-max-memory-bytes",
        env = "DASHBOARDS_QUERY_MAX_MEMORY_BYTES",
        default_value_t = 2 * 1024 * 1024 * 1024
    )]
    pub max_memory_bytes: u64,
}

impl QueryLimits {
    /// `client` with the limits on every query it sends.
    pub fn apply(&self, client: clickhouse::Client) -> clickhouse::Client {
        client
            .with_setting("max_execution_time", self.max_seconds.to_string())
            .with_setting("max_rows_to_read", self.max_rows_read.to_string())
            .with_setting("max_memory_usage", self.max_memory_bytes.to_string())
    }
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
        self.jira_permissions.validate(self.server.deployment)?;
        check::at_least_one(
            "DASHBOARDS_QUERY_MAX_SECONDS",
            self.query_limits.max_seconds,
        )?;
        check::at_least_one(
            "DASHBOARDS_QUERY_MAX_ROWS_READ",
            self.query_limits.max_rows_read,
        )?;
        check::at_least_one(
            "DASHBOARDS_QUERY_MAX_MEMORY_BYTES",
            self.query_limits.max_memory_bytes,
        )?;
        check::http_url("ONBOARDING_URL", &self.onboarding_url)?;
        check::http_url("DASHBOARDS_URL", &self.dashboards_url)?;
        check::http_url("PROMETHEUS_URL", &self.prometheus_url)
    }
}

#[cfg(test)]
mod tests;
