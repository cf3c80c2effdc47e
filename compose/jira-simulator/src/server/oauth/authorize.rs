//! `GET /authorize` shows the consent page; `POST /authorize` is the member's answer, which sends
//! the browser back to the app with a code (Accept) or `error=access_denied` (Cancel). A client
//! or redirect URI that is not registered gets a page saying so and no redirect, as real
//! authorization servers do: redirecting to a URI nobody vouched for would hand it the answer.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use url::Url;
use uuid::Uuid;

use super::{FormFields, consent_page};
use crate::{
    oauth::{Consent, LinkedAccount, Site, allowed_redirect_uri, is_registered_client},
    server::ServerState,
    time::now_secs,
};

/// What the app reads when the member pressed Cancel.
const DENIED_DESCRIPTION: &str = "The user did not authorize the app";

/// The app's authorization request, checked: the registered client, one of its redirect URIs,
/// the code flow, and an S256 PKCE challenge.
pub(super) struct AuthorizationRequest {
    pub(super) audience: String,
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) redirect_uri: String,
    pub(super) state: String,
    pub(super) response_type: String,
    pub(super) prompt: String,
    pub(super) code_challenge: String,
    pub(super) code_challenge_method: String,
    /// `redirect_uri`, parsed: where the answer goes.
    callback: Url,
}

impl AuthorizationRequest {
    fn parse(fields: &FormFields) -> Result<Self, AuthorizeError> {
        let client_id = fields.first("client_id");
        if !is_registered_client(client_id) {
            return Err(AuthorizeError::UnknownClient(client_id.to_owned()));
        }
        let redirect_uri = fields.first("redirect_uri");
        let callback = allowed_redirect_uri(redirect_uri)
            .ok_or_else(|| AuthorizeError::RedirectUriNotAllowed(redirect_uri.to_owned()))?;
        if fields.first("response_type") != "code" {
            return Err(AuthorizeError::UnsupportedResponseType);
        }
        if fields.first("code_challenge_method") != "S256" {
            return Err(AuthorizeError::UnsupportedChallengeMethod);
        }
        if fields.first("code_challenge").is_empty() {
            return Err(AuthorizeError::MissingCodeChallenge);
        }
        Ok(Self {
            audience: fields.first("audience").to_owned(),
            client_id: client_id.to_owned(),
            scope: fields.first("scope").to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state: fields.first("state").to_owned(),
            response_type: fields.first("response_type").to_owned(),
            prompt: fields.first("prompt").to_owned(),
            code_challenge: fields.first("code_challenge").to_owned(),
            code_challenge_method: fields.first("code_challenge_method").to_owned(),
            callback,
        })
    }

    /// Every parameter of the request, as the consent form carries it to the answer.
    pub(super) fn parameters(&self) -> [(&'static str, &str); 9] {
        [
            ("audience", &self.audience),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("response_type", &self.response_type),
            ("prompt", &self.prompt),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
        ]
    }

    /// Sends the browser back to the app with `answer` and the app's `state`.
    fn redirect(&self, answer: &[(&str, &str)]) -> Response {
        let mut location = self.callback.clone();
        location
            .query_pairs_mut()
            .extend_pairs(answer)
            .append_pair("state", &self.state);
        (
            StatusCode::FOUND,
            [(header::LOCATION, location.to_string())],
        )
            .into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub(in crate::server) enum AuthorizeError {
    #[error("client_id {0:?} is not a registered client")]
    UnknownClient(String),
    #[error("redirect_uri {0:?} is not registered for this client")]
    RedirectUriNotAllowed(String),
    #[error("response_type must be \"code\"")]
    UnsupportedResponseType,
    #[error("code_challenge_method must be \"S256\"")]
    UnsupportedChallengeMethod,
    #[error("code_challenge is required")]
    MissingCodeChallenge,
    #[error("decision must be \"allow\" or \"deny\"")]
    UnknownDecision,
    #[error("an account id and an email are needed to accept")]
    MissingAccount,
}

impl IntoResponse for AuthorizeError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Html(consent_page::error_page(&self.to_string())),
        )
            .into_response()
    }
}

pub(in crate::server) async fn show_consent(
    State(state): State<ServerState>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, AuthorizeError> {
    let request =
        AuthorizationRequest::parse(&FormFields::parse(query.unwrap_or_default().as_bytes()))?;
    // A fresh account each time, so parallel tests never link the same one by accident.
    let account = LinkedAccount {
        account_id: format!("712020:{}", Uuid::new_v4()),
        email: format!(
            "jira-user-{}@example.test",
            &Uuid::new_v4().simple().to_string()[..8]
        ),
    };
    let sites = hosted_sites(&state).await;
    Ok(Html(consent_page::render(&request, &account, &sites)))
}

pub(in crate::server) async fn decide(
    State(state): State<ServerState>,
    body: Bytes,
) -> Result<Response, AuthorizeError> {
    let form = FormFields::parse(&body);
    // The form is the browser's to alter: check the request it carries again.
    let request = AuthorizationRequest::parse(&form)?;
    match form.first("decision") {
        "deny" => Ok(request.redirect(&[
            ("error", "access_denied"),
            ("error_description", DENIED_DESCRIPTION),
        ])),
        "allow" => {
            let account = LinkedAccount {
                account_id: form.first("account_id").trim().to_owned(),
                email: form.first("email").trim().to_owned(),
            };
            if account.account_id.is_empty() || account.email.is_empty() {
                return Err(AuthorizeError::MissingAccount);
            }
            let sites = granted_sites(&form, &hosted_sites(&state).await);
            tracing::debug!(account = %account.account_id, sites = sites.len(), "3LO consent");
            let code = state.oauth.issue_code(
                Consent {
                    client_id: request.client_id.clone(),
                    redirect_uri: request.redirect_uri.clone(),
                    code_challenge: request.code_challenge.clone(),
                    scope: request.scope.clone(),
                    account,
                    sites,
                },
                now_secs(),
            );
            Ok(request.redirect(&[("code", code.as_str())]))
        }
        _ => Err(AuthorizeError::UnknownDecision),
    }
}

/// The sites the app is installed on, which the consent page offers.
async fn hosted_sites(state: &ServerState) -> Vec<Site> {
    // May read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    tokio::task::spawn_blocking(move || registry.sites())
        .await
        .unwrap_or_default()
}

/// The checked sites, then the one typed in, each once; a cloud id the simulator does not host
/// is a site elsewhere.
fn granted_sites(form: &FormFields, hosted: &[Site]) -> Vec<Site> {
    let mut sites: Vec<Site> = Vec::new();
    for cloud_id in form
        .all("cloud_id")
        .chain([form.first("other_cloud_id")])
        .map(str::trim)
        .filter(|cloud_id| !cloud_id.is_empty())
    {
        if sites.iter().any(|site| site.cloud_id == cloud_id) {
            continue;
        }
        let site = hosted
            .iter()
            .find(|site| site.cloud_id == cloud_id)
            .cloned()
            .unwrap_or_else(|| Site::unhosted(cloud_id));
        sites.push(site);
    }
    sites
}
