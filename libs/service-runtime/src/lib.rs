//! The runtime every MetaFrazo binary shares: typed config from environment variables,
//! structured logs, `/healthz` + `/readyz` + `/metrics` on an admin port of their own, and
//! serving with a connection cap and graceful shutdown.

pub mod checks;
pub mod config;
pub mod connections;
pub mod http_metrics;
pub mod kafka_topics;
pub mod page_headers;
pub mod readiness;
pub mod request_span;
pub mod retry;
pub mod secret_cipher;
pub mod server;
pub mod telemetry;

pub use config::ConfigError;
pub use readiness::{DependencyCheck, Readiness};
pub use server::{
    Application, BindError, Routes, ServerConfig, ServiceRouter, new_registry, shutdown_signal,
};
