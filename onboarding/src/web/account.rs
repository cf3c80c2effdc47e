//! Signing up, in and out, and the home page listing the visitor's organizations. A sign-in
//! seam for identity providers (Google, Microsoft) joins here later.

use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{
    client_address::ClientAddress,
    email_verification,
    error::{PageError, sign_in_outcome},
    pages::{Home, SignIn, SignUp, render},
    session::{Visitor, cleared_session_cookie, safe_next, session_cookie},
};
use crate::{
    AppState,
    accounts::passwords::{self, HashingError},
    metrics::SignInOutcome,
};
use accounts_store::{
    audit::{self},
    email_verifications::Confirms,
    organizations, sessions,
    users::{self, SignInLimits, SignInRefusal},
};

#[derive(Deserialize)]
pub(crate) struct AccountQuery {
    next: Option<String>,
    email: Option<String>,
    /// `done` after a password reset, which lands here.
    reset: Option<String>,
    /// Set when an address was just confirmed in a browser not signed in.
    confirmed: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AccountForm {
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
    next: Option<String>,
}

impl CsrfOnly {
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What the sign-in and sign-up pages say about where the visitor is headed.
fn context_for(next: &str) -> &'static str {
    if next.starts_with("/setup/") {
        "Sign in or create an account to finish connecting your Jira workspace."
    } else if next.starts_with("/invites/") {
        "Sign in or create an account to accept your invitation."
    } else {
        ""
    }
}

/// `GET /`: a stranger signs in, a member of exactly one organization goes to its dashboards,
/// anyone else gets the list of their organizations.
pub(crate) async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let user = visitor.require_user("/")?;
    let client = state.postgres.get().await?;
    let organizations = organizations::of_user(&client, user.user_id).await?;
    if let [(only, _)] = organizations.as_slice() {
        return Ok(Redirect::to(&state.accounts.organization_dashboards(only.id)).into_response());
    }
    Ok(organizations_page(
        &state,
        &visitor,
        &user.email,
        organizations,
    ))
}

/// `GET /orgs`: the list of the signed-in user's organizations, however many.
pub(crate) async fn organizations(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let user = visitor.require_user(super::ORGANIZATIONS_PATH)?;
    let client = state.postgres.get().await?;
    let organizations = organizations::of_user(&client, user.user_id).await?;
    Ok(organizations_page(
        &state,
        &visitor,
        &user.email,
        organizations,
    ))
}

fn organizations_page(
    state: &AppState,
    visitor: &Visitor,
    email: &str,
    organizations: Vec<(organizations::Organization, accounts_store::roles::Role)>,
) -> Response {
    render(&Home {
        csrf: &visitor.csrf,
        email,
        dashboards_url: state.accounts.dashboards_url.as_str().trim_end_matches('/'),
        organizations: organizations
            .into_iter()
            .map(|(organization, role)| {
                (
                    organization.id.to_string(),
                    organization.name,
                    role.to_string(),
                )
            })
            .collect(),
    })
}

pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<AccountQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    render(&SignIn {
        providers: super::oidc::buttons(&state),
        csrf: &visitor.csrf,
        next: &next,
        email: query.email.as_deref().unwrap_or(""),
        context: if query.reset.as_deref() == Some("done") {
            "Your password was changed, and every other session signed out. Sign in with the new password."
        } else if query.confirmed.is_some() {
            "Your email address is confirmed. Sign in to continue."
        } else {
            context_for(&next)
        },
        error: None,
    })
}

pub(crate) async fn sign_up_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<AccountQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref());
    render(&SignUp {
        providers: super::oidc::buttons(&state),
        csrf: &visitor.csrf,
        next: &next,
        email: query.email.as_deref().unwrap_or(""),
        context: context_for(&next),
        error: None,
        min_password: passwords::MIN_LENGTH,
    })
}

/// `POST /sign-in` with a password; every attempt with a valid form counts in `onboarding_sign_ins_total`.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    from: ClientAddress,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let answer = check_password(&state, &visitor, &from, jar, &form).await;
    let outcome = match &answer {
        Ok(response) if response.status() == StatusCode::UNAUTHORIZED => SignInOutcome::Refused,
        other => sign_in_outcome(other),
    };
    state.sign_ins.record("password", outcome);
    answer
}

async fn check_password(
    state: &AppState,
    visitor: &Visitor,
    from: &ClientAddress,
    jar: CookieJar,
    form: &AccountForm,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let limits = &state.accounts;
    let mut client = state.postgres.get().await?;
    let taken = users::take_sign_in_attempt(
        &mut client,
        &form.email,
        &from.0,
        SignInLimits {
            window_secs: limits.sign_in_window_secs,
            max_per_address: limits.sign_in_max_failures,
            max_per_client: limits.sign_in_max_failures_per_client,
        },
    )
    .await?;
    if let Err(refusal) = taken {
        tracing::info!(?refusal, "sign-in refused: too many failures");
        return Err(PageError::TooManyAttempts {
            retry_after_secs: limits.sign_in_window_secs as u64,
            from_client: refusal == SignInRefusal::Client,
        });
    }
    let user = users::by_email(&client, &form.email).await?;
    let stored = user.as_ref().and_then(|user| user.password_hash.clone());
    let matches = match state
        .hashing
        .verify_stored(form.password.clone(), stored)
        .await
    {
        Ok(matches) => matches,
        Err(HashingError::Busy) => {
            // Nothing was checked: the try is given back, or a busy service would lock people out.
            users::give_back_sign_in_attempt(&client, &form.email, &from.0).await?;
            return Err(PageError::Busy);
        }
        Err(err) => return Err(err.into()),
    };
    let Some(user) = user.filter(|_| matches) else {
        // The attempt taken above already counts as this failure.
        tracing::info!("sign-in refused: wrong email or password");
        let page = render(&SignIn {
            providers: super::oidc::buttons(state),
            csrf: &visitor.csrf,
            next: &next,
            email: &form.email,
            context: context_for(&next),
            error: Some("Wrong email or password."),
        });
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    };
    users::clear_sign_in_failures(&client, &user.email).await?;
    let token = sessions::start(&client, user.id, limits.session_ttl).await?;
    audit::record_for_account(&client, user.id, &user.email, "signed_in", "password").await?;
    Ok(signed_in(jar, state, token, &next))
}

pub(crate) async fn sign_up(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    let next = safe_next(form.next.as_deref());
    let again = |error: &str, status: StatusCode| {
        let page = render(&SignUp {
            providers: super::oidc::buttons(&state),
            csrf: &visitor.csrf,
            next: &next,
            email: &form.email,
            context: context_for(&next),
            error: Some(error),
            min_password: passwords::MIN_LENGTH,
        });
        (status, page).into_response()
    };
    let email = users::normalize_email(&form.email);
    if !users::plausible_email(&email) {
        return Ok(again(
            "That does not look like an email address.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    if let Err(err) = passwords::check_policy(&form.password) {
        return Ok(again(
            &format!("Please choose a longer password: {err}."),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let hash = state.hashing.hash(form.password.clone()).await?;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let Some(user_id) = users::create(&transaction, &email, &hash).await? else {
        return Ok(again(
            "An account with this email already exists. Sign in instead.",
            StatusCode::CONFLICT,
        ));
    };
    let token = sessions::start(&transaction, user_id, state.accounts.session_ttl).await?;
    audit::record_for_account(&transaction, user_id, &email, "signed_up", "password").await?;
    // A password proves nothing about the address: the account is confirmed by a link mailed
    // to it, either the one the visitor came from or one we send now.
    let landing = match email_verification::mailed_link_proves(&transaction, &next, &email).await? {
        Some(link) => {
            users::confirm(&transaction, user_id).await?;
            audit::record_for_account(&transaction, user_id, &email, "email_confirmed", link)
                .await?;
            next
        }
        None => {
            email_verification::send_link(
                &state,
                &transaction,
                &email,
                &Confirms::Account(user_id),
                &next,
            )
            .await?;
            email_verification::pending_path(&next)
        }
    };
    transaction.commit().await?;
    state.outbox.wake();
    Ok(signed_in(jar, &state, token, &landing))
}

fn signed_in(jar: CookieJar, state: &AppState, token: String, next: &str) -> Response {
    let jar = jar.add(session_cookie(
        token,
        state.accounts.session_ttl,
        state.accounts.cookie_secure,
    ));
    (jar, Redirect::to(next)).into_response()
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&form.csrf)?;
    if let Some(token) = visitor.session_token() {
        let client = state.postgres.get().await?;
        sessions::revoke(&client, token).await?;
    }
    let next = match form.next.as_deref() {
        Some(next) => format!(
            "/sign-in?next={}",
            url::form_urlencoded::byte_serialize(safe_next(Some(next)).as_bytes())
                .collect::<String>()
        ),
        None => "/sign-in".to_owned(),
    };
    let jar = jar.add(cleared_session_cookie(state.accounts.cookie_secure));
    Ok((jar, Redirect::to(&next)).into_response())
}
