//! Linking a member's own Atlassian account: Atlassian's OAuth 2.0 (3LO) authorization code flow
//! with PKCE. The access token is used for two calls, `accessible-resources` (which sites the
//! consent reached, by cloud id) and `/me` (the account id), and then dropped: no refresh token
//! is asked for (no `offline_access`), and nothing of it is stored.
//!
//! Endpoints, as Atlassian documents them: `{auth}/authorize`, `{auth}/oauth/token` (JSON body),
//! `{api}/oauth/token/accessible-resources` and `{api}/me`, with `auth` =
//! `https://auth.atlassian.com` and `api` = `https://api.atlassian.com`; locally both are the
//! Jira simulator.

use std::time::Duration;

use openidconnect::{CsrfToken, PkceCodeChallenge};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

/// What the link asks to read: the account (`/me`) and, for the permission checks of the
/// views, the user's Jira identity on the sites it reaches.
const SCOPES: &str = "read:me read:jira-user";

#[derive(Debug, Clone)]
pub struct AtlassianOAuthConfig {
    pub auth_url: Url,
    pub api_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum AtlassianOAuthError {
    #[error("Atlassian could not be asked: {0}")]
    Unavailable(String),
    /// The code or the client was refused, or a token was not honoured: not retryable.
    #[error("Atlassian refused: {0}")]
    Refused(String),
}

/// A redirect to Atlassian's consent screen and what its callback must bring back.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: String,
}

/// The account that consented and the sites (cloud ids) its consent reached.
#[derive(Debug, Clone)]
pub struct ConsentedAccount {
    pub account_id: String,
    pub cloud_ids: Vec<String>,
}

pub struct AtlassianOAuth {
    config: AtlassianOAuthConfig,
    redirect_uri: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct Resource {
    id: String,
}

#[derive(Deserialize)]
struct Me {
    account_id: String,
}

impl AtlassianOAuth {
    /// The callback's path, under the public base URL.
    pub const CALLBACK_PATH: &'static str = "/auth/atlassian/callback";

    pub fn new(config: AtlassianOAuthConfig, public_base_url: &Url) -> anyhow::Result<Self> {
        let base = public_base_url.as_str().trim_end_matches('/');
        // Never follow redirects: an answer that moves elsewhere is not Atlassian's answer.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config,
            redirect_uri: format!("{base}{}", Self::CALLBACK_PATH),
            http,
        })
    }

    /// The consent screen to send the member to, with a fresh state and PKCE verifier.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let mut url = self.endpoint(&self.config.auth_url, "authorize");
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("scope", SCOPES)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state.secret())
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent")
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", challenge.method().as_str());
        Authorization {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Redeems `code` and asks who consented and which sites the consent reached.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<ConsentedAccount, AtlassianOAuthError> {
        let token: TokenAnswer = self
            .answer(
                self.http
                    .post(self.endpoint(&self.config.auth_url, "oauth/token"))
                    .json(&json!({
                        "grant_type": "authorization_code",
                        "client_id": self.config.client_id,
                        "client_secret": self.config.client_secret.expose_secret(),
                        "code": code,
                        "redirect_uri": self.redirect_uri,
                        "code_verifier": pkce_verifier,
                    })),
            )
            .await?;
        // Kept as a secret from here on: it never reaches a log or a debug print.
        let bearer = SecretString::from(format!("Bearer {}", token.access_token));
        let resources: Vec<Resource> = self
            .answer(
                self.http
                    .get(self.endpoint(&self.config.api_url, "oauth/token/accessible-resources"))
                    .header(reqwest::header::AUTHORIZATION, bearer.expose_secret()),
            )
            .await?;
        let me: Me = self
            .answer(
                self.http
                    .get(self.endpoint(&self.config.api_url, "me"))
                    .header(reqwest::header::AUTHORIZATION, bearer.expose_secret()),
            )
            .await?;
        if me.account_id.is_empty() || me.account_id.len() > 128 {
            return Err(AtlassianOAuthError::Refused(
                "/me gave no usable account id".into(),
            ));
        }
        Ok(ConsentedAccount {
            account_id: me.account_id,
            cloud_ids: resources.into_iter().map(|resource| resource.id).collect(),
        })
    }

    fn endpoint(&self, base: &Url, path: &str) -> Url {
        let mut url = base.clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// The JSON of a 2xx answer; a 4xx is a refusal, anything else Atlassian being unavailable.
    async fn answer<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AtlassianOAuthError> {
        let response = request
            .send()
            .await
            .map_err(|err| AtlassianOAuthError::Unavailable(err.without_url().to_string()))?;
        let status = response.status();
        let url = response.url().path().to_owned();
        if status.is_client_error() {
            return Err(AtlassianOAuthError::Refused(format!(
                "{url} answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(AtlassianOAuthError::Unavailable(format!(
                "{url} answered {status}"
            )));
        }
        response
            .json()
            .await
            .map_err(|err| AtlassianOAuthError::Refused(format!("{url}: {}", err.without_url())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> AtlassianOAuth {
        AtlassianOAuth::new(
            AtlassianOAuthConfig {
                auth_url: "http://127.0.0.1:8090/".parse().unwrap(),
                api_url: "http://127.0.0.1:8090".parse().unwrap(),
                client_id: "metafrazo-local".into(),
                client_secret: SecretString::from("secret"),
            },
            &"https://metafrazo.test/".parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_consent_url_asks_for_a_code_with_pkce_and_no_refresh_token() {
        let authorization = oauth().authorize();
        let url = authorization.url;
        assert_eq!(url.path(), "/authorize");
        let pairs: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["state"], authorization.state);
        assert_eq!(
            pairs["redirect_uri"],
            "https://metafrazo.test/auth/atlassian/callback"
        );
        assert!(!pairs["scope"].contains("offline_access"));
        assert_ne!(pairs["code_challenge"], authorization.pkce_verifier);
        assert_ne!(oauth().authorize().state, authorization.state);
    }
}
