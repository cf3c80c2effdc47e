//! `/setup/{token}`: the link from the setup email. Opening it (GET) only checks it, because
//! mail scanners follow links; completing the form (POST) uses it, in one transaction that
//! locks the link and the installation, so two tabs racing on one link make one organization.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    pages::{Message, Setup, render},
    session::Visitor,
};
use crate::{
    AppState,
    db::{
        audit::{self, Actor},
        organizations,
        setup_links::{self, LinkCheck, SetupTarget},
    },
    mail::messages::utc_text,
    roles::Role,
    tokens,
};

const NEW_LINK_HOW: &str = "To get a new link: in Jira, open Apps → MetaFrazo and choose \"Re-send setup email\". If MetaFrazo is no longer installed there, install it again; a new setup email follows.";

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    csrf: String,
    action: String,
    #[serde(default)]
    organization: String,
}

/// The page for a link that cannot be used, saying why and how to get a new one.
fn unusable(check: &LinkCheck, token: &str) -> PageError {
    let (status, title, why) = match check {
        LinkCheck::Expired => (
            StatusCode::GONE,
            "This setup link has expired",
            "Setup links work for a few hours after their email is sent.",
        ),
        LinkCheck::Used => (
            StatusCode::GONE,
            "This setup link was already used",
            "The workspace was connected with it. If that was you, sign in to see your organization.",
        ),
        LinkCheck::Superseded => (
            StatusCode::GONE,
            "A newer setup email was sent",
            "Only the link in the most recent setup email works. Look for the newest email titled \"Finish connecting your Jira workspace to MetaFrazo\".",
        ),
        LinkCheck::Unknown if !tokens::well_formed(token) => (
            StatusCode::NOT_FOUND,
            "This setup link is incomplete or was changed",
            "The link may have been cut short or altered on its way. Open it straight from the email, or copy all of it.",
        ),
        LinkCheck::Unknown | LinkCheck::Valid { .. } => (
            StatusCode::NOT_FOUND,
            "This setup link is not valid",
            "We did not make this link. Open it straight from the setup email.",
        ),
    };
    let mut message = Message::new(title, &[why, NEW_LINK_HOW]);
    if matches!(check, LinkCheck::Used) {
        message = message.with_link("/", "Sign in");
    }
    PageError::Explained(status, message)
}

fn uninstalled() -> PageError {
    PageError::Explained(
        StatusCode::CONFLICT,
        Message::new(
            "MetaFrazo was uninstalled from this workspace",
            &[
                "The workspace can only be connected while MetaFrazo is installed on it. Nothing was created.",
                "Install MetaFrazo on the workspace again; a new setup email follows.",
            ],
        ),
    )
}

/// The organization a signed-in user may reconnect the workspace to: its previous one, if they
/// are an owner or admin there.
async fn reconnectable(
    client: &impl deadpool_postgres::GenericClient,
    target: &SetupTarget,
    user: Uuid,
) -> Result<Option<(Uuid, String)>, PageError> {
    let Some((organization, name)) = &target.previous_organization else {
        return Ok(None);
    };
    let role = organizations::role_of(client, *organization, user).await?;
    Ok(role
        .filter(|role| *role >= Role::Admin)
        .map(|_| (*organization, name.clone())))
}

pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let check = setup_links::check(&client, &token, false).await?;
    let LinkCheck::Valid { target, expires_at } = &check else {
        return Err(unusable(&check, &token));
    };
    if !target.installed {
        return Err(uninstalled());
    }
    let reconnect = match &visitor.user {
        Some(user) => reconnectable(&client, target, user.user_id).await?,
        None => None,
    };
    let here = format!("/setup/{token}");
    let page = render(&Setup {
        csrf: &visitor.csrf,
        here: &here,
        workspace: display_name(target),
        site: &target.base_url,
        expires_at: &utc_text(*expires_at),
        signed_in_as: visitor.user.as_ref().map(|user| user.email.as_str()),
        reconnect_to: reconnect.as_ref().map(|(_, name)| name.as_str()),
        previously_linked_elsewhere: match reconnect {
            Some(_) => None,
            None => target
                .previous_organization
                .as_ref()
                .map(|(_, name)| name.as_str()),
        },
        error: None,
    });
    Ok(page)
}

fn display_name(target: &SetupTarget) -> &str {
    if target.display_name.is_empty() {
        &target.base_url
    } else {
        &target.display_name
    }
}

pub(crate) async fn complete(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let here = format!("/setup/{token}");
    let user = visitor.require_user(&here)?;
    let name = form.organization.trim();
    if form.action == "create" && (name.is_empty() || name.chars().count() > 100) {
        return Err(PageError::Explained(
            StatusCode::UNPROCESSABLE_ENTITY,
            Message::new(
                "Please name your organization",
                &["An organization needs a name of 1 to 100 characters. Go back and enter one."],
            )
            .with_link(&here, "Back to the setup"),
        ));
    }

    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let check = setup_links::check(&transaction, &token, true).await?;
    let LinkCheck::Valid { target, .. } = &check else {
        return Err(unusable(&check, &token));
    };
    if !target.installed {
        return Err(uninstalled());
    }
    let actor = Actor {
        user_id: user.user_id,
        email: &user.email,
    };
    let (organization, action) = match form.action.as_str() {
        "reconnect" => {
            let Some((organization, _)) = reconnectable(&transaction, target, user.user_id).await?
            else {
                return Err(PageError::Forbidden(
                    "only an owner or admin of the workspace's previous organization can reconnect it there",
                ));
            };
            (organization, "workspace_reconnected")
        }
        "create" => {
            let organization =
                organizations::create_with_owner(&transaction, name, user.user_id).await?;
            audit::record(
                &transaction,
                Some(organization),
                Some(actor),
                "organization_created",
                name,
            )
            .await?;
            (organization, "workspace_connected")
        }
        _ => return Err(PageError::NotFound),
    };
    transaction
        .execute(
            "UPDATE installations SET organization_id = $2, linked_at = now() WHERE id = $1",
            &[&target.installation_id, &organization],
        )
        .await?;
    setup_links::mark_used(&transaction, &token).await?;
    audit::record(
        &transaction,
        Some(organization),
        Some(actor),
        action,
        &target.base_url,
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(
        installation = %target.installation_id,
        organization = %organization,
        action,
        "setup completed"
    );
    let landing = format!(
        "{}/orgs/{organization}",
        state.accounts.dashboards_url.as_str().trim_end_matches('/')
    );
    Ok(Redirect::to(&landing).into_response())
}
