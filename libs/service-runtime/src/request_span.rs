//! Every request runs inside a `request` span carrying its request id, so each line a service
//! logs for it (a refusal, a store failure, ingress's accepted delivery) can be found by that
//! id, and ingress puts the same id on the envelope for the pipeline's lines. The id is the
//! caller's `X-Request-Id` when it is sane, else a new one, and is sent back in the response.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An id we log and pass on: short, and only characters that cannot forge a log line.
pub fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The request's id, as this middleware left it in the headers.
pub fn of(request_headers: &axum::http::HeaderMap) -> Option<&str> {
    request_headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id))
}

pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = match of(request.headers()) {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let value = HeaderValue::from_str(&id).expect("a sane request id is a header value");
    request.headers_mut().insert(REQUEST_ID, value.clone());
    // The method only: a path can carry a setup link's or an invitation's token.
    let span = tracing::info_span!("request", method = %request.method(), request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().entry(REQUEST_ID).or_insert(value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_from_the_caller() {
        assert!(is_sane("3f1c-a_9"));
        assert!(!is_sane(""));
        assert!(!is_sane("line\nbreak"));
        assert!(!is_sane(&"a".repeat(65)));
    }
}
