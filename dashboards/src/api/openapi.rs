//! The OpenAPI document of `/api/v1/`, generated from the handlers' `#[utoipa::path]` and the
//! view-models' schemas, so it says what the code serves: a renamed field or a new count
//! changes the document with it.

use std::sync::LazyLock;

use axum::{http::header, response::IntoResponse};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MetaFrazo analytics API",
        version = "1.0.0",
        description = "Weekly rates, trends, flow metrics, sprints, time logged and single events of the Jira workspaces connected to an organization, and its members' saved views. Authenticate with the session cookie of a signed-in member or a per-user API token (`Authorization: Bearer mfp_…`). Every call answers only for the caller's organizations; another organization's ids answer 404. Errors are `{\"error\": code, \"message\": what to do}`. Every count is of distinct deliveries (a delivery Jira retried counts once), and of what happened since a workspace was connected: MetaFrazo never copies history."
    ),
    servers((url = "/")),
    tags((name = "analytics", description = "An organization's Jira activity: the same views as the pages")),
    paths(super::organizations, super::weekly_rates, super::trends, super::flow, super::sprints, super::time_logged, super::events, super::event, super::saved_views::saved_views),
    modifiers(&Credentials),
    security(("apiToken" = []), ("session" = [])),
)]
pub(crate) struct ApiDoc;

/// The two ways to authenticate, as `access` reads them.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A per-user API token, created on onboarding's account page (API tokens).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                accounts_store::sessions::SESSION_COOKIE,
            ))),
        );
    }
}

/// Generated once: the document depends on nothing but the code.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|err| serde_json::json!({ "error": err.to_string() }).to_string())
});

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::trends::TREND_FIELDS;

    #[test]
    fn the_document_says_what_each_kind_and_field_counts() {
        // A kind or trend field added to the code without a word in the doc comments fails here.
        for name in warehouse::queries::weekly_rates::KINDS
            .iter()
            .chain(TREND_FIELDS)
        {
            assert!(
                DOCUMENT.contains(&format!("`{name}`")),
                "the OpenAPI document does not explain `{name}`"
            );
        }
    }
}
