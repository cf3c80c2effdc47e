//! The Forge admin page's remote calls, as `invokeRemote` makes them: a FIT whose `principal` is
//! the Jira user at the page, that user's token in `x-forge-oauth-user`, and the app's current
//! system token in `x-forge-oauth-system`. The user is a Jira administrator or not, as the
//! permissions endpoint then answers.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ForgeInstall, ForgeInstallation,
    lifecycle::{SYSTEM_TOKEN_HEADER, new_token},
};
use crate::{
    error::{Result, SimulatorError},
    registry::ForgeUiUser,
    simulator::Simulator,
    target::Target,
};

/// The header Forge Remote carries the calling user's token in.
pub const USER_TOKEN_HEADER: &str = "x-forge-oauth-user";

/// A Jira user at the admin page, and the user token Forge hands the app with their calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPageUser {
    pub account_id: String,
    pub user_token: String,
}

/// The app's answer to an admin page call; a body that is not JSON is kept as a JSON string.
#[derive(Debug, Clone, PartialEq)]
pub struct UiAnswer {
    pub status: u16,
    pub body: Value,
}

impl Simulator {
    /// A new user of `installation`, a Jira administrator or not, with a fresh user token.
    pub fn new_admin_page_user(
        &self,
        installation: &ForgeInstallation,
        jira_admin: bool,
    ) -> AdminPageUser {
        let user = AdminPageUser {
            account_id: format!("712020:{}", Uuid::new_v4()),
            user_token: new_token("forge-user"),
        };
        self.registry.upsert_forge_user_token(
            &user.user_token,
            ForgeUiUser {
                installation_id: installation.installation_id.clone(),
                account_id: user.account_id.clone(),
                jira_admin,
            },
        );
        user
    }

    /// The FIT of an admin page call by `user`: `principal` set, the admin page's module.
    pub fn mint_ui_fit(
        &self,
        installation: &ForgeInstallation,
        user: &AdminPageUser,
    ) -> Result<String> {
        self.mint_fit(
            installation,
            &json!({
                "principal": user.account_id,
                "app": { "module": { "type": "jira:adminPage", "key": "metafrazo-admin" } },
            }),
        )
    }

    /// POSTs to `{target.onboarding}{path}` with `Authorization: Bearer <fit>` and the user token,
    /// if any, and answers whatever the app said: for tests that send what Forge never would.
    pub async fn post_forge_ui(
        &self,
        target: &Target,
        path: &str,
        fit: &str,
        user_token: Option<&str>,
    ) -> Result<UiAnswer> {
        self.post_forge_ui_with_tokens(target, path, fit, user_token, None)
            .await
    }

    async fn post_forge_ui_with_tokens(
        &self,
        target: &Target,
        path: &str,
        fit: &str,
        user_token: Option<&str>,
        system_token: Option<&str>,
    ) -> Result<UiAnswer> {
        let url = target.url_for(path);
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {fit}"));
        if let Some(token) = user_token {
            request = request.header(USER_TOKEN_HEADER, token);
        }
        if let Some(token) = system_token {
            request = request.header(SYSTEM_TOKEN_HEADER, token);
        }
        let response = request
            .send()
            .await
            .map_err(|source| SimulatorError::Http {
                doing: "calling the Forge admin page's remote",
                url: url.to_string(),
                source,
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(UiAnswer { status, body })
    }

    /// The admin page calling `path` (`/forge/ui/status`, say) on `install`, as a new user who is
    /// a Jira administrator or not, with the installation's current system token.
    pub async fn forge_ui_call(
        &self,
        target: &Target,
        install: &ForgeInstall,
        path: &str,
        jira_admin: bool,
    ) -> Result<UiAnswer> {
        let user = self.new_admin_page_user(&install.installation, jira_admin);
        let fit = self.mint_ui_fit(&install.installation, &user)?;
        self.post_forge_ui_with_tokens(
            target,
            path,
            &fit,
            Some(&user.user_token),
            Some(&install.system_token),
        )
        .await
    }
}
