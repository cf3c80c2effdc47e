//! Structured logging: human-readable on a terminal, one JSON object per line otherwise
//! (files, journald, log shippers). The level comes from `RUST_LOG`, default `info`.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    if std::io::stdout().is_terminal() {
        registry.with(fmt::layer()).init();
    } else {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .init();
    }
    tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
}
