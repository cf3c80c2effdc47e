//! Every way a delivery can fail, and the one place that turns it into a status and a JSON
//! body: 401 untrusted, 413 too large, 400 unusable, 503 our trouble (Atlassian retries those,
//! so nothing accepted is lost). Bodies never carry internals.

use axum::{
    Json,
    http::{StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;
use service_kit::http_metrics::Refusal;

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
    #[error("the body could not be read: {0}")]
    UnreadableBody(String),
    #[error("the body is not a Jira event: {0}")]
    NotAnEvent(String),
    #[error("Atlassian's Forge keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    #[error(transparent)]
    Unavailable(#[from] SinkError),
}

impl IngressError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused { refused, .. } => refused.code(),
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UnreadableBody(_) => "unreadable_body",
            Self::NotAnEvent(_) => "not_an_event",
            Self::KeysUnavailable(_) => "keys_unavailable",
            Self::Unavailable(SinkError::QueueFull) => "queue_full",
            Self::Unavailable(SinkError::Broker(_)) => "broker_unavailable",
        }
    }

    /// The outcome label of `ingress_deliveries_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Refused { .. } => "refused",
            Self::BodyTooLarge { .. } => "too_large",
            Self::UnreadableBody(_) | Self::NotAnEvent(_) => "invalid",
            Self::KeysUnavailable(_) | Self::Unavailable(_) => "unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { .. } => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnreadableBody(_) | Self::NotAnEvent(_) => StatusCode::BAD_REQUEST,
            Self::KeysUnavailable(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::KeysUnavailable(_) | Self::Unavailable(_) => {
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
        let installation = match &self {
            Self::Refused { installation, .. } => installation.clone(),
            _ => None,
        };
        response.extensions_mut().insert(Refusal {
            code: self.code(),
            reason: self.to_string(),
            installation,
        });
        response
    }
}
