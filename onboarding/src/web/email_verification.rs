//! `/account/confirm-email…`: proving an account's address is its owner's. Sign-up (and a
//! sign-in through a provider that does not vouch for its address) mails a one-time link;
//! opening it only shows a button (mail scanners follow links), pressing it confirms. Until
//! then the account cannot join an organization, connect a workspace or be linked to a provider
//! by its address, and whoever proves the address later takes the account back.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::{PageError, Unconfirmed},
    pages::{ConfirmEmail, ConfirmEmailPending, Message, render},
    session::{Visitor, safe_next, session_cookie},
};
use crate::{AppState, accounts::oidc::ProviderKind, mail::messages::duration_text};
use accounts_store::{
    access, audit,
    email_verifications::{self, Confirms, PendingIdentity, VerificationCheck},
    identities::{self, IdentityKey},
    outbox::{self, Email},
    sessions, setup_links, tokens, users,
};

/// The "check your inbox" page, and where the link is sent again from.
pub(crate) const PATH: &str = "/account/confirm-email";

/// `/account/confirm-email?next=…`: the page a sign-up lands on.
pub(crate) fn pending_path(next: &str) -> String {
    format!(
        "{PATH}?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

/// Queues a link confirming `email` (an account's, or one a provider gave); `false` when the
/// address had too many lately. Wake the outbox once the transaction has committed.
pub(crate) async fn send_link(
    state: &AppState,
    transaction: &impl GenericClient,
    email: &str,
    confirms: &Confirms,
    next: &str,
) -> Result<bool, PageError> {
    let lifetime = state.accounts.email_verification_ttl;
    let Some(verification) =
        email_verifications::request(transaction, email, confirms, next, lifetime).await?
    else {
        tracing::info!("address confirmation not sent: too many requests for the address");
        return Ok(false);
    };
    outbox::enqueue(transaction, &Email::EmailVerification { verification }).await?;
    Ok(true)
}

/// Refuses a step an unconfirmed account may not take, with the page that offers a new link.
/// Run it in the transaction that takes the step: the account's row stays locked, so a claim of
/// the account by its address's owner cannot slip in between.
pub(crate) async fn require_confirmed(
    state: &AppState,
    transaction: &impl GenericClient,
    visitor: &Visitor,
    user_id: Uuid,
    email: &str,
    here: &str,
) -> Result<(), PageError> {
    if users::lock_confirmed(transaction, user_id).await? {
        return Ok(());
    }
    Err(unconfirmed(state, visitor, email, here))
}

pub(crate) fn unconfirmed(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    next: &str,
) -> PageError {
    PageError::UnconfirmedAddress(Box::new(Unconfirmed {
        email: email.to_owned(),
        next: next.to_owned(),
        csrf: visitor.csrf.clone(),
        valid_for: state.accounts.email_verification_ttl,
    }))
}

/// Whether `next` is a live link mailed to `email` (a setup link, an invitation): someone who
/// arrives from one read that address's mail, so an account made on the way is confirmed by it.
/// Answers what the link was, for the audit log.
pub(crate) async fn mailed_link_proves(
    client: &impl GenericClient,
    next: &str,
    email: &str,
) -> Result<Option<&'static str>, PageError> {
    if let Some(token) = next.strip_prefix("/setup/")
        && let setup_links::LinkCheck::Valid(link) =
            setup_links::check(client, token, false).await?
        && link
            .mailed_to
            .as_deref()
            .map(users::normalize_email)
            .as_deref()
            == Some(email)
    {
        return Ok(Some("setup link"));
    }
    if let Some(token) = next.strip_prefix("/invites/")
        && let accounts_store::invites::InviteCheck::Valid(invite) =
            accounts_store::invites::check(client, token, false).await?
        && invite.email == email
    {
        return Ok(Some("invitation"));
    }
    Ok(None)
}

#[derive(Deserialize)]
pub(crate) struct PendingQuery {
    next: Option<String>,
    sent: Option<String>,
}

/// `GET /account/confirm-email?next=…`: "check your inbox", with a button to send it again.
pub(crate) async fn pending_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<PendingQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    let user = visitor.require_user(&pending_path(&next))?;
    let client = state.postgres.get().await?;
    if users::by_email(&client, &user.email)
        .await?
        .is_some_and(|account| account.email_confirmed)
    {
        return Ok(Redirect::to(&next).into_response());
    }
    Ok(pending(
        &state,
        &visitor,
        &user.email,
        &next,
        query.sent.as_deref(),
        StatusCode::OK,
    ))
}

fn pending(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    next: &str,
    sent: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = render(&ConfirmEmailPending {
        title: "Check your inbox",
        first_step: true,
        csrf: &visitor.csrf,
        email,
        next,
        valid_for: &duration_text(state.accounts.email_verification_ttl),
        notice: (sent == Some("again")).then_some("A new link is on its way; the older ones no longer work."),
        error: (sent == Some("too-many")).then_some(
            "Several links were sent to this address in the last hour. Use the newest one, or ask again later.",
        ),
    });
    (status, page).into_response()
}

#[derive(Deserialize)]
pub(crate) struct ResendForm {
    csrf: String,
    next: Option<String>,
}

/// `POST /account/confirm-email`: sends the signed-in account a new link.
pub(crate) async fn resend(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ResendForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let next = safe_next(form.next.as_deref());
    let user = visitor.require_user(&pending_path(&next))?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if users::lock_confirmed(&transaction, user.user_id).await? {
        return Ok(Redirect::to(&next).into_response());
    }
    let sent = send_link(
        &state,
        &transaction,
        &user.email,
        &Confirms::Account(user.user_id),
        &next,
    )
    .await?;
    transaction.commit().await?;
    state.outbox.wake();
    let outcome = if sent { "again" } else { "too-many" };
    Ok(Redirect::to(&format!("{}&sent={outcome}", pending_path(&next))).into_response())
}

fn unusable(check: &VerificationCheck) -> PageError {
    let (status, title, why) = match check {
        VerificationCheck::Expired => (
            StatusCode::GONE,
            "This confirmation link has expired",
            "Sign in and have a new one sent from your account page.",
        ),
        VerificationCheck::Used => (
            StatusCode::GONE,
            "This confirmation link was already used",
            "The address is confirmed. Sign in to continue.",
        ),
        VerificationCheck::Revoked => (
            StatusCode::GONE,
            "This confirmation link was replaced",
            "A newer link was sent, or the account was taken back by the owner of the address. Use the newest email, or sign in and ask for a new link.",
        ),
        VerificationCheck::Unknown | VerificationCheck::Valid(_) => (
            StatusCode::NOT_FOUND,
            "This confirmation link is not valid",
            "Open it straight from the email, or copy all of it.",
        ),
    };
    PageError::Explained(
        status,
        Message::new(title, &[why, "Nothing was changed."]).with_link("/sign-in", "Sign in"),
    )
}

fn provider_label(identity: &PendingIdentity) -> &str {
    ProviderKind::from_name(&identity.provider)
        .map_or(identity.provider.as_str(), |kind| kind.label())
}

/// `GET /account/confirm-email/{token}`: only shows what the link confirms, and the button.
pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let check = email_verifications::check(&client, &token, false).await?;
    let VerificationCheck::Valid(verification) = &check else {
        return Err(unusable(&check));
    };
    let here = format!("{PATH}/{token}");
    Ok(render(&ConfirmEmail {
        csrf: &visitor.csrf,
        here: &here,
        email: &verification.email,
        provider: match &verification.confirms {
            Confirms::Account(_) => None,
            Confirms::Identity(identity) => Some(provider_label(identity)),
        },
    }))
}

#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    csrf: String,
}

/// `POST /account/confirm-email/{token}`: confirms the address and uses the link up, in one
/// transaction holding the link's row, so two tabs confirm once.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    if !tokens::well_formed(&token) {
        return Err(unusable(&VerificationCheck::Unknown));
    }
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let verification = match email_verifications::check(&transaction, &token, true).await? {
        VerificationCheck::Valid(verification) => verification,
        other => return Err(unusable(&other)),
    };
    let next = safe_next(Some(&verification.next));
    match &verification.confirms {
        Confirms::Account(user_id) => {
            // The link names the address it was mailed to; an account is confirmed only for
            // that address.
            let Some(account) = users::by_email(&transaction, &verification.email)
                .await?
                .filter(|account| account.id == *user_id)
            else {
                return Err(unusable(&VerificationCheck::Unknown));
            };
            // Held until the commit, so a claim of the account waits for this confirmation.
            users::lock_confirmed(&transaction, account.id).await?;
            email_verifications::mark_used(&transaction, verification.id).await?;
            users::confirm(&transaction, account.id).await?;
            email_verifications::revoke_open(&transaction, account.id, &account.email).await?;
            audit::record_for_account(
                &transaction,
                account.id,
                &account.email,
                "email_confirmed",
                "link",
            )
            .await?;
            transaction.commit().await?;
            let signed_in_here = visitor
                .user
                .as_ref()
                .is_some_and(|user| user.user_id == account.id);
            let landing = if signed_in_here {
                next
            } else {
                format!(
                    "/sign-in?confirmed=1&email={}&next={}",
                    url::form_urlencoded::byte_serialize(account.email.as_bytes())
                        .collect::<String>(),
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                )
            };
            Ok(Redirect::to(&landing).into_response())
        }
        Confirms::Identity(identity) => {
            email_verifications::mark_used(&transaction, verification.id).await?;
            let user_id = confirm_identity(&transaction, &verification.email, identity).await?;
            let session = sessions::start_via(
                &transaction,
                user_id,
                state.accounts.session_ttl,
                &identity.provider,
            )
            .await?;
            audit::record_for_account(
                &transaction,
                user_id,
                &verification.email,
                "signed_in",
                &identity.provider,
            )
            .await?;
            transaction.commit().await?;
            let jar = jar.add(session_cookie(
                session,
                state.accounts.session_ttl,
                state.accounts.cookie_secure,
            ));
            Ok((jar, Redirect::to(&next)).into_response())
        }
    }
}

/// A provider's sign-in waited for its address, which is now proven: the account of that
/// address gets the identity. No account yet: it is created. An unconfirmed one: its owner takes
/// it back from whoever opened it. A confirmed one: the identity is linked to it, since whoever
/// confirmed reads that address's mail.
async fn confirm_identity(
    transaction: &impl GenericClient,
    email: &str,
    identity: &PendingIdentity,
) -> Result<Uuid, PageError> {
    let key = IdentityKey {
        provider: &identity.provider,
        issuer: &identity.issuer,
        subject: &identity.subject,
    };
    let kind = ProviderKind::from_name(&identity.provider).ok_or(PageError::NotFound)?;
    let refused = |err| super::oidc::link_refused(kind, err);
    let detail = format!("{} (address confirmed by email)", identity.provider);
    let user_id = match users::by_email(transaction, email).await? {
        None => {
            let Some(user_id) = identities::create_user(transaction, email).await? else {
                return Err(PageError::Explained(
                    StatusCode::CONFLICT,
                    Message::new(
                        "Please try again",
                        &["An account with this address was created at the same moment."],
                    ),
                ));
            };
            identities::link(transaction, user_id, &key, Some(email), false)
                .await
                .map_err(refused)?;
            audit::record_for_account(transaction, user_id, email, "signed_up", &detail).await?;
            user_id
        }
        Some(existing) => {
            if !users::lock_confirmed(transaction, existing.id).await? {
                let ended = access::claim(transaction, existing.id, &existing.email).await?;
                audit::record_for_account(
                    transaction,
                    existing.id,
                    &existing.email,
                    "account_claimed",
                    &format!("{detail}: {ended}"),
                )
                .await?;
            }
            identities::link(transaction, existing.id, &key, Some(email), false)
                .await
                .map_err(refused)?;
            audit::record_for_account(
                transaction,
                existing.id,
                &existing.email,
                "identity_linked",
                &detail,
            )
            .await?;
            existing.id
        }
    };
    users::confirm(transaction, user_id).await?;
    email_verifications::revoke_open(transaction, user_id, email).await?;
    Ok(user_id)
}
