use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use atlassian_auth::forge_fit;
use service_runtime::{
    ConfigError, ServerConfig,
    connections::{KafkaConfig, PostgresConfig},
    env_or,
    kafka_topics::TopicsConfig,
    secret_cipher::SecretCipher,
};
use url::Url;

pub struct Config {
    /// `INGRESS_ADDR`, default `127.0.0.1:8080`.
    pub server: ServerConfig,
    pub kafka: KafkaConfig,
    pub topics: TopicsConfig,
    pub producer: ProducerConfig,
    pub postgres: PostgresConfig,
    /// `SECRETS_KEY`: decrypts the shared secrets onboarding stored.
    pub cipher: SecretCipher,
    pub verify: VerifyConfig,
    /// `INGRESS_MAX_BODY_BYTES`, default 1 MiB: larger deliveries get 413. Jira's largest
    /// issue events (long descriptions, many fields) stay well under it.
    pub max_body_bytes: usize,
    /// `INGRESS_BODY_READ_TIMEOUT_MS`, default 10000: the whole body must arrive within it, else
    /// 408 and the connection is closed. Jira sends a delivery in one go, well under a second;
    /// a client trickling bytes would otherwise hold a connection and a task for as long as it
    /// likes.
    pub body_read_timeout: Duration,
    /// `INSTALLATIONS_RESYNC_SECS`, default 30: full reload of the installation cache, on top of
    /// following every change as it is notified.
    pub installations_resync: Duration,
}

pub struct ProducerConfig {
    /// `KAFKA_PRODUCE_TIMEOUT_MS`, default 5000: how long a delivery may wait for the broker's
    /// acknowledgement before the request is answered 503 (Atlassian then retries).
    pub produce_timeout: Duration,
    /// `KAFKA_LINGER_MS`, default 5: batching delay, traded against latency.
    pub linger_ms: u32,
    /// `KAFKA_QUEUE_MAX_MESSAGES`, default 100000: the local queue; when full, 503 at once.
    pub queue_max_messages: u32,
    /// `KAFKA_IDEMPOTENCE`, default false. Duplicates are removed downstream by delivery id, so
    /// idempotence only saves the pipeline some work; and tansu 0.6 (the local broker) answers an
    /// idempotent producer with unknown errors after it restarts, which would wedge ingress
    /// until its own restart. Turn it on against Apache Kafka.
    pub idempotence: bool,
}

pub struct VerifyConfig {
    /// `PUBLIC_BASE_URL`, default `http://127.0.0.1:8081`: its path is the base of every `qsh`.
    pub public_base_url: Url,
    /// `JWT_LEEWAY_SECS`, default 30.
    pub jwt_leeway_secs: u64,
    /// `FORGE_JWKS_URL`, default the local simulator's; Atlassian's is
    /// `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`.
    pub forge_jwks_url: Url,
    /// `FORGE_APP_ID`, default the demo app's ARI: the `aud` of every Forge Invocation Token.
    pub forge_app_id: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            server: ServerConfig::from_env(
                "INGRESS_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            )?,
            kafka: KafkaConfig::from_env()?,
            topics: TopicsConfig::from_env()?,
            producer: ProducerConfig {
                produce_timeout: Duration::from_millis(env_or("KAFKA_PRODUCE_TIMEOUT_MS", 5000)?),
                linger_ms: env_or("KAFKA_LINGER_MS", 5)?,
                queue_max_messages: env_or("KAFKA_QUEUE_MAX_MESSAGES", 100_000)?,
                idempotence: env_or("KAFKA_IDEMPOTENCE", false)?,
            },
            postgres: PostgresConfig::from_env()?,
            cipher: SecretCipher::from_env()?,
            verify: VerifyConfig {
                public_base_url: env_or(
                    "PUBLIC_BASE_URL",
                    Url::parse("http://127.0.0.1:8081").expect("valid default"),
                )?,
                jwt_leeway_secs: env_or("JWT_LEEWAY_SECS", 30)?,
                forge_jwks_url: env_or(
                    "FORGE_JWKS_URL",
                    Url::parse(forge_fit::LOCAL_JWKS_URL).expect("valid default"),
                )?,
                forge_app_id: env_or("FORGE_APP_ID", forge_fit::DEMO_APP_ID.to_owned())?,
            },
            max_body_bytes: env_or("INGRESS_MAX_BODY_BYTES", 1024 * 1024)?,
            body_read_timeout: Duration::from_millis(env_or(
                "INGRESS_BODY_READ_TIMEOUT_MS",
                10_000,
            )?),
            installations_resync: Duration::from_secs(env_or("INSTALLATIONS_RESYNC_SECS", 30)?),
        })
    }
}
