//! Installing and uninstalling the Forge app the way Forge Remote calls an app's backend: the
//! lifecycle body (shape of `fixtures/forge/lifecycle_installed.json`) POSTed to the remote's
//! `/forge/lifecycle` with a fresh FIT and the app system token in `x-forge-oauth-system`.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::ForgeInstallation;
use crate::{
    announce::Announcement,
    error::{Result, SimulatorError},
    registry::{ForgeUiUser, ForgeUser},
    simulator::Simulator,
    target::Target,
};

/// Where the app's Forge remote receives lifecycle events.
pub const FORGE_LIFECYCLE_PATH: &str = "/forge/lifecycle";
/// The header Forge Remote carries the app system token in.
pub const SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";
pub const INSTALLED_EVENT: &str = "avi:forge:installed:app";
pub const UPGRADED_EVENT: &str = "avi:forge:upgraded:app";
/// What the `preUninstall` module receives.
pub const UNINSTALLED_EVENT: &str = "avi:forge:uninstalled:app";
/// How much of a refusing answer an error message quotes.
const QUOTED_BODY_CHARS: usize = 500;

/// Who installed a Forge installation, and the tokens Forge handed the remote: the user-email
/// endpoint answers a bearer of the app system token with the installer's address, and the
/// permissions endpoint answers the installer's user token as a Jira administrator's (whoever
/// installs an app is one). Flat in the installations file, so a tool reads it as it reads a FIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeInstall {
    #[serde(flatten)]
    pub installation: ForgeInstallation,
    pub installer_account_id: String,
    pub installer_email: String,
    pub system_token: String,
    /// What Forge sends in `x-forge-oauth-user` when the installer opens the admin page.
    pub installer_user_token: String,
}

/// The app's answer to a lifecycle call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAnswer {
    pub status: u16,
    pub body: String,
}

impl Simulator {
    /// Installs the Forge app for `installation`: the `installed` lifecycle call to
    /// `{target.onboarding}/forge/lifecycle`. Remembers the system token, so the user-email
    /// endpoint answers its bearer with `installer_email`.
    pub async fn install_forge(
        &self,
        target: &Target,
        installation: &ForgeInstallation,
        installer_email: &str,
    ) -> Result<ForgeInstall> {
        let install = ForgeInstall {
            installation: installation.clone(),
            installer_account_id: format!("712020:{}", Uuid::new_v4()),
            installer_email: installer_email.to_owned(),
            system_token: new_token("forge-system"),
            installer_user_token: new_token("forge-user"),
        };
        // Known before the call: the app may look the installer up before it answers.
        self.registry
            .upsert_forge(&install.system_token, ForgeUser::installer_of(&install));
        self.registry.upsert_forge_user_token(
            &install.installer_user_token,
            ForgeUiUser::installer_of(&install),
        );
        self.announce(Announcement::Forge(install.clone()), false)
            .await?;
        let body = self.forge_lifecycle_body(
            installation,
            INSTALLED_EVENT,
            Some(&install.installer_account_id),
        );
        let fit = self.mint_fit(installation, &json!({}))?;
        let answer = self
            .post_forge_lifecycle(target, &body, &fit, Some(&install.system_token))
            .await?;
        expect_success("forge installed", target, answer)?;
        Ok(install)
    }

    /// The next `lookups` user-email calls made with a Forge system token answer 401, as Jira
    /// does while a fresh install's permissions propagate (Atlassian warns: minutes).
    pub fn lag_forge_permissions(&self, lookups: u32) {
        self.registry.refuse_forge_lookups(lookups);
    }

    /// Forge's system tokens are short-lived: this one stops working, and the installation's
    /// next calls to the app carry a fresh one (now in `install.system_token`).
    pub fn expire_forge_system_token(&self, install: &mut ForgeInstall) {
        self.registry
            .forget_forge_system_token(&install.system_token);
        install.system_token = new_token("forge-system");
        self.registry
            .upsert_forge(&install.system_token, ForgeUser::installer_of(install));
    }

    /// Uninstalls: the `preUninstall` call. The system token and the installer's user token stop
    /// working.
    pub async fn uninstall_forge(&self, target: &Target, install: &ForgeInstall) -> Result<()> {
        let body = self.forge_lifecycle_body(&install.installation, UNINSTALLED_EVENT, None);
        let fit = self.mint_fit(&install.installation, &json!({}))?;
        let answer = self
            .post_forge_lifecycle(target, &body, &fit, Some(&install.system_token))
            .await?;
        expect_success("forge preUninstall", target, answer)?;
        self.registry.remove_forge(install);
        self.announce(Announcement::Forge(install.clone()), true)
            .await?;
        Ok(())
    }

    /// Jira uninstalls the app without the `preUninstall` call reaching it (Forge does not retry
    /// it): the installation's system token and installer's user token stop working, so Jira
    /// answers 401 to them.
    pub async fn forget_forge_installation(&self, install: &ForgeInstall) -> Result<()> {
        self.registry.remove_forge(install);
        self.announce(Announcement::Forge(install.clone()), true)
            .await
    }

    /// The lifecycle body Forge sends for `event_type` (`avi:forge:...`).
    pub fn forge_lifecycle_body(
        &self,
        installation: &ForgeInstallation,
        event_type: &str,
        installer_account_id: Option<&str>,
    ) -> Value {
        let last = |ari: &str| ari.rsplit('/').next().unwrap_or(ari).to_owned();
        let mut body = json!({
            "eventType": event_type,
            "id": last(&installation.installation_id),
            "app": {
                "id": last(&self.forge.app_ari),
                "version": self.forge.app_version,
                "name": "MetaFrazo",
            },
            "environment": { "id": last(&self.forge.environment_ari) },
        });
        if let (Some(account), Value::Object(fields)) = (installer_account_id, &mut body) {
            fields.insert("installerAccountId".to_owned(), json!(account));
        }
        body
    }

    /// POSTs `body` to `{target.onboarding}/forge/lifecycle` with `Authorization: Bearer <fit>`
    /// (and the system token, if any) and answers whatever the app said: for tests that send
    /// what Forge never would.
    pub async fn post_forge_lifecycle(
        &self,
        target: &Target,
        body: &Value,
        fit: &str,
        system_token: Option<&str>,
    ) -> Result<LifecycleAnswer> {
        let url = target.url_for(FORGE_LIFECYCLE_PATH);
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {fit}"))
            .json(body);
        if let Some(token) = system_token {
            request = request.header(SYSTEM_TOKEN_HEADER, token);
        }
        let response = request
            .send()
            .await
            .map_err(|source| SimulatorError::Http {
                doing: "calling the Forge lifecycle endpoint",
                url: url.to_string(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(LifecycleAnswer { status, body })
    }
}

fn expect_success(event: &'static str, target: &Target, answer: LifecycleAnswer) -> Result<()> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    Err(SimulatorError::LifecycleRefused {
        event,
        url: target.url_for(FORGE_LIFECYCLE_PATH).to_string(),
        status: answer.status,
        body: answer.body.chars().take(QUOTED_BODY_CHARS).collect(),
    })
}

/// An opaque bearer token, as Forge's tokens look to the remote.
pub(super) fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}
