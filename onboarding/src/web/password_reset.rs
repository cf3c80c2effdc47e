//! "Forgot your password?": `/forgot-password` mails a one-time link to an account's address,
//! `/reset-password/{token}` sets a new password with it. The request page answers the same
//! whether or not the address has an account, so it tells nobody who our users are. Opening the
//! link only shows the form (mail scanners follow links); setting the password uses it up and
//! signs the account out everywhere.

use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    error::PageError,
    pages::{ForgotPassword, Message, ResetPassword, render},
    session::Visitor,
};
use crate::{AppState, accounts::passwords};
use accounts_store::{
    access,
    audit::{self},
    outbox::{self, Email},
    password_resets::{self, ResetCheck},
    users,
};

#[derive(Deserialize)]
pub(crate) struct RequestForm {
    csrf: String,
    email: String,
}

#[derive(Deserialize)]
pub(crate) struct NewPasswordForm {
    csrf: String,
    password: String,
}

pub(crate) async fn request_page(visitor: Visitor) -> Response {
    render(&ForgotPassword {
        csrf: &visitor.csrf,
        email: "",
    })
}

pub(crate) async fn request(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<RequestForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let email = users::normalize_email(&form.email);
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if let Some(user) = users::by_email(&transaction, &email).await? {
        match password_resets::request(&transaction, user.id, state.accounts.password_reset_ttl)
            .await?
        {
            Some(reset) => {
                outbox::enqueue(&transaction, &Email::PasswordReset { reset }).await?;
                audit::record_for_account(
                    &transaction,
                    user.id,
                    &user.email,
                    "password_reset_requested",
                    "",
                )
                .await?;
            }
            None => tracing::info!("password reset refused: too many requests for the address"),
        }
    }
    transaction.commit().await?;
    state.outbox.wake();
    Ok(render(
        &Message::new(
            "Check your email",
            &[
                &format!(
                    "If {email} has a MetaFrazo account, a link to choose a new password is on its way. It works once, for {} minutes.",
                    state.accounts.password_reset_ttl.as_secs() / 60
                ),
                "Nothing arrived? Look in the spam folder, or ask again in a few minutes.",
            ],
        )
        .with_link("/sign-in", "Back to sign-in"),
    ))
}

fn unusable(check: &ResetCheck) -> PageError {
    let (status, title, why) = match check {
        ResetCheck::Expired => (
            StatusCode::GONE,
            "This password reset link has expired",
            "Ask for a new one; it works for a limited time after it is sent.",
        ),
        ResetCheck::Used => (
            StatusCode::GONE,
            "This password reset link was already used",
            "Sign in with the new password, or ask for a new link if that was not you.",
        ),
        ResetCheck::Revoked => (
            StatusCode::GONE,
            "This password reset link was replaced",
            "A newer link was asked for. Use the newest email, or ask for a new link.",
        ),
        ResetCheck::Unknown | ResetCheck::Valid(_) => (
            StatusCode::NOT_FOUND,
            "This password reset link is not valid",
            "Open it straight from the email, or copy all of it. Or ask for a new link.",
        ),
    };
    PageError::Explained(
        status,
        Message::new(title, &[why]).with_link("/forgot-password", "Ask for a new link"),
    )
}

pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    match password_resets::check(&client, &token, false).await? {
        ResetCheck::Valid(reset) => Ok(render(&ResetPassword {
            csrf: &visitor.csrf,
            email: &reset.email,
            error: None,
            min_password: passwords::MIN_LENGTH,
        })),
        other => Err(unusable(&other)),
    }
}

pub(crate) async fn complete(
    State(state): State<AppState>,
    Path(token): Path<String>,
    visitor: Visitor,
    Form(form): Form<NewPasswordForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let mut client = state.postgres.get().await?;
    if let Err(err) = passwords::check_policy(&form.password) {
        let ResetCheck::Valid(reset) = password_resets::check(&client, &token, false).await? else {
            return Err(PageError::NotFound);
        };
        let page = render(&ResetPassword {
            csrf: &visitor.csrf,
            email: &reset.email,
            error: Some(&format!("Please choose a longer password: {err}.")),
            min_password: passwords::MIN_LENGTH,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let hash = state.hashing.hash(form.password.clone()).await?;
    // The row lock makes two tabs racing on one link set one password.
    let transaction = client.transaction().await?;
    let reset = match password_resets::check(&transaction, &token, true).await? {
        ResetCheck::Valid(reset) => reset,
        other => return Err(unusable(&other)),
    };
    // The link was mailed to the account's address: whoever uses it reads that mail. An
    // unconfirmed account was opened by someone who never showed that: the address's owner
    // takes it back, and whatever sign-ins its opener linked go with their sessions.
    let was_confirmed = users::lock_confirmed(&transaction, reset.user_id).await?;
    password_resets::complete(&transaction, &reset, &hash).await?;
    // Whoever had the old password may hold sessions, API tokens and open links: all end.
    let ended = access::end_all(&transaction, reset.user_id, &reset.email, !was_confirmed).await?;
    users::confirm(&transaction, reset.user_id).await?;
    users::clear_sign_in_failures(&transaction, &reset.email).await?;
    audit::record_for_account(
        &transaction,
        reset.user_id,
        &reset.email,
        "password_reset",
        &ended.to_string(),
    )
    .await?;
    if !was_confirmed {
        audit::record_for_account(
            &transaction,
            reset.user_id,
            &reset.email,
            "account_claimed",
            &format!("password reset: {ended}"),
        )
        .await?;
    }
    transaction.commit().await?;
    let email: String = url::form_urlencoded::byte_serialize(reset.email.as_bytes()).collect();
    Ok(Redirect::to(&format!("/sign-in?email={email}&reset=done")).into_response())
}
