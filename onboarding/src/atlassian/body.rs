//! Reading a callback's body whole, within the body limit (the router's `DefaultBodyLimit`) and
//! a deadline: a client that trickles its body a byte at a time gets 408, not a connection held
//! open for as long as it likes.

use std::time::Duration;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
};

use super::LifecycleError;

pub(super) async fn read(request: Request, timeout: Duration) -> Result<Bytes, LifecycleError> {
    // Bounds the whole body, not each read, which a byte a second would never trip.
    let body = tokio::time::timeout(timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_| LifecycleError::BodyTimeout(timeout))?;
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => LifecycleError::BodyTooLarge,
        _ => LifecycleError::InvalidBody(rejection.body_text()),
    })
}
