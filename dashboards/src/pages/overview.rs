//! `GET /orgs/{organization}`: where a finished setup lands. Before the first event it is the
//! empty state that says what to expect; afterwards it says events are arriving.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};

use crate::{AppState, access, error::DashboardError};

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview<'a> {
    organization: &'a str,
    organization_id: String,
    onboarding_url: &'a str,
    email: &'a str,
    role: &'a str,
    last_event: Option<String>,
    can_export: bool,
    /// Name, state.
    workspaces: Vec<(String, String)>,
}

pub(crate) async fn overview(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let member =
        access::member(&state.postgres, &headers, &organization, &state.sign_in_url).await?;
    let mut last_event = None;
    for installation in &member.installations {
        let last =
            warehouse::queries::last_event_received(&state.warehouse, &installation.client_key)
                .await?;
        last_event = last_event.max(last);
    }
    let page = Overview {
        organization: &member.organization_name,
        organization_id: member.organization_id.to_string(),
        onboarding_url: state.onboarding_url.as_str().trim_end_matches('/'),
        email: &member.user.email,
        role: member.role.as_str(),
        last_event: last_event.map(|at| {
            chrono::DateTime::<chrono::Utc>::from(at)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        }),
        can_export: member.role.can_export(),
        workspaces: member
            .installations
            .iter()
            .map(|installation| {
                let name = if installation.display_name.is_empty() {
                    installation.base_url.clone()
                } else {
                    installation.display_name.clone()
                };
                (name, installation.state.clone())
            })
            .collect(),
    };
    match page.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "overview failed to render");
            Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}
