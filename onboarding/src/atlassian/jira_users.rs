//! Asks Jira for a user's email address the way a Connect app can: `GET
//! /rest/api/3/user/email?accountId=…` with a JWT whose `iss` is our app key, signed with the
//! installation's shared secret and bound to the request by its qsh. Needs the
//! `ACCESS_EMAIL_ADDRESSES` scope, which the descriptor asks for. A Forge app asks the same API
//! at the installation's `apiBaseUrl` with the app system token as a bearer token. For the Forge
//! admin page's calls it also asks, as the calling user, whether that user administers Jira.

use std::time::Duration;

use atlassian_auth::app_request;
use serde::Deserialize;
use url::Url;

const EMAIL_PATH: &str = "/rest/api/3/user/email";
const PERMISSIONS_PATH: &str = "/rest/api/3/mypermissions";
/// Jira's global permission to administer the site: what the admin page requires.
const ADMINISTER: &str = "ADMINISTER";

#[derive(Debug, thiserror::Error)]
pub enum JiraUsersError {
    #[error("Jira cannot be reached: {0}")]
    Unreachable(String),
    #[error(
        "Jira refused our credentials (HTTP {0}); the secret may be stale or the app's permissions not granted yet"
    )]
    Refused(u16),
    #[error("Jira does not know the installing user")]
    UnknownUser,
    #[error("Jira answered HTTP {0}")]
    Unexpected(u16),
}

/// `GET /rest/api/3/mypermissions`: only the permission asked for is read.
#[derive(Deserialize)]
struct PermissionsAnswer {
    permissions: std::collections::HashMap<String, Permission>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Permission {
    have_permission: bool,
}

#[derive(Clone)]
pub struct JiraUsers {
    http: reqwest::Client,
    app_key: String,
    /// Sends every site's API calls here instead (the local Jira simulator serves all sites on
    /// one address).
    api_base_override: Option<Url>,
}

#[derive(Deserialize)]
struct EmailAnswer {
    email: String,
}

impl JiraUsers {
    pub fn new(app_key: String, api_base_override: Option<Url>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout"),
            app_key,
            api_base_override,
        }
    }

    pub async fn email_of(
        &self,
        site_base_url: &str,
        shared_secret: &[u8],
        account_id: &str,
    ) -> Result<String, JiraUsersError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("accountId", account_id)
            .finish();
        let (url, authorization) =
            self.connect_request(site_base_url, shared_secret, EMAIL_PATH, Some(&query))?;
        self.fetch_email(url, authorization).await
    }

    /// `GET {site}{path}?{query}` as a Connect app signs it: the URL (the site replaced by
    /// `ATLASSIAN_API_BASE_URL` when set) and its `Authorization: JWT …`.
    pub(super) fn connect_request(
        &self,
        site_base_url: &str,
        shared_secret: &[u8],
        path: &str,
        query: Option<&str>,
    ) -> Result<(Url, String), JiraUsersError> {
        let site = Url::parse(site_base_url).map_err(|err| {
            JiraUsersError::Unreachable(format!("the site URL is invalid: {err}"))
        })?;
        let base = self.api_base_override.as_ref().unwrap_or(&site);
        let url = app_request::url_under(base, path, query);
        let authorization =
            app_request::connect_authorization(&self.app_key, shared_secret, "GET", &url, base)
                .map_err(|err| JiraUsersError::Unreachable(err.to_string()))?;
        Ok((url, authorization))
    }

    /// Our app key, as Jira knows the Connect app.
    pub(super) fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The email of `account_id` as a Forge app asks for it: `{api_base_url}/rest/api/3/user/email`
    /// with `Authorization: Bearer <app system token>`. `ATLASSIAN_API_BASE_URL` replaces the API
    /// base, as it replaces the site for Connect.
    pub async fn email_of_forge(
        &self,
        api_base_url: &str,
        system_token: &[u8],
        account_id: &str,
    ) -> Result<String, JiraUsersError> {
        let token = std::str::from_utf8(system_token).map_err(|_| {
            JiraUsersError::Unreachable("the stored system token is not text".to_owned())
        })?;
        let url = self.forge_url(api_base_url, EMAIL_PATH, Some(("accountId", account_id)))?;
        self.fetch_email(url, format!("Bearer {token}")).await
    }

    /// Whether the user whose Forge user token this is administers Jira:
    /// `{api_base_url}/rest/api/3/mypermissions?permissions=ADMINISTER` with `Authorization:
    /// Bearer <user token>`, the base overridden as for [`JiraUsers::email_of_forge`]. Jira
    /// refusing the token (401/403) is an error: the caller decides what an unproven user may do.
    pub async fn administers_jira(
        &self,
        api_base_url: &str,
        user_token: &str,
    ) -> Result<bool, JiraUsersError> {
        let url = self.forge_url(
            api_base_url,
            PERMISSIONS_PATH,
            Some(("permissions", ADMINISTER)),
        )?;
        let answer: PermissionsAnswer = self.get_json(url, format!("Bearer {user_token}")).await?;
        Ok(answer
            .permissions
            .get(ADMINISTER)
            .is_some_and(|permission| permission.have_permission))
    }

    /// `path` under the installation's API base (or the override), with at most one query
    /// parameter.
    pub(super) fn forge_url(
        &self,
        api_base_url: &str,
        path: &str,
        parameter: Option<(&str, &str)>,
    ) -> Result<Url, JiraUsersError> {
        let api = Url::parse(api_base_url).map_err(|err| {
            JiraUsersError::Unreachable(format!("the API base URL is invalid: {err}"))
        })?;
        let mut url = self.api_base_override.as_ref().unwrap_or(&api).clone();
        let path = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(None);
        if let Some((name, value)) = parameter {
            url.query_pairs_mut().append_pair(name, value);
        }
        Ok(url)
    }

    async fn fetch_email(&self, url: Url, authorization: String) -> Result<String, JiraUsersError> {
        self.get_json::<EmailAnswer>(url, authorization)
            .await
            .map(|answer| answer.email)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        authorization: String,
    ) -> Result<T, JiraUsersError> {
        let response = self
            .get(url, authorization)
            .await
            .map_err(|err| JiraUsersError::Unreachable(err.without_url().to_string()))?;
        match response.status().as_u16() {
            200 => response
                .json::<T>()
                .await
                .map_err(|err| JiraUsersError::Unreachable(format!("unreadable answer: {err}"))),
            status @ (401 | 403) => Err(JiraUsersError::Refused(status)),
            404 => Err(JiraUsersError::UnknownUser),
            other => Err(JiraUsersError::Unexpected(other)),
        }
    }

    /// `GET url` with the given `Authorization`, answering JSON.
    pub(super) async fn get(
        &self,
        url: Url,
        authorization: String,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .get(url)
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .send()
            .await
    }
}
