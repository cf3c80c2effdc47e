//! Forge product events delivered to the app's remote endpoint: the Forge-shaped body with a FIT
//! as bearer token, under the same retry rule as Connect webhooks.

use axum::body::Bytes;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::ForgeInstallation;
use crate::{
    delivery::{self, Delivery, DeliveryOptions, Outgoing},
    error::{Result, SimulatorError},
    simulator::Simulator,
    target::Target,
};

/// Where the app's Forge remote receives events.
pub const FORGE_EVENTS_PATH: &str = "/forge/events";

impl Simulator {
    /// Delivers `payload` to `{target.ingress}/forge/events` with `Authorization: Bearer <FIT>`,
    /// a FIT minted afresh for every attempt. Forge sends no webhook identifier, so none is
    /// sent: the receiver must recognise a retry by its content.
    pub async fn send_forge_event(
        &self,
        target: &Target,
        installation: &ForgeInstallation,
        payload: &Value,
        options: DeliveryOptions,
    ) -> Result<Delivery> {
        let body = serde_json::to_vec(payload).map_err(SimulatorError::Payload)?;
        let outgoing = Outgoing {
            url: target.url_for(FORGE_EVENTS_PATH),
            body: Bytes::from(body),
            headers: HeaderMap::new(),
            identify: false,
            authorize: || {
                Ok(Some(format!(
                    "Bearer {}",
                    self.mint_fit(installation, &json!({}))?
                )))
            },
            what: "forge event",
        };
        delivery::deliver(&self.http, outgoing, &options).await
    }
}
