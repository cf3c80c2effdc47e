//! Jira Data Center admin webhooks: the event POSTed to a per-connection URL, signed with the
//! webhook's secret as `X-Hub-Signature: sha256=<hex hmac>`, under Jira's retry rule.

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::Value;
use sha2::Sha256;

use crate::{
    delivery::{self, Delivery, DeliveryOptions, Outgoing, header_value},
    error::{Result, SimulatorError},
    simulator::Simulator,
    target::Target,
};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";

impl Simulator {
    /// Delivers `payload` to `{target.ingress}/webhooks/{connection_id}`, signed with `secret`.
    pub async fn send_admin_webhook(
        &self,
        target: &Target,
        connection_id: &str,
        secret: &str,
        payload: &Value,
        options: DeliveryOptions,
    ) -> Result<Delivery> {
        let body = serde_json::to_vec(payload).map_err(SimulatorError::Payload)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            header_value(&admin_webhook_signature(secret, &body))?,
        );
        let outgoing = Outgoing {
            url: target.url_for(&format!(
                "/webhooks/{}",
                crate::qsh::percent_encode(connection_id)
            )),
            body: Bytes::from(body),
            headers,
            identify: true,
            authorize: || Ok(None),
            what: "admin webhook",
        };
        delivery::deliver(&self.http, outgoing, &options).await
    }
}

/// `sha256=<lower-case hex of HMAC-SHA256(secret, body)>`, the `X-Hub-Signature` value.
pub fn admin_webhook_signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_openssl() {
        // printf '{"a":1}' | openssl dgst -sha256 -hmac 's3cret'
        assert_eq!(
            admin_webhook_signature("s3cret", br#"{"a":1}"#),
            "sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d"
        );
    }
}
