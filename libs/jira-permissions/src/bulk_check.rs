//! Jira's bulk permission check, `POST /rest/api/3/permissions/check`, asked as our app: which
//! of the given projects and issues an account may browse (`BROWSE_PROJECTS`; for an issue,
//! Jira also applies its security level).

use std::{collections::BTreeSet, time::Duration};

use atlassian_auth::app_request;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

const PATH: &str = "/rest/api/3/permissions/check";
const BROWSE: &str = "BROWSE_PROJECTS";
/// Ids per request: Jira's check takes bounded lists, so long ones are asked in parts.
const IDS_PER_REQUEST: usize = 1000;

/// How our app proves itself to one installation's Jira.
pub enum Credentials {
    /// A Connect installation: its base URL and shared secret.
    Connect {
        base_url: Url,
        shared_secret: SecretSlice<u8>,
    },
    /// A Forge installation: its API base and the app system token.
    Forge {
        api_base_url: Url,
        system_token: SecretString,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("Jira cannot be reached: {0}")]
    Unreachable(String),
    #[error("Jira refused our app's credentials (HTTP {0})")]
    Refused(u16),
    #[error("Jira answered HTTP {0}")]
    Unexpected(u16),
    #[error("Jira's answer is not a permission check's: {0}")]
    Malformed(String),
}

/// What Jira granted of what was asked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Granted {
    pub projects: BTreeSet<i64>,
    pub issues: BTreeSet<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    account_id: &'a str,
    project_permissions: [Asked<'a>; 1],
    global_permissions: [&'a str; 0],
}

#[derive(Serialize)]
struct Asked<'a> {
    permissions: [&'a str; 1],
    projects: &'a [i64],
    issues: &'a [i64],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    project_permissions: Vec<Grant>,
}

#[derive(Deserialize)]
struct Grant {
    permission: String,
    #[serde(default)]
    projects: Vec<i64>,
    #[serde(default)]
    issues: Vec<i64>,
}

#[derive(Clone)]
pub struct BulkCheck {
    http: reqwest::Client,
    app_key: String,
    /// Sends every site's calls here instead (the local Jira simulator serves all sites on one
    /// address), as onboarding's `ATLASSIAN_API_BASE_URL`.
    api_base_override: Option<Url>,
}

impl BulkCheck {
    pub fn new(app_key: String, api_base_override: Option<Url>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client with a timeout"),
            app_key,
            api_base_override,
        }
    }

    /// Which of `projects` and `issues` (Jira's ids) `account_id` may browse.
    pub async fn browse(
        &self,
        credentials: &Credentials,
        account_id: &str,
        projects: &[i64],
        issues: &[i64],
    ) -> Result<Granted, CheckError> {
        let mut granted = Granted::default();
        let parts = projects
            .len()
            .max(issues.len())
            .div_ceil(IDS_PER_REQUEST)
            .max(1);
        for part in 0..parts {
            let slice = |ids: &'_ [i64]| {
                let start = (part * IDS_PER_REQUEST).min(ids.len());
                let end = (start + IDS_PER_REQUEST).min(ids.len());
                ids[start..end].to_vec()
            };
            let (projects, issues) = (slice(projects), slice(issues));
            let answer = self
                .ask(credentials, account_id, &projects, &issues)
                .await?;
            for grant in answer
                .project_permissions
                .into_iter()
                .filter(|grant| grant.permission == BROWSE)
            {
                // Only what was asked counts: an answer cannot widen the view.
                granted.projects.extend(
                    grant
                        .projects
                        .into_iter()
                        .filter(|id| projects.contains(id)),
                );
                granted
                    .issues
                    .extend(grant.issues.into_iter().filter(|id| issues.contains(id)));
            }
        }
        Ok(granted)
    }

    async fn ask(
        &self,
        credentials: &Credentials,
        account_id: &str,
        projects: &[i64],
        issues: &[i64],
    ) -> Result<Answer, CheckError> {
        let (url, authorization) = self.request(credentials)?;
        let body = Request {
            account_id,
            project_permissions: [Asked {
                permissions: [BROWSE],
                projects,
                issues,
            }],
            global_permissions: [],
        };
        let response = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .json(&body)
            .send()
            .await
            .map_err(|err| CheckError::Unreachable(err.without_url().to_string()))?;
        let status = response.status();
        match status.as_u16() {
            200 => response
                .json::<Answer>()
                .await
                .map_err(|err| CheckError::Malformed(err.without_url().to_string())),
            401 | 403 => Err(CheckError::Refused(status.as_u16())),
            code => Err(CheckError::Unexpected(code)),
        }
    }

    /// The check's URL under the installation's address (or the override) and its
    /// `Authorization`.
    fn request(&self, credentials: &Credentials) -> Result<(Url, String), CheckError> {
        match credentials {
            Credentials::Connect {
                base_url,
                shared_secret,
            } => {
                let base = self.api_base_override.as_ref().unwrap_or(base_url);
                let url = app_request::url_under(base, PATH, None);
                let authorization = app_request::connect_authorization(
                    &self.app_key,
                    shared_secret.expose_secret(),
                    "POST",
                    &url,
                    base,
                )
                .map_err(|err| CheckError::Unreachable(err.to_string()))?;
                Ok((url, authorization))
            }
            Credentials::Forge {
                api_base_url,
                system_token,
            } => {
                let base = self.api_base_override.as_ref().unwrap_or(api_base_url);
                let url = app_request::url_under(base, PATH, None);
                Ok((url, format!("Bearer {}", system_token.expose_secret())))
            }
        }
    }
}
