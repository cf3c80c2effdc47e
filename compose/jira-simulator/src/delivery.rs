//! Jira's delivery rule, shared by Connect, Forge and admin webhooks: one identifier per delivery,
//! kept across retries; a retry on 408, 409, 425, 429, 5xx, a timeout or a failed connection, after
//! an exponential backoff; and a record of every attempt, so a test can assert what happened.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Result, SimulatorError};

pub const IDENTIFIER_HEADER: &str = "X-Atlassian-Webhook-Identifier";
pub const RETRY_HEADER: &str = "X-Atlassian-Webhook-Retry";

/// Jira spreads retries over about 30 minutes; doubling from the base delay, capped here, keeps
/// the same shape while a CLI run stays short.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How much of a refusing response's body a `Delivery` keeps, for the error message.
const KEPT_BODY_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Retries after the first attempt (Jira: 5).
    pub max_retries: u32,
    /// How long one attempt may take before it counts as timed out (Jira: 10 s).
    pub timeout: Duration,
    /// The delay before the first retry; it doubles for each further one.
    pub backoff: Duration,
    /// The delivery identifier; `None` mints a fresh one. Set it to replay a delivery on purpose.
    pub identifier: Option<String>,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            max_retries: 5,
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            identifier: None,
        }
    }
}

/// What one attempt got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AttemptResult {
    Status(u16),
    TimedOut,
    ConnectionFailed(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 0 for the first attempt, then the value of the retry header.
    pub retry: u32,
    pub result: AttemptResult,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// A 2xx answer.
    Accepted { status: u16 },
    /// An answer Jira does not retry (a 4xx other than 408/409/425/429, or a 3xx).
    Refused { status: u16 },
    /// Every attempt failed in a retryable way.
    RetriesExhausted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The `X-Atlassian-Webhook-Identifier` sent (Connect and admin webhooks; Forge sends none).
    pub identifier: String,
    /// The lower-case hex SHA-256 of the body sent, the same on every attempt: what a receiver
    /// that trusts only signed content (ours) can know a Connect or admin webhook delivery by.
    pub body_sha256: String,
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
    /// The start of the last answer's body, to explain a refusal.
    pub last_body: String,
}

impl Delivery {
    pub fn is_accepted(&self) -> bool {
        matches!(self.outcome, Outcome::Accepted { .. })
    }

    /// Attempts after the first.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.attempts.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The status of every attempt, `None` where there was no answer.
    pub fn statuses(&self) -> Vec<Option<u16>> {
        self.attempts
            .iter()
            .map(|attempt| match attempt.result {
                AttemptResult::Status(status) => Some(status),
                _ => None,
            })
            .collect()
    }
}

/// One webhook to deliver. `authorize` runs before every attempt, so a short-lived token (a FIT
/// lives 25 s) is fresh on each retry, as Atlassian re-signs each one.
pub(crate) struct Outgoing<'a, F> {
    pub(crate) url: Url,
    pub(crate) body: Bytes,
    pub(crate) headers: HeaderMap,
    /// Whether to send Atlassian's identifier and retry headers.
    pub(crate) identify: bool,
    pub(crate) authorize: F,
    pub(crate) what: &'a str,
}

pub(crate) fn new_identifier() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) async fn deliver<F>(
    http: &reqwest::Client,
    outgoing: Outgoing<'_, F>,
    options: &DeliveryOptions,
) -> Result<Delivery>
where
    F: Fn() -> Result<Option<String>>,
{
    let identifier = options.identifier.clone().unwrap_or_else(new_identifier);
    let body_sha256 = hex::encode(Sha256::digest(&outgoing.body));
    let mut attempts = Vec::new();
    let mut last_body = String::new();
    for retry in 0..=options.max_retries {
        if retry > 0 {
            tokio::time::sleep(backoff(options.backoff, retry)).await;
        }
        let mut request = http
            .post(outgoing.url.clone())
            .headers(outgoing.headers.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .timeout(options.timeout)
            .body(outgoing.body.clone());
        if outgoing.identify {
            request = request.header(IDENTIFIER_HEADER, &identifier);
            if retry > 0 {
                request = request.header(RETRY_HEADER, retry.to_string());
            }
        }
        if let Some(authorization) = (outgoing.authorize)()? {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let started = Instant::now();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Reading the body lets the connection be reused, and explains a refusal.
                let body = response.bytes().await.unwrap_or_default();
                last_body =
                    String::from_utf8_lossy(&body[..body.len().min(KEPT_BODY_BYTES)]).into_owned();
                AttemptResult::Status(status)
            }
            Err(err) if err.is_timeout() => AttemptResult::TimedOut,
            Err(err) => AttemptResult::ConnectionFailed(error_chain(&err)),
        };
        tracing::debug!(what = outgoing.what, %identifier, retry, ?result, "webhook attempt");
        let outcome = match &result {
            AttemptResult::Status(status) if (200..300).contains(status) => {
                Some(Outcome::Accepted { status: *status })
            }
            AttemptResult::Status(status) if !is_retryable(*status) => {
                Some(Outcome::Refused { status: *status })
            }
            _ => None,
        };
        attempts.push(Attempt {
            retry,
            result,
            elapsed: started.elapsed(),
        });
        if let Some(outcome) = outcome {
            return Ok(Delivery {
                identifier,
                body_sha256,
                attempts,
                outcome,
                last_body,
            });
        }
    }
    Ok(Delivery {
        identifier,
        body_sha256,
        attempts,
        outcome: Outcome::RetriesExhausted,
        last_body,
    })
}

/// The statuses Jira Cloud retries (its webhook retry policy).
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || (500..600).contains(&status)
}

fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The header map for fixed headers; a bad value is our bug, reported as a signing failure.
pub(crate) fn header_value(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|err| SimulatorError::Header(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_retries_throttling_conflicts_timeouts_and_server_errors_only() {
        for status in [408, 409, 425, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable(status), "{status} is retried");
        }
        for status in [200, 202, 301, 400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable(status), "{status} is final");
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(1);
        let delays: Vec<_> = (1..=8)
            .map(|retry| backoff(base, retry).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
