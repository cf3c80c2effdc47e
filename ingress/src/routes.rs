//! The three doors events come through, one route each, and what they share once a delivery is
//! verified: check it is an event, wrap it in an envelope, produce it, answer 202.

use std::{sync::Arc, time::Instant};

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, OriginalUri, Path, Request, State, rejection::PathRejection},
    http::{
        HeaderMap, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};
use contracts::{DeliveryId, Envelope, Source};
use serde::Deserialize;
use serde_json::json;
use service_runtime::request_span;
use sha2::{Digest, Sha256};

use crate::{
    AppState,
    error::IngressError,
    forge_delivery_id,
    installations::Installation,
    verify::{self, connect_jwt::ConnectRequest, forge_fit::FitFailure, webhook_hmac},
};

pub const CONNECT_EVENTS: &str = "/atlassian/events";
pub const FORGE_EVENTS: &str = "/forge/events";
pub const ADMIN_WEBHOOKS: &str = "/webhooks/{connection}";

const WEBHOOK_RETRY: &str = "x-atlassian-webhook-retry";
const HUB_SIGNATURE: &str = "x-hub-signature";

pub(crate) async fn connect_events(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let outcome = async {
        let body = read_body(&state, &headers, request).await?;
        let installation = state
            .connect
            .verify(
                &state.installations,
                &ConnectRequest {
                    authorization: header(&headers, AUTHORIZATION.as_str()),
                    method: "POST",
                    path: uri.path(),
                    query: uri.query(),
                },
                verify::now_secs(),
            )
            .map_err(|(refused, installation)| IngressError::Refused {
                refused,
                installation,
            })?;
        accept(&state, &installation, Source::Connect, &headers, body).await
    };
    answer(&state, CONNECT_EVENTS, outcome.await)
}

pub(crate) async fn forge_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let outcome = async {
        let body = read_body(&state, &headers, request).await?;
        let installation = state
            .forge
            .verify(
                &state.installations,
                header(&headers, AUTHORIZATION.as_str()),
                verify::now_secs(),
            )
            .await
            .map_err(|failure| match failure {
                FitFailure::Refused(refused, installation) => IngressError::Refused {
                    refused,
                    installation,
                },
                FitFailure::KeysUnavailable(reason) => IngressError::KeysUnavailable(reason),
                FitFailure::TooManyTokens => IngressError::TooManyTokens,
            })?;
        accept(&state, &installation, Source::Forge, &headers, body).await
    };
    answer(&state, FORGE_EVENTS, outcome.await)
}

pub(crate) async fn admin_webhooks(
    State(state): State<AppState>,
    connection: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let outcome = async {
        // A connection id that is not UTF-8 once percent-decoded names no connection.
        let Path(connection) = connection.map_err(|_| IngressError::NoSuchRoute)?;
        let body = read_body(&state, &headers, request).await?;
        let installation = webhook_hmac::verify(
            &state.installations,
            &connection,
            header(&headers, HUB_SIGNATURE),
            &body,
            &state.replay_window,
            verify::now_millis(),
        )
        .map_err(|refused| IngressError::Refused {
            refused,
            installation: Some(connection.clone()),
        })?;
        accept(&state, &installation, Source::WebhookSecret, &headers, body).await
    };
    answer(&state, ADMIN_WEBHOOKS, outcome.await)
}

/// Counts the outcome and renders the answer.
fn answer(
    state: &AppState,
    route: &'static str,
    outcome: Result<Accepted, IngressError>,
) -> Response {
    match outcome {
        Ok(accepted) => {
            state
                .metrics
                .deliveries
                .with_label_values(&[route, "accepted"])
                .inc();
            accepted.into_response()
        }
        Err(err) => {
            state
                .metrics
                .deliveries
                .with_label_values(&[route, err.outcome()])
                .inc();
            if let IngressError::Refused {
                refused,
                installation,
            } = &err
            {
                state
                    .metrics
                    .refusals
                    .with_label_values(&[refused.code()])
                    .inc();
                // Per installation only for ones we know: a forger can claim any client key,
                // and each would become a time series. Labelled by our installation id, as
                // every per-installation series is, never by the client key claimed.
                if let Some(known) = installation
                    .as_deref()
                    .and_then(|key| state.installations.get(key))
                {
                    state
                        .metrics
                        .refusals_by_installation
                        .with_label_values(&[&known.id_label, refused.code()])
                        .inc();
                }
            }
            err.into_response()
        }
    }
}

/// 202 with the delivery id; the request id goes back in `X-Request-Id`, as on every answer.
pub(crate) struct Accepted {
    delivery_id: DeliveryId,
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        (
            StatusCode::ACCEPTED,
            Json(json!({"status": "accepted", "delivery_id": self.delivery_id})),
        )
            .into_response()
    }
}

/// Any path no route answers: a JSON 404, as every other refusal is.
pub(crate) async fn no_such_route() -> IngressError {
    IngressError::NoSuchRoute
}

pub(crate) async fn method_not_allowed() -> IngressError {
    IngressError::MethodNotAllowed
}

/// The body, once its declared type is JSON (or undeclared), read whole within the body read
/// timeout and the body limit (the `DefaultBodyLimit` layer's, which `Bytes` obeys).
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    request: Request,
) -> Result<Bytes, IngressError> {
    check_content_type(headers)?;
    // Bounds the whole body, not each read: a client sending a byte a second never trips a
    // per-read timeout.
    let body = tokio::time::timeout(state.body_read_timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_| IngressError::BodyTimeout {
            timeout: state.body_read_timeout,
        })?;
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IngressError::BodyTooLarge {
            limit: state.max_body_bytes,
        },
        _ => IngressError::UnreadableBody(rejection.body_text()),
    })
}

/// Jira, Forge and admin webhooks all send `application/json` (some with a charset); a
/// delivery that declares another type is not one of theirs. No type at all is let through, as
/// hand-made webhooks and curl may send none, and the body is checked as JSON afterwards anyway.
fn check_content_type(headers: &HeaderMap) -> Result<(), IngressError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let declared = String::from_utf8_lossy(value.as_bytes());
    let media_type = declared.split(';').next().unwrap_or_default().trim();
    let json = media_type.eq_ignore_ascii_case("application/json")
        || media_type
            .get(media_type.len().saturating_sub(5)..)
            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"));
    if json {
        Ok(())
    } else {
        // The declared type goes into the message, so it is cut to a sane length.
        Err(IngressError::UnsupportedMediaType(
            declared.chars().take(100).collect(),
        ))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Checks the verified body is an event, then produces it: to the raw topic when it is, to the
/// dead-letter topic (and 400) when it is not.
#[tracing::instrument(name = "delivery", skip_all, fields(installation = %installation.id, ?source, delivery_id = tracing::field::Empty))]
async fn accept(
    state: &AppState,
    installation: &Arc<Installation>,
    source: Source,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Accepted, IngressError> {
    let _in_flight = InFlight::enter(&state.metrics.in_flight);
    let received_at_ms = chrono::Utc::now().timestamp_millis();
    let delivery_id = delivery_id_of(source, &body);
    // The request span's id (the runtime's middleware set a sane one), so the pipeline's lines
    // for this delivery carry the id ingress logged it under.
    let request_id = request_span::of(headers)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    tracing::Span::current().record("delivery_id", delivery_id.as_str());
    let envelope = Envelope {
        installation_id: installation.id,
        client_key: installation.client_key.clone(),
        delivery_id: delivery_id.clone(),
        retry: header(headers, WEBHOOK_RETRY)
            .and_then(|retry| retry.trim().parse().ok())
            .unwrap_or(0),
        source,
        received_at_ms,
        request_id: request_id.clone(),
        payload: body.clone(),
    };
    if let Err(reason) = check_is_event(&body, source) {
        state
            .metrics
            .dead_letters
            .with_label_values(&["not_an_event"])
            .inc();
        if let Err(err) = state.sink.dead_letter(&envelope, &reason).await {
            tracing::error!(error = %err, %request_id, "could not keep an invalid delivery on the dead-letter topic");
        }
        return Err(IngressError::NotAnEvent(reason));
    }
    let started = Instant::now();
    state.sink.send(&envelope).await?;
    state
        .metrics
        .produce_duration
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .last_event
        .with_label_values(&[&installation.id_label])
        .set(received_at_ms / 1000);
    Ok(Accepted { delivery_id })
}

/// What makes a delivery count once, from the verified body alone. Never a header: Atlassian's
/// `X-Atlassian-Webhook-Identifier` is signed by nothing (an HMAC and a Connect JWT cover the body
/// or the URL, not it), so a captured delivery with a new identifier would be a new event each
/// time. A retry resends the same body, so it keeps its id; a replay of the body is the same
/// delivery, stored once. Forge bodies get ids from what names the event
/// (`forge_delivery_id`), as Forge re-wraps them.
fn delivery_id_of(source: Source, body: &[u8]) -> DeliveryId {
    let id = match source {
        Source::Forge => forge_delivery_id::derive(body),
        Source::Connect | Source::WebhookSecret => None,
    }
    .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    DeliveryId::parse(id).expect("a delivery id is never empty")
}

/// A Jira event is a JSON object naming its type: `webhookEvent` for Connect and admin
/// webhooks, `eventType` for Forge (top level, or inside a `payload` wrapper).
fn check_is_event(body: &[u8], source: Source) -> Result<(), String> {
    // Borrowed names and skipped fields: the body is validated without building a tree.
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "webhookEvent", borrow)]
        webhook_event: Option<std::borrow::Cow<'a, str>>,
        #[serde(rename = "eventType", borrow)]
        event_type: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        payload: Option<Box<Probe<'a>>>,
    }
    // JSON is UTF-8, and the pipeline stores payloads as text; serde_json skips the fields the
    // probe ignores without checking their bytes, so this is checked first, for the whole body.
    let body = std::str::from_utf8(body).map_err(|err| format!("not UTF-8: {err}"))?;
    let probe: Probe<'_> =
        serde_json::from_str(body).map_err(|err| format!("not a JSON event: {err}"))?;
    let named =
        |value: &Option<std::borrow::Cow<'_, str>>| value.as_deref().is_some_and(|s| !s.is_empty());
    let ok = match source {
        Source::Forge => {
            named(&probe.event_type)
                || probe
                    .payload
                    .as_ref()
                    .is_some_and(|inner| named(&inner.event_type))
        }
        Source::Connect | Source::WebhookSecret => named(&probe.webhook_event),
    };
    if ok {
        Ok(())
    } else if source == Source::Forge {
        Err("no eventType".to_owned())
    } else {
        Err("no webhookEvent".to_owned())
    }
}

struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_a_json_object_naming_its_type() {
        let cases: &[(&[u8], Source, bool)] = &[
            (
                br#"{"webhookEvent":"jira:issue_created"}"#,
                Source::Connect,
                true,
            ),
            (br#"{"webhookEvent":""}"#, Source::Connect, false),
            (br#"{"issue":{}}"#, Source::WebhookSecret, false),
            (
                br#"{"eventType":"avi:jira:created:issue"}"#,
                Source::Forge,
                true,
            ),
            (
                br#"{"payload":{"eventType":"avi:jira:created:issue"}}"#,
                Source::Forge,
                true,
            ),
            (
                br#"{"webhookEvent":"jira:issue_created"}"#,
                Source::Forge,
                false,
            ),
            (b"not json", Source::Connect, false),
            (b"[1,2]", Source::Connect, false),
            (b"{\"webhookEvent\":\"\xff\"}", Source::Connect, false),
            (
                b"{\"webhookEvent\":\"jira:issue_created\",\"x\":\"\xff\xfe\"}",
                Source::Connect,
                false,
            ),
        ];
        for (body, source, expected) in cases {
            assert_eq!(
                check_is_event(body, *source).is_ok(),
                *expected,
                "{} as {source:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_delivery_id_comes_from_the_body_alone() {
        let body = br#"{"webhookEvent":"jira:issue_created","timestamp":1}"#;
        let id = delivery_id_of(Source::WebhookSecret, body);
        assert_eq!(id, delivery_id_of(Source::WebhookSecret, body), "a replay");
        assert_eq!(id.as_str(), hex::encode(Sha256::digest(body)));
        assert_eq!(id, delivery_id_of(Source::Connect, body));
        let other = br#"{"webhookEvent":"jira:issue_created","timestamp":2}"#;
        assert_ne!(id, delivery_id_of(Source::WebhookSecret, other));
        let forge = br#"{"eventType":"avi:jira:created:issue","issue":{"id":"1"}}"#;
        assert!(
            delivery_id_of(Source::Forge, forge)
                .as_str()
                .starts_with("forge-")
        );
    }

    #[test]
    fn a_delivery_declares_json_or_nothing() {
        let cases: &[(Option<&[u8]>, bool)] = &[
            (None, true),
            (Some(b"application/json"), true),
            (Some(b"Application/JSON; charset=UTF-8"), true),
            (Some(b"application/vnd.atlassian+json"), true),
            (Some(b"text/plain"), false),
            (Some(b"application/x-www-form-urlencoded"), false),
            (Some(b"multipart/form-data; boundary=x"), false),
            (Some(b""), false),
            (Some(b"json"), false),
            (Some(b"\xffapplication/json"), false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(
                    CONTENT_TYPE,
                    axum::http::HeaderValue::from_bytes(value).unwrap(),
                );
            }
            assert_eq!(
                check_content_type(&headers).is_ok(),
                *expected,
                "{:?}",
                value.map(String::from_utf8_lossy)
            );
        }
    }
}
