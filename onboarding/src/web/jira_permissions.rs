//! "Members see only what their Jira account can see" on the organization's members page: every
//! member reads whether it is on; owners turn it on or off (`POST /orgs/{id}/jira-permissions`).
//! The dashboards enforce it; this page only sets it and says who is not ready for it.

use axum::{
    Form,
    extract::{Path, State},
    response::Response,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    organization::{back_to, member_submitting},
    pages::JiraPermissionsSettings,
    session::Visitor,
};
use crate::AppState;
use accounts_store::{
    atlassian_accounts, audit,
    jira_permissions::{jira_permissions_enforced, set_jira_permissions_enforced},
};

/// The audit log's action for a change of the setting; its detail is `on` or `off`.
const AUDIT_ACTION: &str = "jira_permissions_changed";

/// The Jira permissions card of the members page, for `user`.
pub(crate) async fn settings(
    state: &AppState,
    client: &impl deadpool_postgres::GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<JiraPermissionsSettings, PageError> {
    let enforced = jira_permissions_enforced(client, organization).await?;
    // Counted only while on: then they are the members who see nothing but a request to link.
    let (unlinked_members, you_unlinked) = if enforced {
        (
            atlassian_accounts::unlinked_members(client, organization).await?,
            atlassian_accounts::of_member(client, organization, user)
                .await?
                .is_none(),
        )
    } else {
        (0, false)
    };
    // Turning it on where nobody can link an account would leave every member with only the
    // request to link, so the card says so before and after.
    let cannot_link = if state.atlassian_oauth.is_none() {
        Some("linking Jira accounts is not set up on this MetaFrazo server")
    } else if atlassian_accounts::cloud_sites(client, organization)
        .await?
        .is_empty()
    {
        Some(
            "an account is linked on a Jira Cloud site, and none is connected to this organization",
        )
    } else {
        None
    };
    Ok(JiraPermissionsSettings {
        enforced,
        unlinked_members,
        you_unlinked,
        cannot_link,
    })
}

#[derive(Deserialize)]
pub(crate) struct JiraPermissionsForm {
    /// Missing reads as empty, so a form without one gets the CSRF page like a wrong one.
    #[serde(default)]
    csrf: String,
    /// The checkbox: sent (`on`) when ticked, absent when not.
    enforced: Option<String>,
}

/// `POST /orgs/{id}/jira-permissions`: an owner turns the setting on or off. Only a change is
/// written to the audit log; sending the form again as it is changes nothing.
pub(crate) async fn save(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<JiraPermissionsForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let enforced = form.enforced.is_some();
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !caller
        .role_within(&transaction)
        .await?
        .can_set_jira_permissions()
    {
        return Err(PageError::Forbidden(
            "only owners change whether members see only what their Jira account can see",
        ));
    }
    let id = caller.organization.id;
    if set_jira_permissions_enforced(&transaction, id, enforced).await? {
        audit::record(
            &transaction,
            Some(id),
            Some(caller.actor()),
            AUDIT_ACTION,
            if enforced { "on" } else { "off" },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(back_to(
        id,
        if enforced {
            "jira_permissions_on"
        } else {
            "jira_permissions_off"
        },
    ))
}
