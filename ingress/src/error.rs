//! Every way a delivery can fail, and the one place that turns it into a status and a JSON
//! body: 401 untrusted, 413 too large, 408 too slow, 415 not JSON, 400 unusable, 404/405 no
//! such route, 503 our trouble (Atlassian retries those, so nothing accepted is lost). Bodies
//! never carry internals.

use axum::{
    Json,
    http::{
        HeaderValue, StatusCode,
        header::{CONNECTION, RETRY_AFTER},
    },
    response::{IntoResponse, Response},
};
use serde_json::json;
use service_runtime::http_metrics::Refusal;

use crate::{sink::SinkError, verify::Refused};

#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("{refused}")]
    Refused {
        refused: Refused,
        /// The client key or installation the delivery claimed, for the log.
        installation: Option<String>,
    },
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the body did not arrive within {} ms", .timeout.as_millis())]
    BodyTimeout { timeout: std::time::Duration },
    #[error("the body could not be read: {0}")]
    UnreadableBody(String),
    #[error("deliveries are JSON, not {0:?}")]
    UnsupportedMediaType(String),
    #[error("no such route")]
    NoSuchRoute,
    #[error("this route does not answer that method")]
    MethodNotAllowed,
    #[error("the body is not a Jira event: {0}")]
    NotAnEvent(String),
    #[error("Atlassian's Forge keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    /// Every place in the set of live Forge tokens is taken: Forge retries with a new token.
    #[error("too many Forge Invocation Tokens are live at once to remember another")]
    TooManyTokens,
    #[error(transparent)]
    Unavailable(#[from] SinkError),
}

impl IngressError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused { refused, .. } => refused.code(),
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::UnreadableBody(_) => "unreadable_body",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::NoSuchRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotAnEvent(_) => "not_an_event",
            Self::KeysUnavailable(_) => "keys_unavailable",
            Self::TooManyTokens => "too_many_tokens",
            Self::Unavailable(SinkError::QueueFull) => "queue_full",
            Self::Unavailable(SinkError::Broker(_)) => "broker_unavailable",
        }
    }

    /// The outcome label of `ingress_deliveries_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Refused { .. } => "refused",
            Self::BodyTooLarge { .. } => "too_large",
            // The label's set stays fixed: a slow, mistyped or misrouted request is unusable.
            Self::BodyTimeout { .. }
            | Self::UnreadableBody(_)
            | Self::UnsupportedMediaType(_)
            | Self::NoSuchRoute
            | Self::MethodNotAllowed
            | Self::NotAnEvent(_) => "invalid",
            Self::KeysUnavailable(_) | Self::TooManyTokens | Self::Unavailable(_) => "unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { .. } => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnreadableBody(_) | Self::NotAnEvent(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NoSuchRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::KeysUnavailable(_) | Self::TooManyTokens | Self::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::KeysUnavailable(_) | Self::TooManyTokens | Self::Unavailable(_) => {
                "temporarily unable to store events; retry later".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for IngressError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(json!({"error": self.code(), "message": self.public_message()})),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(RETRY_AFTER, 5.into());
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: the connection cannot carry another
            // request after it.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let installation = match &self {
            Self::Refused { installation, .. } => installation.clone(),
            _ => None,
        };
        response.extensions_mut().insert(Refusal {
            installation,
            ..Refusal::of(self.code(), &self)
        });
        response
    }
}
