//! The one place a failed dashboards request becomes a response.

use askama::Template;
use axum::{
    http::{StatusCode, Uri},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Serialize;
use service_runtime::http_metrics::Refusal;
use utoipa::ToSchema;

/// Escapes what it shows: a bad request's reason may quote the request.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    advice: &'a str,
    /// Where the advice sends the visitor, if somewhere: (address, words of the link).
    action: Option<(&'a str, &'a str)>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DashboardError {
    #[error("not signed in")]
    SignInFirst { sign_in_url: String },
    /// Also what a non-member gets for another organization's pages.
    #[error("no such page")]
    NotFound,
    #[error("your role does not allow this: {0}")]
    Forbidden(&'static str),
    /// The organization shows members only what their Jira account can see, and this member
    /// has linked none: nothing but the way to link one.
    #[error(
        "this organization shows members only what their Jira account can see: link your Jira account at {account_url}"
    )]
    LinkJiraFirst { account_url: String },
    /// Jira could not say what the member may see, and no answer young enough is kept: nothing
    /// is shown rather than everything.
    #[error("Jira cannot be asked what your account may see; retry in a minute")]
    JiraUnavailable(#[source] jira_permissions::VisibilityError),
    #[error("this address does not take that method")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    /// A form whose CSRF token is not this browser's, or posted from another site's page.
    #[error("the form was not sent from one of our pages")]
    Csrf,
    /// A form that cannot be acted on as sent; the reason names the field and what to change.
    #[error("{0}")]
    InvalidForm(String),
    /// A form that would take what is already taken (a saved view's name).
    #[error("{0}")]
    Conflict(String),
    #[error("the form could not be read whole")]
    FormUnreadable(FormProblem),
    /// The view asks more of the shared warehouse than one request may (its time, rows or
    /// memory limit, `DASHBOARDS_QUERY_MAX_*`): the caller narrows it.
    #[error("this view reads more than one request may; narrow the range, workspaces or filters")]
    TooLarge(#[source] clickhouse::error::Error),
    // The variants below are our trouble, not the caller's: a 503 whose body says only to
    // retry; each keeps its cause, which the request middleware logs once (`Refusal::of`).
    #[error("Postgres failed")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no Postgres connection")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("the warehouse query failed")]
    Warehouse(#[source] warehouse::queries::QueryError),
    /// Reading the rows of a streamed export, after the query was accepted.
    #[error("reading the warehouse")]
    WarehouseRead(#[source] clickhouse::error::Error),
    #[error("writing CSV")]
    Csv(#[from] csv::Error),
}

/// Why a form's body was not read (`forms::same_origin_posts`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum FormProblem {
    TooLarge,
    BrokenOff,
    TooSlow,
}

impl FormProblem {
    fn status_and_code(self) -> (StatusCode, &'static str) {
        match self {
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "form_too_large"),
            Self::BrokenOff => (StatusCode::BAD_REQUEST, "form_broken_off"),
            Self::TooSlow => (StatusCode::REQUEST_TIMEOUT, "form_too_slow"),
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Self::TooLarge => "Forms here hold a few fields. Go back and send it again.",
            Self::BrokenOff => {
                "The connection broke while it was being sent. Go back and send it again."
            }
            Self::TooSlow => "Check your connection, go back and send it again.",
        }
    }
}

/// ClickHouse's codes for a query stopped by one of the limits the dashboards set.
const LIMIT_CODES: &[&str] = &[
    "Code: 158", // TOO_MANY_ROWS
    "Code: 159", // TIMEOUT_EXCEEDED
    "Code: 241", // MEMORY_LIMIT_EXCEEDED
    "Code: 307", // TOO_MANY_BYTES
];

fn hit_a_limit(err: &clickhouse::error::Error) -> bool {
    matches!(err, clickhouse::error::Error::BadResponse(reason)
    if LIMIT_CODES.iter().any(|code| {
        reason.starts_with(code) && !reason[code.len()..].starts_with(char::is_numeric)
    }))
}

impl From<clickhouse::error::Error> for DashboardError {
    fn from(err: clickhouse::error::Error) -> Self {
        if hit_a_limit(&err) {
            Self::TooLarge(err)
        } else {
            Self::WarehouseRead(err)
        }
    }
}

impl From<warehouse::queries::QueryError> for DashboardError {
    fn from(err: warehouse::queries::QueryError) -> Self {
        match err {
            warehouse::queries::QueryError::Warehouse(err) if hit_a_limit(&err) => {
                Self::TooLarge(err)
            }
            other => Self::Warehouse(other),
        }
    }
}

impl DashboardError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::SignInFirst { .. } => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::LinkJiraFirst { .. } => (StatusCode::FORBIDDEN, "jira_account_not_linked"),
            Self::JiraUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "jira_unavailable"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::BadRequest(_) | Self::InvalidForm(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::FormUnreadable(problem) => problem.status_and_code(),
            Self::TooLarge(_) => (StatusCode::UNPROCESSABLE_ENTITY, "too_large"),
            Self::Postgres(_)
            | Self::Pool(_)
            | Self::Warehouse(_)
            | Self::WarehouseRead(_)
            | Self::Csv(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }

    /// For the request middleware's log: the code, and the error with every cause under it.
    fn refusal(&self) -> Refusal {
        Refusal::of(self.status_and_code().1, self)
    }
}

/// The same errors for the JSON API: `{"error": code, "message": what to do}`.
pub(crate) struct ApiError(pub(crate) DashboardError);

/// What the API answers when it refuses or fails.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// `unauthenticated` (401), `forbidden` (403), `jira_account_not_linked` (403: the
    /// organization shows members only what their Jira account can see; link one),
    /// `not_found` (404), `bad_request` (400), `method_not_allowed` (405), `too_large` (422: the
    /// view reads more than one request may; narrow it), `jira_unavailable` (503: Jira did not
    /// say what the account may see; retry) or `store_unavailable` (503).
    error: &'static str,
    /// What to do about it, for a person.
    message: String,
}

impl<E: Into<DashboardError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.0.status_and_code();
        let message = match &self.0 {
            DashboardError::SignInFirst { .. } => {
                "send a session cookie or an API token (Authorization: Bearer mfp_…)".to_owned()
            }
            DashboardError::JiraUnavailable(_) => self.0.to_string(),
            // Our trouble: the cause is for the operator's log, not the caller.
            err if err.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE => {
                "temporarily unavailable; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: code,
            message,
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(self.0.refusal());
        response
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let mut action = None;
        let (status, code, title, advice) = match &self {
            Self::SignInFirst { sign_in_url } => return Redirect::to(sign_in_url).into_response(),
            Self::LinkJiraFirst { account_url } => {
                action = Some((account_url.as_str(), "Link your Jira account"));
                (
                    StatusCode::FORBIDDEN,
                    "jira_account_not_linked",
                    "Link your Jira account to see this organization",
                    "This organization shows each member only the Jira projects and issues their own Jira account may see. Link your Jira account on your account page, then come back.",
                )
            }
            Self::JiraUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "jira_unavailable",
                "Jira is not answering",
                "This organization shows each member only what their Jira account may see, and Jira did not say what yours may. Nothing is shown until it does: try again in a minute.",
            ),
            Self::BadRequest(reason) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "That view cannot be shown",
                reason.as_str(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Page not found",
                "There is nothing here, or it is not yours to see.",
            ),
            Self::Forbidden(what) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed", *what),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                "Please try again",
                "This form was not sent from a MetaFrazo page in this browser. Go back, reload the page and send it again.",
            ),
            Self::InvalidForm(reason) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "That was not saved",
                reason.as_str(),
            ),
            Self::Conflict(reason) => (
                StatusCode::CONFLICT,
                "conflict",
                "That name is taken",
                reason.as_str(),
            ),
            Self::FormUnreadable(problem) => {
                let (status, code) = problem.status_and_code();
                (
                    status,
                    code,
                    "That form could not be read",
                    problem.advice(),
                )
            }
            Self::TooLarge(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_large",
                "That view is too large",
                "It reads more than one page may. Choose fewer weeks, fewer workspaces or a filter.",
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This page cannot be opened that way",
                "Pages here are opened with GET; a form is sent from the page it is on.",
            ),
            Self::Postgres(_)
            | Self::Pool(_)
            | Self::Warehouse(_)
            | Self::WarehouseRead(_)
            | Self::Csv(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "Dashboards are briefly unavailable",
                "Please try again in a minute.",
            ),
        };
        let body = ErrorPage {
            title,
            advice,
            action,
        }
        .render()
        .unwrap_or_else(|_| title.to_owned());
        let mut response = (status, Html(body)).into_response();
        debug_assert_eq!(code, self.status_and_code().1);
        response.extensions_mut().insert(self.refusal());
        response
    }
}

/// Any path no route answers: JSON under `/api/`, where notebooks read it, a page elsewhere.
pub(crate) async fn no_such_route(uri: Uri) -> Response {
    answer_for(&uri, DashboardError::NotFound)
}

/// A route asked with a method it does not take; axum adds the `Allow` header.
pub(crate) async fn wrong_method(uri: Uri) -> Response {
    answer_for(&uri, DashboardError::MethodNotAllowed)
}

fn answer_for(uri: &Uri, err: DashboardError) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(err).into_response()
    } else {
        err.into_response()
    }
}
