//! `GET /atlassian/admin`: the page Jira shows under Apps → MetaFrazo, to site admins only (the
//! descriptor's `user_is_admin` condition). It says whether the workspace is connected, to
//! which organization, when its last event arrived, and offers to re-send the setup email or to
//! finish the setup at once (in a new tab: our pages refuse to be framed), as the Forge page does.

use axum::{
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use contracts::InstallationId;

use super::context_jwt::{self, ContextJwtError, JiraContext};
use crate::{
    AppState,
    mail::messages::utc_text,
    web::{
        PageError,
        pages::{AdminPage, Message, render},
    },
};
use accounts_store::{outbox, setup_links};

fn refused(err: ContextJwtError) -> PageError {
    match err {
        ContextJwtError::Postgres(err) => PageError::Postgres(err),
        ContextJwtError::Pool(err) => PageError::Pool(err),
        other => {
            tracing::info!(reason = %other, "admin page refused");
            PageError::Explained(
                StatusCode::UNAUTHORIZED,
                Message::new(
                    "Open this page from Jira",
                    &["This page works only inside Jira, under Apps → MetaFrazo. Reload it there."],
                ),
            )
        }
    }
}

/// When the installation's last event arrived, as the admin pages show it. The pages still
/// answer when the warehouse does not; they then show no last event.
pub(super) async fn last_event_text(
    state: &AppState,
    installation: InstallationId,
) -> Option<String> {
    warehouse::queries::last_event_received(&state.warehouse, installation)
        .await
        .inspect_err(|err| tracing::warn!(error = %err, "cannot read the last event time"))
        .ok()
        .flatten()
        .map(utc_text)
}

/// When and why the newest setup email was given up on. The page still answers when Postgres
/// does not; it then says nothing about the email.
async fn setup_email_failure_text(
    state: &AppState,
    installation: InstallationId,
) -> Option<(String, String)> {
    let client = state
        .postgres
        .get()
        .await
        .inspect_err(|err| tracing::warn!(error = %err, "cannot read the setup email's state"))
        .ok()?;
    outbox::setup_email_failure(&client, installation.into())
        .await
        .inspect_err(|err| tracing::warn!(error = %err, "cannot read the setup email's state"))
        .ok()
        .flatten()
        .map(|(at, why)| (utc_text(at), why))
}

async fn render_for(
    state: &AppState,
    context: &JiraContext,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let installation = &context.installation;
    let last_event = last_event_text(state, installation.id).await;
    let setup_email_failed = setup_email_failure_text(state, installation.id).await;
    let jwt = url::form_urlencoded::byte_serialize(context.token.as_bytes()).collect::<String>();
    let resend_action = format!("{}/resend?jwt={jwt}", super::descriptor::ADMIN_PAGE_PATH);
    let setup_action = format!("{}/setup?jwt={jwt}", super::descriptor::ADMIN_PAGE_PATH);
    let workspace = if installation.display_name.is_empty() {
        &installation.base_url
    } else {
        &installation.display_name
    };
    render(&AdminPage {
        workspace,
        organization: installation
            .organization
            .as_ref()
            .map(|(_, name)| name.as_str()),
        last_event,
        setup_email_failed,
        resend_action: &resend_action,
        setup_action: &setup_action,
        notice,
        error,
    })
}

pub(crate) async fn admin_page(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let context = context_jwt::verify(&state, &method, &uri, &headers)
        .await
        .map_err(refused)?;
    Ok(render_for(&state, &context, None, None).await)
}

/// A POST from the admin page: its verified context, or (as `Err`) the answer already made, the
/// page saying the app is no longer installed (409) or a refusal.
async fn installed_context(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<JiraContext, Response> {
    let context = context_jwt::verify(state, method, uri, headers)
        .await
        .map_err(|err| refused(err).into_response())?;
    if context.installation.state != "installed" {
        let page = render_for(
            state,
            &context,
            None,
            Some("MetaFrazo is not installed on this workspace."),
        )
        .await;
        return Err((StatusCode::CONFLICT, page).into_response());
    }
    Ok(context)
}

/// `POST /atlassian/admin/resend`: queues a new setup email, which revokes the older links.
pub(crate) async fn resend_setup_email(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let context = match installed_context(&state, &method, &uri, &headers).await {
        Ok(context) => context,
        Err(answer) => return Ok(answer),
    };
    let installation = &context.installation;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !outbox::queue_setup_resend(&transaction, installation.id.into()).await? {
        let page = render_for(&state, &context, None, Some("A setup email was sent less than a minute ago. Please wait a minute before sending another.")).await;
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    transaction.commit().await?;
    state.outbox.wake();
    tracing::info!(client_key = %installation.client_key, "setup email re-sent from the admin page");
    Ok(render_for(&state, &context, Some("A new setup email is on its way to the admin who installed MetaFrazo. Older setup links no longer work."), None).await)
}

/// `POST /atlassian/admin/setup`: a fresh one-time setup link for the Jira admin at the page
/// (older links stop working), or the organization's dashboards once the workspace is connected.
pub(crate) async fn finish_setup_here(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let context = match installed_context(&state, &method, &uri, &headers).await {
        Ok(context) => context,
        Err(answer) => return Ok(answer),
    };
    let installation = &context.installation;
    if let Some((organization, _)) = &installation.organization {
        let dashboards = state.accounts.organization_dashboards(*organization);
        return Ok(Redirect::to(&dashboards).into_response());
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
    tracing::info!(client_key = %installation.client_key, "setup link handed over on the admin page");
    Ok(Redirect::to(&format!("/setup/{}", token.text)).into_response())
}
