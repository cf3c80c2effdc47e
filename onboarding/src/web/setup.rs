//! `/setup/{token}`: the link from the setup email. Opening it (GET) only checks it, because
//! mail scanners follow links; completing the form (POST) uses it, in one transaction that
//! locks the link and the installation, so two tabs racing on one link make one organization.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    pages::{Installer, Message, Setup, render},
    session::Visitor,
};
use crate::{AppState, atlassian::app_installed::AppInstalledError, mail::messages::utc_text};
use accounts_store::{
    audit::{self, Actor},
    installations::{self, Source},
    organizations,
    roles::Role,
    setup_links::{self, LinkCheck, SetupLink, SetupTarget},
    tokens, users,
};

const NEW_LINK_HOW: &str = "To get a new link: in Jira, open Apps → MetaFrazo and choose \"Re-send setup email\". If MetaFrazo is no longer installed there, install it again; a new setup email follows.";

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    csrf: String,
    /// `create` a new organization, or `connect` to `organization_id`.
    action: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    organization_id: String,
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
        LinkCheck::Revoked => (
            StatusCode::GONE,
            "A newer setup email was sent",
            "Only the link in the most recent setup email works. Look for the newest email titled \"Finish connecting your Jira workspace to MetaFrazo\".",
        ),
        LinkCheck::Unknown if !tokens::well_formed(token) => (
            StatusCode::NOT_FOUND,
            "This setup link is incomplete or was changed",
            "The link may have been cut short or altered on its way. Open it straight from the email, or copy all of it.",
        ),
        LinkCheck::Unknown | LinkCheck::Valid(_) => (
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

/// The organizations a signed-in user may connect the workspace to: those they own or
/// administer, the workspace's previous one (a reinstall) first and preselected.
async fn connectable(
    client: &impl deadpool_postgres::GenericClient,
    target: &SetupTarget,
    user: Uuid,
) -> Result<Vec<(Uuid, String, bool)>, PageError> {
    let previous = target.previous_organization.as_ref().map(|(id, _)| *id);
    let mut managed: Vec<(Uuid, String, bool)> = organizations::of_user(client, user)
        .await?
        .into_iter()
        .filter(|(_, role)| *role >= Role::Admin)
        .map(|(organization, _)| {
            let is_previous = Some(organization.id) == previous;
            (organization.id, organization.name, is_previous)
        })
        .collect();
    managed.sort_by_key(|(_, _, is_previous)| !is_previous);
    Ok(managed)
}

pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let check = setup_links::check(&client, &token, false).await?;
    let LinkCheck::Valid(SetupLink {
        target,
        expires_at,
        mailed_to,
    }) = &check
    else {
        return Err(unusable(&check, &token));
    };
    if !target.installed {
        return Err(uninstalled());
    }
    let here = format!("/setup/{token}");
    if let Some(user) = &visitor.user
        && !users::by_email(&client, &user.email)
            .await?
            .is_some_and(|account| account.email_confirmed)
    {
        return Err(super::email_verification::unconfirmed(
            &state,
            &visitor,
            &user.email,
            &here,
        ));
    }
    let connectable = match &visitor.user {
        Some(user) => connectable(&client, target, user.user_id).await?,
        None => Vec::new(),
    };
    // Whether the address has an account is said only here: the visitor holds a live link that
    // was mailed to that address, so they learn nothing its owner would not.
    let installer = match (&visitor.user, mailed_to) {
        (None, Some(email)) => Some(Installer {
            email,
            has_account: users::by_email(&client, email).await?.is_some(),
        }),
        _ => None,
    };
    let reconnect_to = connectable
        .iter()
        .find(|(_, _, is_previous)| *is_previous)
        .map(|(_, name, _)| name.as_str());
    let page = render(&Setup {
        providers: super::oidc::buttons(&state),
        csrf: &visitor.csrf,
        here: &here,
        workspace: display_name(target),
        site: address_unless_named(target),
        expires_at: &utc_text(*expires_at),
        signed_in_as: visitor.user.as_ref().map(|user| user.email.as_str()),
        installer,
        reconnect_to,
        previously_linked_elsewhere: match reconnect_to {
            Some(_) => None,
            None => target
                .previous_organization
                .as_ref()
                .map(|(_, name)| name.as_str()),
        },
        connectable: connectable
            .iter()
            .map(|(id, name, selected)| (id.to_string(), name.clone(), *selected))
            .collect(),
        error: None,
    });
    Ok(page)
}

/// "Both sides confirm the connection": Jira itself must say the app is still installed on the
/// site, in case an uninstall never reached us.
async fn confirm_with_jira(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    target: &SetupTarget,
) -> Result<(), PageError> {
    let site = target.base_url.as_str();
    let cannot_ask = |reason: &str| AppInstalledError::CannotAsk {
        site: site.to_owned(),
        reason: reason.to_owned(),
    };
    let decrypt = |encrypted: Option<&Vec<u8>>, what: &str| {
        let encrypted = encrypted.ok_or_else(|| cannot_ask(&format!("no {what} is stored")))?;
        state
            .cipher
            .decrypt(encrypted)
            .map_err(|_| cannot_ask(&format!("the stored {what} cannot be decrypted")))
    };
    let Some(credentials) = installations::app_credentials(client, target.installation_id).await?
    else {
        return Err(PageError::NotFound);
    };
    match credentials.source {
        Source::Connect => {
            let secret = decrypt(credentials.encrypted_secret.as_ref(), "shared secret")?;
            state
                .jira
                .connect_app_installed(site, secret.expose_secret())
                .await?;
        }
        Source::Forge => {
            let api_base_url = credentials
                .api_base_url
                .as_deref()
                .ok_or_else(|| cannot_ask("no API base URL is stored"))?;
            let token = decrypt(
                credentials.encrypted_system_token.as_ref(),
                "app system token",
            )?;
            state
                .jira
                .forge_app_installed(site, api_base_url, token.expose_secret())
                .await?;
        }
        // A Data Center webhook connection is no app installation: an admin registered our
        // webhook by hand, and we hold only the HMAC secret of what Jira sends, no credentials
        // to call Jira with. There is nobody to ask.
        Source::WebhookSecret => {}
    }
    Ok(())
}

/// The address beside the name, unless the name already holds it (Connect describes a site as
/// "Atlassian JIRA at https://…", which would show the address twice).
fn address_unless_named(target: &SetupTarget) -> Option<&str> {
    accounts_store::organizations::name_lacks_address(&target.display_name, &target.base_url)
        .then_some(target.base_url.as_str())
}

fn display_name(target: &SetupTarget) -> &str {
    if target.display_name.is_empty() {
        &target.base_url
    } else {
        &target.display_name
    }
}

/// A workspace connected to another organization takes its history with it when it moves, so
/// only an owner of that organization may move it; anyone else is told whom to ask, and nothing
/// changes. The move is audited there too (and, by the caller, where it lands).
async fn move_out_of(
    transaction: &impl deadpool_postgres::GenericClient,
    target: &SetupTarget,
    current: Uuid,
    actor: Actor<'_>,
) -> Result<(), PageError> {
    if organizations::role_of(transaction, current, actor.user_id).await? != Some(Role::Owner) {
        let name = organizations::get(transaction, current)
            .await?
            .map(|organization| organization.name)
            .unwrap_or_default();
        let owners = organizations::owner_emails(transaction, current)
            .await?
            .join(", ");
        return Err(PageError::Explained(
            StatusCode::CONFLICT,
            Message::new(
                &format!("This workspace belongs to {name}"),
                &[
                    &format!(
                        "{} is connected to the MetaFrazo organization {name}, with its history. Only an owner of {name} can move it to another organization: ask {owners}.",
                        display_name(target)
                    ),
                    "Nothing was changed, and this link still works.",
                ],
            ),
        ));
    }
    audit::record(
        transaction,
        Some(current),
        Some(actor),
        "workspace_moved_out",
        &target.base_url,
    )
    .await?;
    Ok(())
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
    // Jira is asked before the transaction, so no row stays locked while it answers; the
    // locked check below decides again, and a refusal here uses nothing up.
    let check = setup_links::check(&client, &token, false).await?;
    let LinkCheck::Valid(SetupLink { target, .. }) = &check else {
        return Err(unusable(&check, &token));
    };
    if !target.installed {
        return Err(uninstalled());
    }
    confirm_with_jira(&state, &client, target).await?;

    let transaction = client.transaction().await?;
    let check = setup_links::check(&transaction, &token, true).await?;
    let LinkCheck::Valid(SetupLink {
        target, mailed_to, ..
    }) = &check
    else {
        return Err(unusable(&check, &token));
    };
    // The link went to the installing admin's own address, and they are who finished it: their
    // Atlassian account is linked too. Anyone else finishing a link is linked by nobody.
    let mailed_to_them = mailed_to
        .as_deref()
        .is_some_and(|address| users::normalize_email(address) == user.email);
    if !target.installed {
        return Err(uninstalled());
    }
    // Connecting a workspace makes its events the account's: only for an address proven.
    super::email_verification::require_confirmed(
        &state,
        &transaction,
        &visitor,
        user.user_id,
        &user.email,
        &here,
    )
    .await?;
    let actor = Actor {
        user_id: user.user_id,
        email: &user.email,
    };
    let (organization, action) = match form.action.as_str() {
        "connect" => {
            let wanted = Uuid::parse_str(&form.organization_id).ok();
            let Some((organization, organization_name, is_previous)) =
                connectable(&transaction, target, user.user_id)
                    .await?
                    .into_iter()
                    .find(|(id, _, _)| Some(*id) == wanted)
            else {
                return Err(PageError::Forbidden(
                    "a workspace can join only an organization you own or administer",
                ));
            };
            // Connecting is using the organization: its sign-in policy holds here too.
            let policy = organizations::sign_in_policy(&transaction, organization).await?;
            if let Err(refusal) = policy.admits(&user.method, &user.email) {
                return Err(super::organization::policy_refusal(
                    &organization_name,
                    &format!("/setup/{token}"),
                    &policy,
                    refusal,
                ));
            }
            let action = if is_previous {
                "workspace_reconnected"
            } else {
                "workspace_connected"
            };
            (organization, action)
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
    let action = match target.connected_organization {
        Some(current) if current != organization => {
            move_out_of(&transaction, target, current, actor).await?;
            "workspace_moved_in"
        }
        _ => action,
    };
    organizations::connect_installation_by_id(&transaction, target.installation_id, organization)
        .await?;
    if mailed_to_them {
        super::atlassian_account::link_installer(
            &transaction,
            target.installation_id,
            organization,
            actor,
        )
        .await?;
    }
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
    let landing = state.accounts.organization_dashboards(organization);
    Ok(Redirect::to(&landing).into_response())
}
