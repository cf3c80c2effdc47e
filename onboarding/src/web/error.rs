//! The one place a failed page request becomes a response: a readable page with the right
//! status, never our internals.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use service_runtime::http_metrics::Refusal;

use super::pages::{ConfirmEmailPending, Message, render};
use crate::{
    accounts::passwords::HashingError, atlassian::app_installed::AppInstalledError,
    mail::messages::duration_text, metrics::SignInOutcome,
};
use accounts_store::organizations::MembershipError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// Also what a non-member gets for another organization's pages, so ids reveal nothing.
    #[error("no such page")]
    NotFound,
    #[error("your role does not allow this: {0}")]
    Forbidden(&'static str),
    #[error("the form was not sent from MetaFrazo's own page, or it expired")]
    Csrf,
    /// Too many failed passwords for the address, or from the client whatever the address.
    #[error("too many attempts")]
    TooManyAttempts {
        retry_after_secs: u64,
        from_client: bool,
    },
    /// Every password hashing slot is taken: come back in a few seconds.
    #[error("too many sign-ins at once")]
    Busy,
    #[error("{}", .1.title)]
    Explained(StatusCode, Message),
    #[error("the store is unavailable")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the store is unavailable")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A step that should not fail did (a hashing task, the warehouse's erase); its context
    /// says which.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    /// Jira did not confirm that the app is still installed on the workspace's site.
    #[error(transparent)]
    AppNotConfirmed(#[from] AppInstalledError),
    /// Not an error to show: the page needs a signed-in user, who comes back to this path.
    #[error("sign in first")]
    SignInFirst(String),
    /// The account's address is not confirmed, and the step needs it (joining an organization,
    /// connecting a workspace, linking a provider).
    #[error("the account's email address is not confirmed")]
    UnconfirmedAddress(Box<Unconfirmed>),
}

/// What the "confirm your email address first" page needs to offer a new link.
#[derive(Debug)]
pub(crate) struct Unconfirmed {
    pub email: String,
    /// Where to come back once confirmed.
    pub next: String,
    pub csrf: String,
    pub valid_for: std::time::Duration,
}

impl PageError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Csrf => "csrf",
            Self::TooManyAttempts { .. } => "rate_limited",
            Self::Busy => "busy",
            Self::Explained(..) => "explained",
            Self::Postgres(_) | Self::Pool(_) => "store_unavailable",
            Self::Unexpected(_) => "unexpected",
            Self::AppNotConfirmed(AppInstalledError::CannotAsk { .. }) => "jira_unavailable",
            Self::AppNotConfirmed(_) => "app_not_installed",
            Self::SignInFirst(_) => "sign_in_first",
            Self::UnconfirmedAddress(_) => "unconfirmed_address",
        }
    }
}

impl PageError {
    /// Our trouble, not the visitor's: the same "briefly unavailable" page, and a 503.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Postgres(_) | Self::Pool(_) | Self::Unexpected(_)
        )
    }
}

impl From<HashingError> for PageError {
    fn from(err: HashingError) -> Self {
        match err {
            HashingError::Busy => Self::Busy,
            HashingError::Task(err) => {
                Self::Unexpected(anyhow::Error::new(err).context("hashing a password"))
            }
        }
    }
}

impl From<MembershipError> for PageError {
    fn from(err: MembershipError) -> Self {
        match err {
            MembershipError::LastOwner => Self::Explained(
                StatusCode::CONFLICT,
                Message::new(
                    "An organization keeps at least one owner",
                    &["Make another member an owner first, then try again."],
                ),
            ),
            MembershipError::NoSuchMember => Self::NotFound,
            MembershipError::Postgres(err) => err.into(),
        }
    }
}

/// A setup link used while Jira says the app is gone, or cannot say: nothing was created, and
/// the link still works.
fn app_not_confirmed(err: &AppInstalledError) -> (StatusCode, Message) {
    match err {
        AppInstalledError::ConnectNotInstalled { site, .. } => (
            StatusCode::CONFLICT,
            Message::new(
                &format!("Jira says MetaFrazo is no longer installed on {site}"),
                &[
                    &format!(
                        "Jira says MetaFrazo is no longer installed on {site}: install it again from the Atlassian Marketplace, then use the new email."
                    ),
                    "Nothing was created, and this link was not used up.",
                ],
            ),
        ),
        // A Forge token may also have expired rather than been revoked: say how to renew it.
        AppInstalledError::ForgeTokenRefused { site, .. } => (
            StatusCode::CONFLICT,
            Message::new(
                &format!("Jira says MetaFrazo is no longer installed on {site}"),
                &[
                    &format!(
                        "Jira says MetaFrazo is no longer installed on {site}: install it again from the Atlassian Marketplace, then use the new email."
                    ),
                    "If MetaFrazo is still installed there, open Apps → MetaFrazo in Jira once (that renews MetaFrazo's access to Jira), then use this link again.",
                    "Nothing was created, and this link was not used up.",
                ],
            ),
        ),
        AppInstalledError::CannotAsk { site, .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            Message::new(
                "Jira cannot confirm the connection right now",
                &[
                    &format!(
                        "Before connecting, MetaFrazo asks Jira that the app is still installed on {site}, and Jira did not answer. Please try again in a minute."
                    ),
                    "Nothing was created, and this link still works.",
                ],
            ),
        ),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let refusal = Refusal::of(self.code(), &self);
        let (status, message) = match self {
            Self::SignInFirst(next) => {
                let target = format!(
                    "/sign-in?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                return axum::response::Redirect::to(&target).into_response();
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                Message::new(
                    "Page not found",
                    &["There is nothing here, or it is not yours to see."],
                )
                .with_link(super::ORGANIZATIONS_PATH, "Go to your organizations"),
            ),
            Self::Forbidden(what) => (
                StatusCode::FORBIDDEN,
                Message::new(
                    "Not allowed",
                    &[
                        what,
                        "Ask an owner or admin of the organization if you need this.",
                    ],
                ),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                Message::new(
                    "Please try again",
                    &[
                        "This form was not sent from a MetaFrazo page, or the page was open too long. Go back, reload the page and send it again.",
                    ],
                ),
            ),
            Self::TooManyAttempts {
                retry_after_secs,
                from_client,
            } => {
                let minutes = retry_after_secs.div_ceil(60);
                let (why, way_out) = if from_client {
                    (
                        format!(
                            "There were too many failed sign-ins from your network. Try again in {minutes} minutes."
                        ),
                        "Nothing about your account changed.",
                    )
                } else {
                    (
                        format!(
                            "There were too many failed sign-ins for this address. Try again in {minutes} minutes."
                        ),
                        "If it is your address, resetting your password lets you in at once.",
                    )
                };
                let message = Message::new("Too many attempts", &[&why, way_out]);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    if from_client {
                        message
                    } else {
                        message.with_link("/forgot-password", "Reset your password")
                    },
                )
            }
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                Message::new(
                    "MetaFrazo is busy",
                    &[
                        "Many people are signing in right now. Nothing was changed; please send the form again in a few seconds.",
                    ],
                ),
            ),
            Self::UnconfirmedAddress(unconfirmed) => {
                let page = render(&ConfirmEmailPending {
                    title: "Confirm your email address first",
                    first_step: false,
                    csrf: &unconfirmed.csrf,
                    email: &unconfirmed.email,
                    next: &unconfirmed.next,
                    valid_for: &duration_text(unconfirmed.valid_for),
                    notice: None,
                    error: None,
                });
                let mut response = (StatusCode::FORBIDDEN, page).into_response();
                response.extensions_mut().insert(refusal);
                return response;
            }
            Self::Explained(status, message) => (status, message),
            Self::AppNotConfirmed(ref err) => app_not_confirmed(err),
            Self::Postgres(_) | Self::Pool(_) | Self::Unexpected(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Message::new(
                    "MetaFrazo is briefly unavailable",
                    &["Nothing was changed. Please try again in a minute."],
                ),
            ),
        };
        let busy = refusal.code == "busy";
        let mut response = (status, render(&message)).into_response();
        if let Some(retry_after) = match status {
            // A hashing slot frees within milliseconds.
            StatusCode::SERVICE_UNAVAILABLE if busy => Some(5),
            StatusCode::SERVICE_UNAVAILABLE => Some(30),
            StatusCode::TOO_MANY_REQUESTS => Some(60),
            _ => None,
        } {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.into());
        }
        response.extensions_mut().insert(refusal);
        response
    }
}

/// How a sign-in page's answer ended, for `onboarding_sign_ins_total`. It lives here, beside the
/// errors it reads, so the metrics module needs nothing from the web layer.
pub(crate) fn sign_in_outcome(answer: &Result<Response, PageError>) -> SignInOutcome {
    match answer {
        Ok(_) => SignInOutcome::Succeeded,
        Err(PageError::TooManyAttempts { .. } | PageError::Busy) => SignInOutcome::RateLimited,
        Err(err) if err.is_unavailable() => SignInOutcome::Unavailable,
        Err(PageError::Explained(status, _)) if *status == StatusCode::SERVICE_UNAVAILABLE => {
            SignInOutcome::Unavailable
        }
        Err(_) => SignInOutcome::Refused,
    }
}
