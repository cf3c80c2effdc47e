//! The signed-in user's API tokens: the list, creating one (its text shown on that one page and
//! never again) and revoking one. A token is the user's own, not an organization's: the
//! dashboards check the user's role in the organization on every call, as for a session.

use std::time::SystemTime;

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    pages::{ApiTokenRow, ApiTokens, LifetimeChoice, render},
    session::Visitor,
};
use crate::{AppState, mail::messages::utc_text};
use accounts_store::{
    api_tokens::{self, TokenLifetime, TokenName},
    audit::{self, Actor},
    sessions::SignedIn,
};

pub(crate) const PATH: &str = "/account/tokens";

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Missing fields default to empty, so a form without its CSRF token is refused as such (403),
/// not as a malformed body.
#[derive(Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// `30`, `90`, `365` or `never`; absent means a year.
    #[serde(default)]
    expires: String,
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// What a rendering of the page adds to the list.
#[derive(Default)]
struct Extras<'a> {
    /// The text of the token just created: this response is the only place it ever appears.
    new_token: Option<&'a str>,
    notice: Option<&'static str>,
    error: Option<String>,
    name: &'a str,
    lifetime: TokenLifetime,
}

fn actor(user: &SignedIn) -> Actor<'_> {
    Actor {
        user_id: user.user_id,
        email: &user.email,
    }
}

async fn tokens_page(
    state: &AppState,
    visitor: &Visitor,
    user: &SignedIn,
    extras: Extras<'_>,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let tokens = api_tokens::list(&client, user.user_id).await?;
    let now = SystemTime::now();
    Ok(render(&ApiTokens {
        csrf: &visitor.csrf,
        email: &user.email,
        tokens: tokens
            .into_iter()
            .map(|token| ApiTokenRow {
                id: token.id.to_string(),
                name: token.name,
                created_at: utc_text(token.created_at),
                last_used_at: token.last_used_at.map(utc_text),
                revoked_at: token.revoked_at.map(utc_text),
                expires_at: token.expires_at.map(utc_text),
                expired: token.expires_at.is_some_and(|at| at <= now),
            })
            .collect(),
        new_token: extras.new_token,
        notice: extras.notice,
        error: extras.error.as_deref(),
        name: extras.name,
        name_max_chars: api_tokens::NAME_MAX_CHARS,
        lifetimes: TokenLifetime::CHOICES
            .iter()
            .map(|(lifetime, value, label)| LifetimeChoice {
                value,
                label,
                selected: *lifetime == extras.lifetime,
            })
            .collect(),
    }))
}

pub(crate) async fn page(
    State(state): State<AppState>,
    Query(done): Query<Done>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let user = visitor.require_user(PATH)?;
    // Fixed notices by name: the query string never puts text of its own on the page.
    let notice = match done.done.as_deref() {
        Some("revoked") => Some("Token revoked. Programs using it are refused from now on."),
        _ => None,
    };
    tokens_page(
        &state,
        &visitor,
        user,
        Extras {
            notice,
            ..Extras::default()
        },
    )
    .await
}

/// Answers the page itself rather than a redirect: the new token must not travel in a URL, and
/// a redirect's page could not show it without keeping it somewhere.
pub(crate) async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CreateForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let user = visitor.require_user(PATH)?;
    let parsed = TokenName::parse(&form.name)
        .map_err(|err| format!("Please check the name: {err}."))
        .and_then(|name| {
            TokenLifetime::parse(&form.expires)
                .map(|lifetime| (name, lifetime))
                .map_err(|err| format!("Please check the expiry: {err}."))
        });
    let (name, lifetime) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let page = tokens_page(
                &state,
                &visitor,
                user,
                Extras {
                    error: Some(error),
                    name: &form.name,
                    lifetime: TokenLifetime::parse(&form.expires).unwrap_or_default(),
                    ..Extras::default()
                },
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let expires_at = lifetime.expiry_from(SystemTime::now());
    let (id, token) =
        api_tokens::create(&transaction, user.user_id, &name, expires_at, &user.method).await?;
    audit::record(
        &transaction,
        None,
        Some(actor(user)),
        "api_token_created",
        &format!(
            "{} ({id}), expires {}",
            name.as_str(),
            expires_at.map_or_else(|| "never".to_owned(), utc_text)
        ),
    )
    .await?;
    transaction.commit().await?;
    tokens_page(
        &state,
        &visitor,
        user,
        Extras {
            new_token: Some(&token.text),
            ..Extras::default()
        },
    )
    .await
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    visitor: Visitor,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let user = visitor.require_user(PATH)?;
    let id = Uuid::parse_str(&id).map_err(|_| PageError::NotFound)?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    // Another user's token answers exactly as an unknown id does.
    if !api_tokens::revoke(&transaction, user.user_id, id).await? {
        return Err(PageError::NotFound);
    }
    audit::record(
        &transaction,
        None,
        Some(actor(user)),
        "api_token_revoked",
        &id.to_string(),
    )
    .await?;
    transaction.commit().await?;
    Ok(Redirect::to(&format!("{PATH}?done=revoked")).into_response())
}
