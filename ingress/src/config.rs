//! Ingress's settings: each field names its environment variable and default once, and
//! `validate()` refuses a configuration that could only fail later, before anything connects.

use std::time::Duration;

use atlassian_auth::forge_fit::ForgeAppConfig;
use service_runtime::{
    ConfigError, ServerConfig,
    config::{self, check, parse},
    connections::{KafkaConfig, PostgresConfig},
    kafka_topics::TopicsConfig,
    secret_cipher::{DEVELOPMENT_KEY, SecretCipher},
};
use url::Url;

#[derive(clap::Parser)]
#[command(
    name = "ingress",
    about = "MetaFrazo ingress: Jira deliveries, verified, onto Kafka",
    mut_arg("listen", |arg| arg
        .long("ingress-addr")
        .env("INGRESS_ADDR")
        .default_value("127.0.0.1:8080")),
    mut_arg("admin_listen", |arg| arg
        .long("ingress-admin-addr")
        .env("INGRESS_ADMIN_ADDR")
        .default_value("127.0.0.1:9180"))
)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub kafka: KafkaConfig,
    #[command(flatten)]
    pub topics: TopicsConfig,
    #[command(flatten)]
    pub producer: ProducerConfig,
    #[command(flatten)]
    pub postgres: PostgresConfig,
    /// Decrypts the shared secrets onboarding stored: base64 of 32 bytes.
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
    pub verify: VerifyConfig,
    /// Larger deliveries get 413. Jira's largest issue events (long descriptions, many fields)
    /// stay well under the default, 1 MiB.
    #[arg(
        long = "ingress-max-body-bytes",
        env = "INGRESS_MAX_BODY_BYTES",
        default_value_t = 1024 * 1024
    )]
    pub max_body_bytes: usize,
    /// The whole body must arrive within it, else 408 and the connection is closed. Jira sends a
    /// delivery in one go, well under a second; a client trickling bytes would otherwise hold a
    /// connection and a task for as long as it likes.
    #[arg(
        long = "ingress-body-read-timeout-ms",
        env = "INGRESS_BODY_READ_TIMEOUT_MS",
        default_value = "10000",
        value_parser = parse::millis
    )]
    pub body_read_timeout: Duration,
    /// Full reload of the installation cache, on top of following every change as it is
    /// notified.
    #[arg(
        long = "installations-resync-secs",
        env = "INSTALLATIONS_RESYNC_SECS",
        default_value = "30",
        value_parser = parse::secs
    )]
    pub installations_resync: Duration,
}

#[derive(clap::Args)]
pub struct ProducerConfig {
    /// How long a delivery may wait for the broker's acknowledgement before the request is
    /// answered 503 (Atlassian then retries).
    #[arg(
        long = "kafka-produce-timeout-ms",
        env = "KAFKA_PRODUCE_TIMEOUT_MS",
        default_value = "5000",
        value_parser = parse::millis
    )]
    pub produce_timeout: Duration,
    /// Batching delay, traded against latency.
    #[arg(long = "kafka-linger-ms", env = "KAFKA_LINGER_MS", default_value_t = 5)]
    pub linger_ms: u32,
    /// The local queue; when full, 503 at once.
    #[arg(
        long = "kafka-queue-max-messages",
        env = "KAFKA_QUEUE_MAX_MESSAGES",
        default_value_t = 100_000
    )]
    pub queue_max_messages: u32,
    /// Duplicates are removed downstream by delivery id, so idempotence only saves the pipeline
    /// some work; and tansu 0.6 (the local broker) answers an idempotent producer with unknown
    /// errors after it restarts, which would wedge ingress until its own restart. Turn it on
    /// against Apache Kafka.
    #[arg(
        long = "kafka-idempotence",
        env = "KAFKA_IDEMPOTENCE",
        default_value = "false",
        value_parser = parse::boolean
    )]
    pub idempotence: bool,
}

#[derive(clap::Args)]
pub struct VerifyConfig {
    /// The URL Atlassian reaches us at: its path is the base of every `qsh`.
    #[arg(
        long = "public-base-url",
        env = "PUBLIC_BASE_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub public_base_url: Url,
    /// Allowed clock skew for `exp` and `iat`, in seconds.
    #[arg(
        long = "jwt-leeway-secs",
        env = "JWT_LEEWAY_SECS",
        default_value_t = 30
    )]
    pub jwt_leeway_secs: u64,
    /// A Data Center webhook is trusted only while the body's `timestamp` is within this of
    /// now, either way: its HMAC never expires, so this is how long a captured delivery can be
    /// replayed (as the same delivery, stored once). It covers Jira's retries and some clock
    /// skew; the local stack widens it for the golden path's weeks-old seeded events.
    #[arg(
        long = "ingress-replay-window-secs",
        env = "INGRESS_REPLAY_WINDOW_SECS",
        default_value = "3600",
        value_parser = parse::secs
    )]
    pub replay_window: Duration,
    #[command(flatten)]
    pub forge: ForgeAppConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        config::from_env()
    }

    /// Refuses what would only fail later: a zero limit or timeout, a URL that is not http(s),
    /// a Postgres URL its client cannot read; and outside local mode, the development fallbacks
    /// (the committed SECRETS_KEY, a plain-http Forge JWKS URL).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.cipher.refuse_development_key(self.server.deployment)?;
        self.server
            .deployment
            .require_https("FORGE_JWKS_URL", &self.verify.forge.jwks_url)?;
        self.topics.validate()?;
        self.postgres.validate()?;
        self.producer.validate()?;
        self.verify.validate()?;
        check::at_least_one("INGRESS_MAX_BODY_BYTES", self.max_body_bytes)?;
        check::not_zero("INGRESS_BODY_READ_TIMEOUT_MS", self.body_read_timeout)?;
        check::not_zero("INSTALLATIONS_RESYNC_SECS", self.installations_resync)
    }
}

impl ProducerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::not_zero("KAFKA_PRODUCE_TIMEOUT_MS", self.produce_timeout)?;
        check::at_least_one("KAFKA_QUEUE_MAX_MESSAGES", self.queue_max_messages)
    }
}

impl VerifyConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::http_url("PUBLIC_BASE_URL", &self.public_base_url)?;
        check::not_zero("INGRESS_REPLAY_WINDOW_SECS", self.replay_window)?;
        check::http_url("FORGE_JWKS_URL", &self.forge.jwks_url)
    }
}

#[cfg(test)]
mod tests;
