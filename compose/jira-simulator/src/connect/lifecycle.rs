//! Installing, upgrading and uninstalling a Connect app the way Jira Cloud does: read the
//! descriptor, then POST the lifecycle body to the app, signed RS256 with the install key.

use rand::RngCore;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ConnectInstallation, WorkspaceSpec,
    descriptor::{self, AppDescriptor},
};
use crate::{
    announce::Announcement,
    error::{Result, SimulatorError},
    qsh::connect_qsh,
    simulator::Simulator,
    target::Target,
    time::now_secs,
};

/// Atlassian signs lifecycle callbacks for three minutes.
const INSTALL_TOKEN_LIFETIME_SECS: u64 = 180;
/// How much of a refusing answer an error message quotes.
const QUOTED_BODY_CHARS: usize = 500;

#[derive(Debug, Clone, Copy)]
enum LifecycleEvent {
    Installed,
    Uninstalled,
}

impl LifecycleEvent {
    fn name(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Uninstalled => "uninstalled",
        }
    }
}

impl Simulator {
    /// Installs the app described at `{target.onboarding}/atlassian-connect.json` on a new site:
    /// fresh client key, shared secret, cloud id, installation ARI and installer, delivered to
    /// the app's `lifecycle.installed` callback. The simulator remembers the installation, so its
    /// email endpoint answers for the installer.
    pub async fn install_connect(
        &self,
        target: &Target,
        workspace: &WorkspaceSpec,
    ) -> Result<ConnectInstallation> {
        let descriptor = descriptor::fetch(&self.http, target).await?;
        let installation = ConnectInstallation {
            app_key: descriptor.key.clone(),
            client_key: Uuid::new_v4().to_string(),
            shared_secret: new_shared_secret(),
            site_base_url: workspace.site_base_url(),
            cloud_id: Uuid::new_v4().to_string(),
            installation_id: format!("ari:cloud:ecosystem::installation/{}", Uuid::new_v4()),
            installer_account_id: format!("712020:{}", Uuid::new_v4()),
            installer_email: workspace.installer_email(),
            app_base_url: descriptor.base_url_as_declared.clone(),
            webhook_path: descriptor.webhook_path.clone(),
        };
        // Jira knows the site before it calls the app, which may look the installer up at once.
        self.announce(Announcement::Connect(installation.clone()), false)
            .await?;
        self.post_lifecycle(
            target,
            &descriptor,
            &installation,
            LifecycleEvent::Installed,
        )
        .await?;
        self.registry.upsert(&installation);
        Ok(installation)
    }

    /// Installs again on the same site, as an upgrade or a reinstall does: same client key, a new
    /// shared secret.
    pub async fn reinstall_connect(
        &self,
        target: &Target,
        existing: &ConnectInstallation,
    ) -> Result<ConnectInstallation> {
        let descriptor = descriptor::fetch(&self.http, target).await?;
        let installation = ConnectInstallation {
            app_key: descriptor.key.clone(),
            shared_secret: new_shared_secret(),
            app_base_url: descriptor.base_url_as_declared.clone(),
            webhook_path: descriptor.webhook_path.clone(),
            ..existing.clone()
        };
        self.announce(Announcement::Connect(installation.clone()), false)
            .await?;
        self.post_lifecycle(
            target,
            &descriptor,
            &installation,
            LifecycleEvent::Installed,
        )
        .await?;
        self.registry.upsert(&installation);
        Ok(installation)
    }

    /// Uninstalls: the `uninstalled` callback, signed like the install.
    pub async fn uninstall_connect(
        &self,
        target: &Target,
        existing: &ConnectInstallation,
    ) -> Result<()> {
        let descriptor = descriptor::fetch(&self.http, target).await?;
        self.post_lifecycle(target, &descriptor, existing, LifecycleEvent::Uninstalled)
            .await?;
        self.registry.remove(&existing.client_key);
        self.announce(Announcement::Connect(existing.clone()), true)
            .await?;
        Ok(())
    }

    /// Jira loses the installation without telling the app (an uninstall whose callback never
    /// arrived): the app's "am I installed?" call answers 404 from now on, and its JWTs are no
    /// longer answered for the installer's email.
    pub async fn forget_connect_installation(&self, existing: &ConnectInstallation) -> Result<()> {
        self.registry.remove(&existing.client_key);
        self.announce(Announcement::Connect(existing.clone()), true)
            .await
    }

    /// Any claims, signed RS256 with the simulator's key and its `kid` in the header: for tests
    /// that forge install callbacks Jira would never send.
    pub fn sign_install_token(&self, claims: &Value) -> Result<String> {
        Ok(self.key.sign(claims)?)
    }

    async fn post_lifecycle(
        &self,
        target: &Target,
        descriptor: &AppDescriptor,
        installation: &ConnectInstallation,
        event: LifecycleEvent,
    ) -> Result<()> {
        let relative = match event {
            LifecycleEvent::Installed => &descriptor.installed_path,
            LifecycleEvent::Uninstalled => &descriptor.uninstalled_path,
        };
        let (path, query) = relative.split_once('?').unwrap_or((relative, ""));
        // The qsh covers the path under the app's public base URL, wherever the request lands locally.
        let public_path = format!("{}{path}", descriptor.base_path());
        let now = now_secs();
        let claims = json!({
            "iss": installation.client_key,
            "sub": installation.installer_account_id,
            "aud": [descriptor.base_url_as_declared],
            "qsh": connect_qsh("POST", &public_path, query, descriptor.base_path()),
            "iat": now,
            "exp": now + INSTALL_TOKEN_LIFETIME_SECS,
            // Two callbacks in one second (an install, then a quick reinstall) would otherwise
            // carry identical tokens, and the app rightly refuses a token it has seen.
            "jti": Uuid::new_v4().to_string(),
        });
        let token = self.sign_install_token(&claims)?;
        let url = target.url_for(relative);
        let response = self
            .http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("JWT {token}"))
            .json(&lifecycle_body(installation, event))
            .send()
            .await
            .map_err(|source| SimulatorError::Http {
                doing: "calling the lifecycle callback",
                url: url.to_string(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(event = event.name(), client_key = %installation.client_key, %url, "lifecycle callback accepted");
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(SimulatorError::LifecycleRefused {
            event: event.name(),
            url: url.to_string(),
            status: status.as_u16(),
            body: body.chars().take(QUOTED_BODY_CHARS).collect(),
        })
    }
}

/// The body Jira posts to lifecycle callbacks (the shape of `fixtures/jira/lifecycle_installed.json`).
fn lifecycle_body(installation: &ConnectInstallation, event: LifecycleEvent) -> Value {
    json!({
        "key": installation.app_key,
        "clientKey": installation.client_key,
        "sharedSecret": installation.shared_secret,
        "serverVersion": "100289",
        "pluginsVersion": "1001.0.0-SNAPSHOT",
        "baseUrl": installation.site_base_url,
        "displayUrl": installation.site_base_url,
        "productType": "jira",
        "description": format!("Atlassian JIRA at {} ", installation.site_base_url),
        "eventType": event.name(),
        "cloudId": installation.cloud_id,
        "installationId": installation.installation_id,
    })
}

/// 32 random bytes as unpadded base64url: 43 URL-safe characters, like Atlassian's secrets.
fn new_shared_secret() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_secrets_are_43_url_safe_characters_and_never_repeat() {
        let (first, second) = (new_shared_secret(), new_shared_secret());
        assert_eq!(first.len(), 43);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{first}"
        );
        assert_ne!(first, second);
    }
}
