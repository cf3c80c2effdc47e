//! Minting Forge Invocation Tokens: RS256 with the key published in the simulator's Forge JWKS,
//! claims shaped like `fixtures/forge/fit_claims.json`.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ForgeInstallation;
use crate::{
    error::{Result, SimulatorError},
    simulator::Simulator,
    time::now_secs,
};

/// Forge gives invocation tokens about 25 seconds.
const FIT_LIFETIME_SECS: u64 = 25;

impl Simulator {
    /// A FIT for an invocation on `installation`, fresh `jti`, valid from now for 25 s.
    /// `overrides` is merged over the claims as a JSON merge patch (RFC 7386): nested objects
    /// merge, `null` removes a claim, so a test can set any claim, however deep, or drop it.
    /// Pass `&json!({})` for none.
    pub fn mint_fit(&self, installation: &ForgeInstallation, overrides: &Value) -> Result<String> {
        if !overrides.is_object() {
            return Err(SimulatorError::ClaimsOverride(overrides.to_string()));
        }
        let now = now_secs();
        let app = &self.forge;
        let mut claims = json!({
            "iss": "forge/invocation-token",
            "aud": app.app_ari,
            "iat": now,
            "nbf": now,
            "exp": now + FIT_LIFETIME_SECS,
            "jti": Uuid::new_v4().to_string(),
            "app": {
                "id": app.app_ari,
                "installationId": installation.installation_id,
                "apiBaseUrl": installation.api_base_url,
                "appVersion": app.app_version,
                "environment": { "type": app.environment_type, "id": app.environment_ari },
                "module": { "type": "core:endpoint", "key": app.module_key },
            },
            "context": {
                "cloudId": installation.cloud_id,
                "siteUrl": installation.site_url,
            },
        });
        merge_patch(&mut claims, overrides);
        Ok(self.key.sign(&claims)?)
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_sets_nested_claims_and_removes_nulls() {
        let mut claims =
            json!({ "iss": "a", "app": { "id": "x", "installationId": "i" }, "jti": "j" });
        merge_patch(
            &mut claims,
            &json!({ "app": { "installationId": "other" }, "jti": null, "new": 1 }),
        );
        assert_eq!(
            claims,
            json!({ "iss": "a", "app": { "id": "x", "installationId": "other" }, "new": 1 })
        );
    }
}
