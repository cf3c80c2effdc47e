//! Connect webhooks: the event body POSTed to the app's webhook URL with a Connect JWT (HS256
//! with the installation's shared secret, bound to the request by its qsh), under Jira's retry rule.

use axum::body::Bytes;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::ConnectInstallation;
use crate::{
    delivery::{self, Delivery, DeliveryOptions, Outgoing},
    error::{Result, SimulatorError},
    qsh::connect_qsh,
    simulator::Simulator,
    target::Target,
    time::now_secs,
};

/// Jira signs webhook JWTs for three minutes.
const EVENT_TOKEN_LIFETIME_SECS: u64 = 180;

impl Simulator {
    /// Delivers `payload` as Jira delivers a Connect webhook, with retries.
    pub async fn send_connect_event(
        &self,
        target: &Target,
        installation: &ConnectInstallation,
        payload: &Value,
        options: DeliveryOptions,
    ) -> Result<Delivery> {
        let body = serde_json::to_vec(payload).map_err(SimulatorError::Payload)?;
        self.send_connect_body(target, installation, Bytes::from(body), options)
            .await
    }

    /// Like [`Simulator::send_connect_event`] with the body bytes as given, valid JSON or not.
    pub async fn send_connect_body(
        &self,
        target: &Target,
        installation: &ConnectInstallation,
        body: Bytes,
        options: DeliveryOptions,
    ) -> Result<Delivery> {
        let webhook = installation.webhook_path.as_str();
        let (path, query) = webhook.split_once('?').unwrap_or((webhook, ""));
        let base_path = base_path_of(&installation.app_base_url);
        let qsh = connect_qsh("POST", &format!("{base_path}{path}"), query, &base_path);
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Atlassian-Webhook-Flow",
            HeaderValue::from_static("Primary"),
        );
        let outgoing = Outgoing {
            url: target.url_for(webhook),
            body,
            headers,
            identify: true,
            authorize: || {
                let now = now_secs();
                let claims = json!({
                    "iss": installation.client_key,
                    "qsh": qsh,
                    "iat": now,
                    "exp": now + EVENT_TOKEN_LIFETIME_SECS,
                });
                Ok(Some(format!(
                    "JWT {}",
                    sign_connect_token(installation, &claims)?
                )))
            },
            what: "connect event",
        };
        delivery::deliver(&self.http, outgoing, &options).await
    }
}

/// Any claims, signed HS256 with the installation's shared secret: what Jira sends with webhooks
/// and what an app sends to Jira's REST API. For tests that forge or call as the app.
pub fn sign_connect_token(installation: &ConnectInstallation, claims: &Value) -> Result<String> {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("JWT".into());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(installation.shared_secret.as_bytes()),
    )?)
}

/// The path part of the app's base URL without a trailing slash; empty when it has none.
fn base_path_of(app_base_url: &str) -> String {
    url::Url::parse(app_base_url)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}
