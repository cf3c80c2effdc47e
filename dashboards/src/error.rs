//! The one place a failed dashboards request becomes a response.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use service_kit::http_metrics::Refusal;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DashboardError {
    #[error("not signed in")]
    SignInFirst { sign_in_url: String },
    /// Also what a non-member gets for another organization's pages.
    #[error("no such page")]
    NotFound,
    #[error("your role does not allow this: {0}")]
    Forbidden(&'static str),
    #[error("the store is unavailable: {0}")]
    Store(String),
}

impl From<tokio_postgres::Error> for DashboardError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Store(err.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for DashboardError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Store(err.to_string())
    }
}

impl From<warehouse::queries::QueryError> for DashboardError {
    fn from(err: warehouse::queries::QueryError) -> Self {
        Self::Store(err.to_string())
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, code, title, advice) = match &self {
            Self::SignInFirst { sign_in_url } => return Redirect::to(sign_in_url).into_response(),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Page not found",
                "There is nothing here, or it is not yours to see.",
            ),
            Self::Forbidden(what) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed", *what),
            Self::Store(err) => {
                tracing::error!(error = %err, "dashboards request failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "Dashboards are briefly unavailable",
                    "Please try again in a minute.",
                )
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title} · MetaFrazo</title>\
             <body style=\"font-family: system-ui, sans-serif; max-width: 640px; margin: 40px auto\">\
             <h1>{title}</h1><p>{advice}</p><p><a href=\"/\">MetaFrazo</a></p></body></html>"
        );
        let mut response = (status, Html(body)).into_response();
        response.extensions_mut().insert(Refusal {
            code,
            reason: self.to_string(),
            installation: None,
        });
        response
    }
}
