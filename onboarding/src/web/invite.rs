//! `/invites/{token}`: accepting an invitation. Opening it only shows it; accepting (POST) uses
//! it, signed in with the invited address.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    error::PageError,
    pages::{self, Message, render},
    session::Visitor,
};
use crate::AppState;
use accounts_store::{
    audit::{self, Actor},
    identities,
    invites::{self, InviteCheck},
    organizations,
};

#[derive(Deserialize)]
pub(crate) struct AcceptForm {
    csrf: String,
}

fn unusable(check: &InviteCheck) -> PageError {
    let (status, title, why) = match check {
        InviteCheck::Expired => (
            StatusCode::GONE,
            "This invitation has expired",
            "Ask the person who invited you to send a new one.",
        ),
        InviteCheck::Used => (
            StatusCode::GONE,
            "This invitation was already accepted",
            "If that was you, sign in to see the organization.",
        ),
        InviteCheck::Revoked => (
            StatusCode::GONE,
            "This invitation was withdrawn",
            "It was revoked or replaced by a newer one, or whoever sent it can no longer give that role. Use the newest invitation email, or ask an admin for a new one.",
        ),
        InviteCheck::Unknown | InviteCheck::Valid(_) => (
            StatusCode::NOT_FOUND,
            "This invitation link is not valid",
            "Open it straight from the invitation email, or copy all of it.",
        ),
    };
    PageError::Explained(
        status,
        Message::new(title, &[why]).with_link("/", "Sign in"),
    )
}

pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let check = invites::check(&client, &token, false).await?;
    let InviteCheck::Valid(invite) = &check else {
        return Err(unusable(&check));
    };
    let here = format!("/invites/{token}");
    if let Some(user) = visitor
        .user
        .as_ref()
        .filter(|user| user.email == invite.email)
        && !accounts_store::users::by_email(&client, &user.email)
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
    Ok(render(&pages::Invite {
        providers: super::oidc::buttons(&state),
        csrf: &visitor.csrf,
        here: &here,
        organization: &invite.organization_name,
        inviter: invite.invited_by.as_deref().unwrap_or("A teammate"),
        invited_email: &invite.email,
        role: invite.role.as_str(),
        signed_in_as: visitor.user.as_ref().map(|user| user.email.as_str()),
        signed_in_as_invitee: visitor
            .user
            .as_ref()
            .is_some_and(|user| user.email == invite.email),
    }))
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
    Form(form): Form<AcceptForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let here = format!("/invites/{token}");
    let user = visitor.require_user(&here)?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let check = invites::check(&transaction, &token, true).await?;
    let InviteCheck::Valid(invite) = &check else {
        return Err(unusable(&check));
    };
    if invite.email != user.email {
        return Err(PageError::Explained(
            StatusCode::FORBIDDEN,
            Message::new(
                "This invitation is for another address",
                &[&format!(
                    "It was sent to {}; you are signed in as {}. Sign out, then sign in or create an account with the invited address.",
                    invite.email, user.email
                )],
            ),
        ));
    }
    // An account opened on someone's address before them joins nothing: only once its address
    // is confirmed (and then it is theirs).
    super::email_verification::require_confirmed(
        &state,
        &transaction,
        &visitor,
        user.user_id,
        &user.email,
        &here,
    )
    .await?;
    // Signed in through a provider, the provider must vouch for the invited address: Microsoft's
    // `email` claim is anyone's to set, and must never join someone else's organization.
    if user.method != "password"
        && !identities::vouches_for(&transaction, user.user_id, &user.method, &user.email).await?
    {
        return Err(PageError::Explained(
            StatusCode::FORBIDDEN,
            Message::new(
                "Your sign-in does not confirm this address",
                &[&format!(
                    "You signed in with {}, which does not confirm that {} is yours. Sign in with your password, or with a provider that confirms your address (Google), then open the invitation again.",
                    user.method, user.email
                )],
            ),
        ));
    }
    // The organization's sign-in policy applies from the first step in.
    let policy = organizations::sign_in_policy(&transaction, invite.organization_id).await?;
    if let Err(refusal) = policy.admits(&user.method, &user.email) {
        return Err(super::organization::policy_refusal(
            &invite.organization_name,
            &here,
            &policy,
            refusal,
        ));
    }
    organizations::add_member(
        &transaction,
        invite.organization_id,
        user.user_id,
        invite.role,
    )
    .await?;
    invites::mark_accepted(&transaction, invite.id).await?;
    audit::record(
        &transaction,
        Some(invite.organization_id),
        Some(Actor {
            user_id: user.user_id,
            email: &user.email,
        }),
        "invite_accepted",
        &format!("joined as {}", invite.role),
    )
    .await?;
    transaction.commit().await?;
    let landing = state
        .accounts
        .organization_dashboards(invite.organization_id);
    Ok(Redirect::to(&landing).into_response())
}
