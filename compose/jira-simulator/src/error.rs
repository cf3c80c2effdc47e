//! What can go wrong while the simulator plays Atlassian, named by the step that failed, so a
//! failing test or CLI run says what it was doing.

use std::{io, net::SocketAddr, path::PathBuf};

use crate::{events::FixtureError, keys::KeyError};

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Fixtures(#[from] FixtureError),
    #[error("the key loading task failed: {0}")]
    KeyTask(String),
    #[error("could not bind the key server to {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("could not sign a token")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error("{doing}: request to {url} failed")]
    Http {
        doing: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the app descriptor at {url} is unusable: {reason}")]
    Descriptor { url: String, reason: String },
    #[error("the app answered the {event} lifecycle callback at {url} with HTTP {status}: {body}")]
    LifecycleRefused {
        event: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("could not serialize the payload")]
    Payload(#[source] serde_json::Error),
    #[error("invalid header value: {0}")]
    Header(String),
    #[error("FIT claim overrides must be a JSON object, got {0}")]
    ClaimsOverride(String),
    #[error(
        "could not announce an installation or a permission change to the simulator at {url}: {reason}"
    )]
    Announce { url: String, reason: String },
    #[error("could not read the installations file {path}")]
    ReadInstallations {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the installations file {path} is not valid")]
    ParseInstallations {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not write the installations file {path}")]
    WriteInstallations {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = SimulatorError> = std::result::Result<T, E>;
