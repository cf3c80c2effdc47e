//! A member links their own Atlassian account in an organization (Connect), and unlinks it
//! after confirming (Disconnect): `POST /account/atlassian/{organization}/connect`, the
//! callback `GET /auth/atlassian/callback`, and `GET`/`POST
//! /account/atlassian/{organization}/disconnect`. The consent must reach one of the
//! organization's Jira Cloud sites. Every failure ends on a page that says so, with nothing
//! linked; both changes go to the organization's audit log.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    oidc::SETTINGS_PATH,
    oidc_flow::{ATLASSIAN_LINK, Flow, FlowCheck, FlowCookies, NewFlow},
    pages::{AtlassianDisconnect, JiraLink, Message, render},
    session::Visitor,
};
use crate::{
    AppState,
    accounts::atlassian_oauth::{AtlassianOAuth, AtlassianOAuthError},
    mail::messages::utc_text,
};
use accounts_store::{
    atlassian_accounts::{self, LinkError, LinkedVia},
    audit::{self, Actor},
    organizations,
    sessions::SignedIn,
    users,
};

/// The flow cookie's `provider`: one kind of flow, from one place.
const FLOW_NAME: &str = "atlassian";

fn oauth(state: &AppState) -> Result<&AtlassianOAuth, PageError> {
    state.atlassian_oauth.as_deref().ok_or(PageError::NotFound)
}

fn flow_cookies(state: &AppState) -> FlowCookies<'_> {
    FlowCookies {
        cipher: &state.cipher,
        secure: state.accounts.cookie_secure,
        kind: &ATLASSIAN_LINK,
    }
}

/// A page that says what went wrong, that nothing was linked, and leads back to the account.
fn failed(status: StatusCode, title: &str, why: &str) -> PageError {
    PageError::Explained(
        status,
        Message::new(title, &[why, "Nothing was linked."])
            .with_link(SETTINGS_PATH, "Back to your account"),
    )
}

/// The organization in the path, if the signed-in user is a member (any other id reads as no
/// such page, as elsewhere), with its name.
async fn membership(
    state: &AppState,
    user: &SignedIn,
    organization: &str,
) -> Result<(Uuid, String), PageError> {
    let organization = Uuid::parse_str(organization).map_err(|_| PageError::NotFound)?;
    let client = state.postgres.get().await?;
    organizations::role_of(&client, organization, user.user_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let found = organizations::get(&client, organization)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok((organization, found.name))
}

/// The account page's rows: each organization of the user, its sites and their link.
pub(crate) async fn rows(state: &AppState, user: Uuid) -> Result<Vec<JiraLink>, PageError> {
    if state.atlassian_oauth.is_none() {
        return Ok(Vec::new());
    }
    let client = state.postgres.get().await?;
    Ok(atlassian_accounts::of_user(&client, user)
        .await?
        .into_iter()
        .map(|member| JiraLink {
            organization: member.organization.to_string(),
            organization_name: member.organization_name,
            sites: member.sites.join(", "),
            linked: member.linked.map(|linked| {
                let how = if linked.via == "setup" {
                    "when you finished the setup"
                } else {
                    "at Atlassian"
                };
                format!(
                    "{} (linked {how}, {})",
                    linked.account_id,
                    utc_text(linked.at)
                )
            }),
        })
        .collect())
}

/// `POST /account/atlassian/{organization}/connect`: off to Atlassian's consent screen.
pub(crate) async fn connect(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    axum::Form(form): axum::Form<super::account::CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(form.csrf())?;
    let user = visitor.require_user(SETTINGS_PATH)?;
    let oauth = oauth(&state)?;
    let (organization, name) = membership(&state, user, &organization).await?;
    let Some(visitor_id) = visitor.visitor_id() else {
        return Err(PageError::Csrf);
    };
    let client = state.postgres.get().await?;
    // What the link is for is the organization's Jira data: only for an address proven.
    if !users::lock_confirmed(&client, user.user_id).await? {
        return Err(super::email_verification::unconfirmed(
            &state,
            &visitor,
            &user.email,
            SETTINGS_PATH,
        ));
    }
    if atlassian_accounts::cloud_sites(&client, organization)
        .await?
        .is_empty()
    {
        return Err(failed(
            StatusCode::CONFLICT,
            &format!("{name} has no Jira Cloud site to link an account on"),
            "An Atlassian account is linked on a Jira Cloud site connected to the organization; a Jira Data Center connection has none.",
        ));
    }
    drop(client);
    let authorization = oauth.authorize();
    let flow = flow_cookies(&state).started(&NewFlow {
        state: &authorization.state,
        visitor: visitor_id,
        provider: FLOW_NAME,
        nonce: "",
        pkce_verifier: &authorization.pkce_verifier,
        link_user_id: Some(user.user_id),
        organization_id: Some(organization),
        next: SETTINGS_PATH,
        lifetime: state.oidc_flow_ttl,
    });
    Ok((
        CookieJar::new().add(flow),
        Redirect::to(authorization.url.as_str()),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/atlassian/callback`: Atlassian sends the browser back here.
pub(crate) async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let oauth = oauth(&state)?;
    let (check, used_up) = match (query.state.as_deref(), visitor.visitor_id()) {
        (Some(flow_state), Some(visitor_id)) => {
            flow_cookies(&state).take(&jar, flow_state, visitor_id, FLOW_NAME)
        }
        _ => (FlowCheck::Unknown, None),
    };
    let answer = finish_callback(&state, oauth, &visitor, check, query)
        .await
        .into_response();
    Ok(match used_up {
        Some(used_up) => (CookieJar::new().add(used_up), answer).into_response(),
        None => answer,
    })
}

async fn finish_callback(
    state: &AppState,
    oauth: &AtlassianOAuth,
    visitor: &Visitor,
    check: FlowCheck,
    query: CallbackQuery,
) -> Result<Response, PageError> {
    let not_verified = |why: &str| {
        failed(
            StatusCode::BAD_REQUEST,
            "This answer from Atlassian could not be used",
            why,
        )
    };
    let flow: Flow = match check {
        FlowCheck::Valid(flow) => flow,
        FlowCheck::Used => {
            return Err(not_verified(
                "It was already used once. Start again from your account page.",
            ));
        }
        FlowCheck::Expired => {
            return Err(not_verified(
                "It took too long. Start again from your account page.",
            ));
        }
        refused => {
            tracing::info!(reason = %refused, "Atlassian link callback refused");
            return Err(not_verified(
                "It did not belong to a link started in this browser. Start again from your account page.",
            ));
        }
    };
    if let Some(error) = query.error.as_deref() {
        return Err(if error == "access_denied" {
            failed(
                StatusCode::FORBIDDEN,
                "You did not connect your Atlassian account",
                "You declined at Atlassian. Connect again whenever you like.",
            )
        } else {
            tracing::info!(error, "Atlassian answered an error");
            failed(
                StatusCode::BAD_REQUEST,
                "Atlassian could not connect your account",
                "Atlassian answered with an error. Try again in a moment.",
            )
        });
    }
    let Some(code) = query.code else {
        return Err(not_verified("It carried no authorization code."));
    };
    // Still the same person, in the same organization the link was asked for.
    let (Some(user), Some(user_id), Some(organization)) = (
        visitor.user.as_ref(),
        flow.link_user_id,
        flow.organization_id,
    ) else {
        return Err(not_verified("It was not for linking an account."));
    };
    if user.user_id != user_id {
        return Err(failed(
            StatusCode::FORBIDDEN,
            "Sign in again to connect your Atlassian account",
            "You are no longer signed in as the account that asked for the link.",
        ));
    }
    let account = match oauth.finish(&code, &flow.pkce_verifier).await {
        Ok(account) => account,
        Err(AtlassianOAuthError::Unavailable(why)) => {
            tracing::warn!(
                error = why,
                "Atlassian unavailable while linking an account"
            );
            return Err(failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "Atlassian cannot be reached right now",
                "Please try again in a minute.",
            ));
        }
        Err(AtlassianOAuthError::Refused(why)) => {
            tracing::warn!(error = why, "Atlassian refused while linking an account");
            return Err(failed(
                StatusCode::UNAUTHORIZED,
                "Atlassian did not confirm your account",
                "Its answer did not check out. Start again from your account page.",
            ));
        }
    };
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let sites = atlassian_accounts::cloud_sites(&transaction, organization).await?;
    let Some(site) = sites
        .iter()
        .find(|site| account.cloud_ids.contains(&site.cloud_id))
    else {
        return Err(failed(
            StatusCode::CONFLICT,
            "That Atlassian account cannot see this organization's Jira",
            &format!(
                "The consent reached none of the organization's Jira sites ({}). Connect with the Atlassian account you use there.",
                sites
                    .iter()
                    .map(|site| site.base_url.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let linked = atlassian_accounts::link(
        &transaction,
        organization,
        user.user_id,
        &account.account_id,
        LinkedVia::OAuth,
    )
    .await
    .map_err(link_refused)?;
    if linked {
        audit::record(
            &transaction,
            Some(organization),
            Some(Actor {
                user_id: user.user_id,
                email: &user.email,
            }),
            "atlassian_account_linked",
            &format!("{} on {}", account.account_id, site.base_url),
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(Redirect::to(&format!("{SETTINGS_PATH}?done=atlassian_linked")).into_response())
}

fn link_refused(err: LinkError) -> PageError {
    match err {
        LinkError::TakenByAnother => failed(
            StatusCode::CONFLICT,
            "This Atlassian account is linked to another member",
            "Another member of the organization linked it already. Each Atlassian account belongs to one member.",
        ),
        LinkError::MemberHasAnother => failed(
            StatusCode::CONFLICT,
            "You have another Atlassian account linked here",
            "Disconnect it first, then connect this one.",
        ),
        LinkError::NotAMember => failed(
            StatusCode::FORBIDDEN,
            "You are no longer a member of this organization",
            "An Atlassian account is linked for a member only.",
        ),
        LinkError::Postgres(err) => err.into(),
    }
}

/// `GET /account/atlassian/{organization}/disconnect`: what unlinking changes, and the button.
pub(crate) async fn disconnect_page(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let here = format!("/account/atlassian/{organization}/disconnect");
    let user = visitor.require_user(&here)?;
    let (organization, name) = membership(&state, user, &organization).await?;
    let client = state.postgres.get().await?;
    let Some(account_id) =
        atlassian_accounts::of_member(&client, organization, user.user_id).await?
    else {
        return Ok(Redirect::to(SETTINGS_PATH).into_response());
    };
    Ok(render(&AtlassianDisconnect {
        csrf: &visitor.csrf,
        action: &here,
        organization: &name,
        account_id: &account_id,
    }))
}

/// `POST /account/atlassian/{organization}/disconnect`: unlinks, once confirmed.
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    axum::Form(form): axum::Form<super::account::CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(form.csrf())?;
    let user = visitor.require_user(SETTINGS_PATH)?;
    let (organization, _) = membership(&state, user, &organization).await?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if let Some(account_id) =
        atlassian_accounts::unlink(&transaction, organization, user.user_id).await?
    {
        audit::record(
            &transaction,
            Some(organization),
            Some(Actor {
                user_id: user.user_id,
                email: &user.email,
            }),
            "atlassian_account_unlinked",
            &account_id,
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(Redirect::to(&format!("{SETTINGS_PATH}?done=atlassian_unlinked")).into_response())
}

/// At setup: the admin who installed the app and finished the setup link mailed to them is
/// linked by the account id the install gave, unless that account is linked to another member
/// already (then nothing is linked, and they can connect themselves). A link handed over on a
/// Jira admin page may be finished by any admin of the site, so it links nobody.
pub(crate) async fn link_installer(
    client: &impl deadpool_postgres::GenericClient,
    installation: Uuid,
    organization: Uuid,
    actor: Actor<'_>,
) -> Result<(), PageError> {
    let Some(account_id) = atlassian_accounts::installer_of(client, installation).await? else {
        return Ok(());
    };
    match atlassian_accounts::link(
        client,
        organization,
        actor.user_id,
        &account_id,
        LinkedVia::Setup,
    )
    .await
    {
        Ok(false) => Ok(()),
        Ok(true) => {
            audit::record(
                client,
                Some(organization),
                Some(actor),
                "atlassian_account_linked",
                &format!("{account_id} (the installing admin, at setup)"),
            )
            .await?;
            Ok(())
        }
        Err(LinkError::Postgres(err)) => Err(err.into()),
        Err(refused) => {
            tracing::info!(reason = %refused, "installing admin not linked at setup");
            Ok(())
        }
    }
}
