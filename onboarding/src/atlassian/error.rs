//! What Atlassian's calls can fail with, and the one place that turns it into a response:
//! 401 for anything untrusted (so Atlassian does not retry a forgery into success), 400 for a
//! malformed body, 413 and 408 for one too large or too slow, 503 for our own trouble (Atlassian
//! retries).

use atlassian_auth::{connect_jwt::ConnectJwtError, forge_fit::FitError};
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use service_runtime::http_metrics::Refusal;

use atlassian_auth::install_keys::InstallKeyError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no such lifecycle event")]
    UnknownEvent,
    #[error("no such Forge lifecycle event: {0}")]
    UnknownForgeEvent(String),
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error(transparent)]
    Token(#[from] ConnectJwtError),
    #[error("the signing key is not trusted: {0}")]
    UntrustedKey(InstallKeyError),
    #[error("this install token was already used")]
    Replayed,
    #[error("the token's issuer is not the clientKey in the body")]
    ClientKeyMismatch,
    #[error("the callback is for another app")]
    ForeignApp,
    #[error(
        "this client key already belongs to an installation made another way (Forge or an admin webhook)"
    )]
    ClientKeyTaken,
    #[error("the body is not a lifecycle payload: {0}")]
    InvalidBody(String),
    #[error("the body is larger than a lifecycle payload can be")]
    BodyTooLarge,
    #[error("the body did not arrive within {} ms", .0.as_millis())]
    BodyTimeout(std::time::Duration),
    #[error("Atlassian's install-key server cannot be reached: {0}")]
    KeyServerUnreachable(String),
    #[error("the installation store is unavailable")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the installation store is unavailable")]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl LifecycleError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownEvent | Self::UnknownForgeEvent(_) => "unknown_event",
            Self::Fit(err) => err.code(),
            Self::Token(err) => err.code(),
            Self::UntrustedKey(_) => "untrusted_key",
            Self::Replayed => "replayed",
            Self::ClientKeyMismatch => "client_key_mismatch",
            Self::ForeignApp => "foreign_app",
            Self::ClientKeyTaken => "client_key_taken",
            Self::InvalidBody(_) => "invalid_body",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout(_) => "body_timeout",
            Self::KeyServerUnreachable(_) => "key_server_unreachable",
            Self::Postgres(_) | Self::Pool(_) => "store_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownEvent => StatusCode::NOT_FOUND,
            Self::UnknownForgeEvent(_) => StatusCode::BAD_REQUEST,
            Self::Fit(FitError::KeysUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Fit(_)
            | Self::Token(_)
            | Self::UntrustedKey(_)
            | Self::Replayed
            | Self::ClientKeyMismatch
            | Self::ForeignApp => StatusCode::UNAUTHORIZED,
            Self::InvalidBody(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::ClientKeyTaken => StatusCode::CONFLICT,
            Self::KeyServerUnreachable(_) | Self::Postgres(_) | Self::Pool(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl IntoResponse for LifecycleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // Our own trouble: say what the caller can do, not our internals.
            Self::Postgres(_)
            | Self::Pool(_)
            | Self::KeyServerUnreachable(_)
            | Self::Fit(FitError::KeysUnavailable(_)) => {
                "temporarily unavailable; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({"error": self.code(), "message": message})),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(Refusal::of(self.code(), &self));
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: the connection cannot carry another
            // request after it.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, 10.into());
        }
        response
    }
}
