//! The dashboards' pages, server-rendered from `templates/`.

mod drill_down;
pub(crate) mod events;
pub(crate) mod flow;
mod frame;
pub(crate) mod overview;
pub(crate) mod saved_views;
pub(crate) mod sprints;
pub(crate) mod time_logged;
pub(crate) mod trends;
pub(crate) mod troubleshooting;
pub(crate) mod weekly;

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Renders a page; a template that fails is our bug, answered with a plain 500.
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
