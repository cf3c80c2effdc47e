//! `/forge/ui/{status,link,resend}`: what the Forge admin page (`forge/src/admin/index.jsx`)
//! calls through `invokeRemote`. Forge signs each call with a FIT naming the user (`principal`)
//! and passes that user's token in `x-forge-oauth-user`; we ask Jira, as that user, whether they
//! administer Jira before answering anything about the workspace.

use std::time::{SystemTime, UNIX_EPOCH};

use atlassian_auth::forge_fit::FitError;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
    response::{IntoResponse, Response},
};
use serde_json::json;
use service_runtime::http_metrics::Refusal;

use super::{
    admin_page::last_event_text,
    forge_lifecycle::{encrypted_system_token, first_use_of_fit},
    jira_users::JiraUsersError,
};
use crate::AppState;
use accounts_store::{
    installations::{self, ForgeView},
    outbox, setup_links,
};

pub const FORGE_UI_PATH: &str = "/forge/ui";
/// The header Forge Remote carries the calling user's token in (`auth.appUserToken`).
const USER_TOKEN_HEADER: &str = "x-forge-oauth-user";

/// Why an admin page call was refused; [`IntoResponse`] is the one place that picks the status.
#[derive(Debug, thiserror::Error)]
pub enum ForgeUiError {
    #[error(transparent)]
    Fit(#[from] FitError),
    #[error("this invocation token was already used")]
    Replayed,
    #[error("the token names no Forge installation of MetaFrazo")]
    UnknownInstallation,
    #[error("the call carries no user (no principal or no user token)")]
    NoUser,
    #[error("only a Jira administrator can use this page")]
    NotJiraAdmin,
    #[error("MetaFrazo is not installed on this workspace")]
    NotInstalled,
    #[error("a setup email was sent less than a minute ago; wait a minute before sending another")]
    TooSoon,
    #[error("Jira cannot be asked whether the user is an administrator: {0}")]
    JiraUnreachable(String),
    #[error("the installation store is unavailable")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the installation store is unavailable")]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl ForgeUiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Fit(err) => err.code(),
            Self::Replayed => "replayed",
            Self::UnknownInstallation => "unknown_installation",
            Self::NoUser => "no_user",
            Self::NotJiraAdmin => "not_jira_admin",
            Self::NotInstalled => "not_installed",
            Self::TooSoon => "too_soon",
            Self::JiraUnreachable(_) => "jira_unreachable",
            Self::Postgres(_) | Self::Pool(_) => "store_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Fit(FitError::KeysUnavailable(_))
            | Self::JiraUnreachable(_)
            | Self::Postgres(_)
            | Self::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Fit(_) | Self::Replayed | Self::UnknownInstallation | Self::NoUser => {
                StatusCode::UNAUTHORIZED
            }
            Self::NotJiraAdmin => StatusCode::FORBIDDEN,
            Self::NotInstalled => StatusCode::CONFLICT,
            Self::TooSoon => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

impl IntoResponse for ForgeUiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // Our trouble or Jira's: say what the user can do, not the internals.
            Self::Fit(FitError::KeysUnavailable(_))
            | Self::JiraUnreachable(_)
            | Self::Postgres(_)
            | Self::Pool(_) => "temporarily unavailable; try again in a minute".to_owned(),
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({"error": self.code(), "message": message})),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(Refusal::of(self.code(), &self));
        let retry_after = match status {
            StatusCode::SERVICE_UNAVAILABLE => Some(10),
            StatusCode::TOO_MANY_REQUESTS => Some(outbox::SETUP_RESEND_INTERVAL.as_secs()),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// Checks the FIT, that it names a known Forge installation and is used once, and that its user
/// administers Jira; answers the installation.
async fn jira_admin_call(state: &AppState, headers: &HeaderMap) -> Result<ForgeView, ForgeUiError> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let claims = state.forge_fit.verify(authorization, now).await?;
    let user_token = headers
        .get(USER_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let principal = claims
        .principal
        .as_deref()
        .filter(|principal| !principal.is_empty());
    let (Some(user_token), Some(principal)) = (user_token, principal) else {
        return Err(ForgeUiError::NoUser);
    };
    let client = state.postgres.get().await?;
    let installation = installations::forge_view(&client, &claims.app.installation_id)
        .await?
        .ok_or(ForgeUiError::UnknownInstallation)?;
    if !first_use_of_fit(&client, &claims, authorization).await? {
        return Err(ForgeUiError::Replayed);
    }
    // The install's system token has long expired by the time an admin re-sends the setup
    // email; the page's calls carry a live one.
    if let Some(token) = encrypted_system_token(headers, &state.cipher) {
        installations::refresh_forge_system_token(&client, &installation.client_key, &token)
            .await?;
    }
    drop(client);
    let api_base_url = claims
        .app
        .api_base_url
        .as_deref()
        .or(installation.api_base_url.as_deref())
        .ok_or_else(|| ForgeUiError::JiraUnreachable("no apiBaseUrl is known".to_owned()))?;
    match state.jira.administers_jira(api_base_url, user_token).await {
        Ok(true) => Ok(installation),
        // Jira refusing the user's own token proves nothing about them either.
        Ok(false) | Err(JiraUsersError::Refused(_)) => {
            tracing::info!(
                installation_id = %installation.client_key,
                principal,
                "forge admin page refused a user who is not a Jira admin"
            );
            Err(ForgeUiError::NotJiraAdmin)
        }
        Err(err) => Err(ForgeUiError::JiraUnreachable(err.to_string())),
    }
}

/// `GET`/`POST /forge/ui/status`: connected or not, to which organization, the last event's time.
pub(crate) async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ForgeUiError> {
    let installation = jira_admin_call(&state, &headers).await?;
    let last_event_at = last_event_text(&state, installation.id).await;
    let (organization_id, organization) = installation.organization.unzip();
    Ok(Json(json!({
        "connected": organization_id.is_some(),
        "organization": organization,
        "organization_id": organization_id.map(|id| id.to_string()),
        "last_event_at": last_event_at,
        "state": installation.state,
    })))
}

/// `POST /forge/ui/link`: a fresh one-time setup link (revoking older ones), or the
/// organization's dashboards once the workspace is connected.
pub(crate) async fn link(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ForgeUiError> {
    let installation = jira_admin_call(&state, &headers).await?;
    if installation.state != installations::State::Installed.as_str() {
        return Err(ForgeUiError::NotInstalled);
    }
    if let Some((organization, _)) = installation.organization {
        let url = state.accounts.organization_dashboards(organization);
        return Ok(Json(json!({ "url": url })));
    }
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let token = setup_links::hand_over(
        &transaction,
        installation.id.into(),
        state.accounts.setup_link_ttl,
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(installation_id = %installation.client_key, "setup link minted from the Forge admin page");
    let url = format!("{}/setup/{}", state.atlassian.base_url(), token.text);
    Ok(Json(json!({ "url": url })))
}

/// `POST /forge/ui/resend`: queues a new setup email to the installer, at most once a minute.
pub(crate) async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<serde_json::Value>), ForgeUiError> {
    let installation = jira_admin_call(&state, &headers).await?;
    if installation.state != installations::State::Installed.as_str() {
        return Err(ForgeUiError::NotInstalled);
    }
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !outbox::queue_setup_resend(&transaction, installation.id.into()).await? {
        return Err(ForgeUiError::TooSoon);
    }
    transaction.commit().await?;
    state.outbox.wake();
    tracing::info!(installation_id = %installation.client_key, "setup email re-sent from the Forge admin page");
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": true }))))
}
