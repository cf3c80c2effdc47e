//! Webhooks a Jira admin registered by hand: `X-Hub-Signature: sha256=<hex>` is the
//! HMAC-SHA256 of the body with the connection's secret, compared in constant time; then the
//! signed body's timestamp must be within the replay window, as the HMAC alone never expires.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use super::{Refused, replay_window::ReplayWindow};
use contracts::Source;

use crate::installations::{Installation, Installations};

pub fn verify(
    installations: &Installations,
    connection: &str,
    signature: Option<&str>,
    body: &[u8],
    window: &ReplayWindow,
    now_ms: i64,
) -> Result<Arc<Installation>, Refused> {
    let installation = installations
        .get(connection)
        .filter(|installation| installation.source == Source::WebhookSecret)
        .ok_or(Refused::UnknownInstallation)?;
    if !installation.installed {
        return Err(Refused::Uninstalled);
    }
    let signature = signature
        .and_then(|value| value.trim().strip_prefix("sha256="))
        .ok_or(Refused::MissingSignature)?;
    let expected = hex::decode(signature).map_err(|_| Refused::BadSignature)?;
    let secret = installation
        .secret
        .as_ref()
        .ok_or(Refused::UnknownInstallation)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose_secret()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| Refused::BadSignature)?;
    // Only after the signature: an unsigned body's timestamp says nothing.
    window.check(body, now_ms)?;
    Ok(installation)
}
