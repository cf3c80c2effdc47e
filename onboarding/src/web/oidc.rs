//! `/auth/oidc/{provider}/start` and `/callback`: "Continue with Google/Microsoft", and linking a
//! provider to a signed-in account. Every failure ends on a page that says what happened, and
//! creates nothing.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::{PageError, sign_in_outcome},
    oidc_flow::{FlowCheck, FlowCookies, NewFlow, SIGN_IN},
    pages::{Account, LinkedMethod, Message, ProviderButton, SignInMethod, render},
    session::{Visitor, safe_next, session_cookie},
};
use crate::{
    AppState,
    accounts::oidc::{OidcError, Provider, ProviderKind, VerifiedIdentity},
    mail::messages::{duration_text, utc_text},
};
use accounts_store::{
    access,
    audit::{self},
    email_verifications::{Confirms, PendingIdentity},
    identities::{self, IdentityKey, LinkError},
    sessions, users,
};

/// Where linking and unlinking land: the account's settings.
pub(crate) const SETTINGS_PATH: &str = "/account";

/// The buttons of the configured providers.
pub(crate) fn buttons(state: &AppState) -> Vec<ProviderButton> {
    state
        .oidc
        .kinds()
        .into_iter()
        .map(|kind| ProviderButton {
            name: kind.name(),
            label: kind.label(),
        })
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    next: Option<String>,
}

fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a Provider, PageError> {
    state.oidc.get(name).ok_or(PageError::NotFound)
}

fn failed(status: StatusCode, title: &str, why: &str, next: &str) -> PageError {
    let again = format!(
        "/sign-in?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    PageError::Explained(
        status,
        Message::new(title, &[why, "Nothing was changed."]).with_link(&again, "Back to sign in"),
    )
}

fn unavailable(kind: ProviderKind, err: &OidcError) -> PageError {
    tracing::warn!(provider = kind.name(), error = %err, "identity provider unavailable");
    PageError::Explained(
        StatusCode::SERVICE_UNAVAILABLE,
        Message::new(
            &format!("{} cannot be reached right now", kind.label()),
            &[
                "Please try again in a minute, or sign in with your email and password.",
                "Nothing was changed.",
            ],
        )
        .with_link("/sign-in", "Back to sign in"),
    )
}

/// `GET /auth/oidc/{provider}/start?next=…`: off to the provider to sign in (or sign up).
pub(crate) async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    visitor: Visitor,
    Query(query): Query<StartQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    redirect_to_provider(&state, &name, &visitor, None, &next).await
}

async fn redirect_to_provider(
    state: &AppState,
    name: &str,
    visitor: &Visitor,
    link_user_id: Option<Uuid>,
    next: &str,
) -> Result<Response, PageError> {
    let provider = provider(state, name)?;
    let Some(visitor_id) = visitor.visitor_id() else {
        return Err(PageError::Csrf);
    };
    let authorization = provider
        .authorize()
        .await
        .map_err(|err| unavailable(provider.kind(), &err))?;
    let flow = flow_cookies(state).started(&NewFlow {
        state: &authorization.state,
        visitor: visitor_id,
        provider: name,
        nonce: &authorization.nonce,
        pkce_verifier: &authorization.pkce_verifier,
        link_user_id,
        organization_id: None,
        next,
        lifetime: state.oidc_flow_ttl,
    });
    Ok((
        CookieJar::new().add(flow),
        Redirect::to(authorization.url.as_str()),
    )
        .into_response())
}

fn flow_cookies(state: &AppState) -> FlowCookies<'_> {
    FlowCookies {
        cipher: &state.cipher,
        secure: state.accounts.cookie_secure,
        kind: &SIGN_IN,
    }
}

/// `POST /account/sign-in-methods/{provider}/link`: a signed-in user adds a provider.
pub(crate) async fn link_start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    visitor: Visitor,
    axum::Form(form): axum::Form<super::account::CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(form.csrf())?;
    let user = visitor.require_user(SETTINGS_PATH)?;
    // Said before the trip to the provider; the callback checks again.
    let client = state.postgres.get().await?;
    if !users::lock_confirmed(&client, user.user_id).await? {
        return Err(super::email_verification::unconfirmed(
            &state,
            &visitor,
            &user.email,
            SETTINGS_PATH,
        ));
    }
    drop(client);
    redirect_to_provider(&state, &name, &visitor, Some(user.user_id), SETTINGS_PATH).await
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /auth/oidc/{provider}/callback`: the provider sends the browser back here. Every answer
/// for a configured provider counts in `onboarding_sign_ins_total`.
pub(crate) async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    visitor: Visitor,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let provider = provider(&state, &name)?;
    let (check, used_up) = match (query.state.as_deref(), visitor.visitor_id()) {
        (Some(flow_state), Some(visitor_id)) => {
            flow_cookies(&state).take(&jar, flow_state, visitor_id, &name)
        }
        _ => (FlowCheck::Unknown, None),
    };
    let answer = finish_callback(&state, provider, &name, visitor, jar, check, query).await;
    state
        .sign_ins
        .record(provider.kind().name(), sign_in_outcome(&answer));
    let answer = answer.into_response();
    Ok(match used_up {
        Some(used_up) => (CookieJar::new().add(used_up), answer).into_response(),
        None => answer,
    })
}

async fn finish_callback(
    state: &AppState,
    provider: &Provider,
    name: &str,
    visitor: Visitor,
    jar: CookieJar,
    check: FlowCheck,
    query: CallbackQuery,
) -> Result<Response, PageError> {
    let kind = provider.kind();
    let label = kind.label();
    let not_verified = |why: &str| {
        failed(
            StatusCode::BAD_REQUEST,
            &format!("This sign-in with {label} could not be verified"),
            why,
            "/",
        )
    };
    let flow = match check {
        FlowCheck::Valid(flow) => flow,
        FlowCheck::Used => {
            return Err(not_verified(
                "This answer was already used once. Start again from the sign-in page.",
            ));
        }
        FlowCheck::Expired => {
            return Err(not_verified(
                "It took too long. Start again from the sign-in page.",
            ));
        }
        refused => {
            tracing::info!(reason = %refused, provider = name, "sign-in callback refused");
            return Err(not_verified(
                "The answer did not belong to a sign-in started in this browser. Start again from the sign-in page.",
            ));
        }
    };
    let next = flow.next.clone();
    if let Some(error) = query.error.as_deref() {
        return Err(if error == "access_denied" {
            failed(
                StatusCode::FORBIDDEN,
                &format!("You did not sign in with {label}"),
                &format!("{label} said access was denied. Try again, or sign in another way."),
                &next,
            )
        } else {
            tracing::info!(
                provider = name,
                error,
                "identity provider answered an error"
            );
            failed(
                StatusCode::BAD_REQUEST,
                &format!("{label} could not sign you in"),
                "The provider answered with an error. Try again, or sign in another way.",
                &next,
            )
        });
    }
    // RFC 9207: an answer naming another issuer was meant for another provider (mix-up).
    if let Some(iss) = query.iss.as_deref()
        && !provider.names_issuer(iss).await
    {
        return Err(not_verified("The answer came from another provider."));
    }
    let Some(code) = query.code else {
        return Err(not_verified("The answer carried no authorization code."));
    };
    let identity = match provider.finish(code, flow.pkce_verifier, flow.nonce).await {
        Ok(identity) => identity,
        Err(err @ OidcError::Unavailable(_)) => return Err(unavailable(kind, &err)),
        Err(err) => {
            tracing::warn!(provider = name, error = %err, "ID token refused");
            return Err(failed(
                StatusCode::UNAUTHORIZED,
                &format!("{label}'s answer could not be verified"),
                "Its signed statement of who you are did not check out. Start again from the sign-in page.",
                &next,
            ));
        }
    };
    match flow.link_user_id {
        Some(user_id) => link(state, &visitor, user_id, &identity).await,
        None => sign_in(state, jar, &identity, &next).await,
    }
}

fn key(identity: &VerifiedIdentity) -> IdentityKey<'_> {
    IdentityKey {
        provider: identity.kind.name(),
        issuer: &identity.issuer,
        subject: &identity.subject,
    }
}

async fn sign_in(
    state: &AppState,
    jar: CookieJar,
    identity: &VerifiedIdentity,
    next: &str,
) -> Result<Response, PageError> {
    let kind = identity.kind;
    let label = kind.label();
    let email = identity
        .email
        .as_deref()
        .map(users::normalize_email)
        .filter(|email| users::plausible_email(email));
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let (user_id, user_email) = if let Some(found) = identities::user_of(
        &transaction,
        &key(identity),
        email.as_deref(),
        identity.email_verified,
    )
    .await?
    {
        found
    } else {
        let Some(email) = email else {
            return Err(failed(
                StatusCode::BAD_REQUEST,
                &format!("{label} did not give us your email address"),
                "MetaFrazo needs one to create your account. Sign up with your email and password instead.",
                next,
            ));
        };
        let existing = users::by_email(&transaction, &email).await?;
        let confirmed = match &existing {
            Some(existing) => users::lock_confirmed(&transaction, existing.id).await?,
            None => false,
        };
        match existing {
            // The provider vouches for the address. If nobody proved it before, whoever opened
            // this account on it (with a password, or another provider's unverified address)
            // loses it to the address's owner, with every way in they had.
            Some(existing) if identity.email_verified => {
                let claimed = if confirmed {
                    None
                } else {
                    Some(access::claim(&transaction, existing.id, &existing.email).await?)
                };
                identities::link(
                    &transaction,
                    existing.id,
                    &key(identity),
                    Some(&email),
                    identity.email_verified,
                )
                .await
                .map_err(|err| link_refused(kind, err))?;
                let (action, detail) = match claimed {
                    Some(ended) => {
                        tracing::info!(
                            provider = kind.name(),
                            "unconfirmed account taken back by the owner of its address"
                        );
                        (
                            "account_claimed",
                            format!("{} (verified email): {ended}", kind.name()),
                        )
                    }
                    None => (
                        "identity_linked",
                        format!("{} (verified email)", kind.name()),
                    ),
                };
                audit::record_for_account(
                    &transaction,
                    existing.id,
                    &existing.email,
                    action,
                    &detail,
                )
                .await?;
                (existing.id, existing.email)
            }
            Some(existing) => {
                // The nOAuth takeover: an unverified `email` claim naming someone's account.
                tracing::info!(
                    provider = kind.name(),
                    "sign-in refused: unverified email of an existing account"
                );
                let sign_in = format!(
                    "/sign-in?next={}&email={}",
                    url::form_urlencoded::byte_serialize(SETTINGS_PATH.as_bytes())
                        .collect::<String>(),
                    url::form_urlencoded::byte_serialize(existing.email.as_bytes())
                        .collect::<String>()
                );
                return Err(PageError::Explained(
                    StatusCode::CONFLICT,
                    Message::new(
                        &format!("Sign in the way you did before, then link {label}"),
                        &[
                            &format!(
                                "A MetaFrazo account for {} already exists, and {label} does not confirm that this address is yours, so we cannot sign you in to it this way.",
                                existing.email
                            ),
                            &format!(
                                "Sign in with your password, then link {label} in your account settings. Nothing was changed."
                            ),
                        ],
                    )
                    .with_link(&sign_in, "Sign in with your password"),
                ));
            }
            // An address nobody vouches for (Microsoft's `email`) creates nothing by itself:
            // the identity waits for its address to be confirmed by a link mailed to it.
            None if !identity.email_verified => {
                let pending = Confirms::Identity(PendingIdentity {
                    provider: kind.name().to_owned(),
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                });
                let sent = super::email_verification::send_link(
                    state,
                    &transaction,
                    &email,
                    &pending,
                    next,
                )
                .await?;
                transaction.commit().await?;
                state.outbox.wake();
                let mut paragraphs = vec![
                    format!(
                        "{label} does not confirm that {email} is yours, so MetaFrazo sent a link to that address. Open it to finish signing in; it works once, for {}.",
                        duration_text(state.accounts.email_verification_ttl)
                    ),
                    "No account was created yet.".to_owned(),
                ];
                if !sent {
                    paragraphs.push(
                        "Several links were sent to this address in the last hour: use the newest one, or try again later.".to_owned(),
                    );
                }
                let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
                return Ok(render(&Message::new("Check your inbox", &paragraphs)));
            }
            None => {
                let Some(user_id) = identities::create_user(&transaction, &email).await? else {
                    return Err(failed(
                        StatusCode::CONFLICT,
                        "Please try again",
                        "An account with this address was created at the same moment.",
                        next,
                    ));
                };
                identities::link(
                    &transaction,
                    user_id,
                    &key(identity),
                    Some(&email),
                    identity.email_verified,
                )
                .await
                .map_err(|err| link_refused(kind, err))?;
                // The provider vouched for the address.
                users::confirm(&transaction, user_id).await?;
                audit::record_for_account(&transaction, user_id, &email, "signed_up", kind.name())
                    .await?;
                (user_id, email)
            }
        }
    };
    let token = sessions::start_via(
        &transaction,
        user_id,
        state.accounts.session_ttl,
        kind.name(),
    )
    .await?;
    audit::record_for_account(&transaction, user_id, &user_email, "signed_in", kind.name()).await?;
    transaction.commit().await?;
    let jar = jar.add(session_cookie(
        token,
        state.accounts.session_ttl,
        state.accounts.cookie_secure,
    ));
    Ok((jar, Redirect::to(next)).into_response())
}

pub(crate) fn link_refused(kind: ProviderKind, err: LinkError) -> PageError {
    let label = kind.label();
    match err {
        LinkError::LinkedElsewhere => PageError::Explained(
            StatusCode::CONFLICT,
            Message::new(
                &format!("This {label} account belongs to another MetaFrazo account"),
                &[
                    &format!(
                        "It is already linked to another MetaFrazo account. Sign in with {label} to use that account, or unlink it there first."
                    ),
                    "Nothing was changed.",
                ],
            )
            .with_link(SETTINGS_PATH, "Back to your account"),
        ),
        LinkError::ProviderTaken => PageError::Explained(
            StatusCode::CONFLICT,
            Message::new(
                &format!("Your account already has a {label} sign-in"),
                &[
                    &format!("Unlink the {label} account linked now, then link this one."),
                    "Nothing was changed.",
                ],
            )
            .with_link(SETTINGS_PATH, "Back to your account"),
        ),
        LinkError::Postgres(err) => err.into(),
    }
}

async fn link(
    state: &AppState,
    visitor: &Visitor,
    user_id: Uuid,
    identity: &VerifiedIdentity,
) -> Result<Response, PageError> {
    // Still the same person: the link was asked for by this account, in this browser.
    let Some(user) = visitor.user.as_ref().filter(|user| user.user_id == user_id) else {
        return Err(failed(
            StatusCode::FORBIDDEN,
            "Sign in again to link this account",
            "You are no longer signed in as the account that asked for the link.",
            SETTINGS_PATH,
        ));
    };
    let kind = identity.kind;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    // An account opened on an address nobody proved gets no provider: it would outlive the
    // address's owner taking the account back.
    super::email_verification::require_confirmed(
        state,
        &transaction,
        visitor,
        user.user_id,
        &user.email,
        SETTINGS_PATH,
    )
    .await?;
    identities::link(
        &transaction,
        user.user_id,
        &key(identity),
        identity.email.as_deref(),
        identity.email_verified,
    )
    .await
    .map_err(|err| link_refused(kind, err))?;
    audit::record_for_account(
        &transaction,
        user.user_id,
        &user.email,
        "identity_linked",
        kind.name(),
    )
    .await?;
    transaction.commit().await?;
    Ok(Redirect::to(&format!("{SETTINGS_PATH}?done=linked")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// `GET /account`: the sign-in methods, to link and unlink.
pub(crate) async fn settings(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let user = visitor.require_user(SETTINGS_PATH)?;
    let client = state.postgres.get().await?;
    let account = users::by_email(&client, &user.email).await?;
    let has_password = account
        .as_ref()
        .is_some_and(|account| account.password_hash.is_some());
    let email_confirmed = account.is_some_and(|account| account.email_confirmed);
    let linked = identities::of_user(&client, user.user_id).await?;
    let mut methods: Vec<SignInMethod> = state
        .oidc
        .kinds()
        .into_iter()
        .map(|kind| SignInMethod {
            name: kind.name(),
            label: kind.label(),
            linked: None,
        })
        .collect();
    for identity in &linked {
        let row = LinkedMethod {
            email: identity.email.clone(),
            since: utc_text(identity.created_at),
            last_used: utc_text(identity.last_used_at),
        };
        match methods.iter_mut().find(|m| m.name == identity.provider) {
            Some(method) => method.linked = Some(row),
            // Linked earlier to a provider no longer configured: still shown, to unlink.
            None => {
                if let Some(kind) = ProviderKind::from_name(&identity.provider) {
                    methods.push(SignInMethod {
                        name: kind.name(),
                        label: kind.label(),
                        linked: Some(row),
                    });
                }
            }
        }
    }
    let ways_in = linked.len() + usize::from(has_password);
    drop(client);
    let jira = super::atlassian_account::rows(&state, user.user_id).await?;
    Ok(render(&Account {
        csrf: &visitor.csrf,
        email: &user.email,
        email_confirmed,
        has_password,
        methods,
        can_unlink: ways_in > 1,
        jira,
        notice: match done.done.as_deref() {
            Some("linked") => Some("Linked. You can now sign in with it."),
            Some("unlinked") => Some("Unlinked. It no longer signs you in."),
            Some("atlassian_linked") => Some("Your Atlassian account is connected."),
            Some("atlassian_unlinked") => Some("Your Atlassian account is disconnected."),
            _ => None,
        },
    }))
}

/// `POST /account/sign-in-methods/{provider}/unlink`: only while another way in remains.
pub(crate) async fn unlink(
    State(state): State<AppState>,
    Path(name): Path<String>,
    visitor: Visitor,
    axum::Form(form): axum::Form<super::account::CsrfOnly>,
) -> Result<Response, PageError> {
    visitor.check_csrf(form.csrf())?;
    let user = visitor.require_user(SETTINGS_PATH)?;
    let Some(kind) = ProviderKind::from_name(&name) else {
        return Err(PageError::NotFound);
    };
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !identities::unlink(&transaction, user.user_id, kind.name()).await? {
        return Err(PageError::Explained(
            StatusCode::CONFLICT,
            Message::new(
                &format!("{} is not unlinked", kind.label()),
                &[
                    "It is not linked, or it is your only way to sign in: set up another first.",
                    "Nothing was changed.",
                ],
            )
            .with_link(SETTINGS_PATH, "Back to your account"),
        ));
    }
    audit::record_for_account(
        &transaction,
        user.user_id,
        &user.email,
        "identity_unlinked",
        kind.name(),
    )
    .await?;
    transaction.commit().await?;
    Ok(Redirect::to(&format!("{SETTINGS_PATH}?done=unlinked")).into_response())
}
