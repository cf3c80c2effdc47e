//! `GET /atlassian-connect.json`: the Connect app descriptor Atlassian reads when an admin
//! installs the app. Read-only scopes; signed install callbacks; every event family we analyse.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::AppState;

pub const LIFECYCLE_PATH: &str = "/atlassian/lifecycle";
pub const EVENTS_PATH: &str = "/atlassian/events";
pub const ADMIN_PAGE_PATH: &str = "/atlassian/admin";

/// Every Jira webhook event we subscribe to, by family.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
    "issuelink_created",
    "issuelink_deleted",
    "sprint_created",
    "sprint_updated",
    "sprint_deleted",
    "sprint_started",
    "sprint_closed",
    "board_created",
    "board_updated",
    "board_deleted",
    "board_configuration_changed",
    "project_created",
    "project_updated",
    "project_deleted",
    "jira:version_created",
    "jira:version_updated",
    "jira:version_deleted",
    "jira:version_released",
    "jira:version_unreleased",
    "jira:version_moved",
    "jira:version_merged",
    "user_created",
    "user_updated",
    "user_deleted",
];

pub(crate) async fn descriptor(State(state): State<AppState>) -> Json<Value> {
    Json(build(&state.atlassian.base_url(), &state.atlassian.app_key))
}

pub fn build(base_url: &str, app_key: &str) -> Value {
    let webhooks: Vec<Value> = WEBHOOK_EVENTS
        .iter()
        .map(|event| json!({"event": event, "url": EVENTS_PATH}))
        .collect();
    json!({
        "key": app_key,
        "name": "MetaFrazo",
        "description": "Weekly rates, trends and single events of your Jira activity, for governance, ops and security teams.",
        "vendor": {"name": "MetaFrazo", "url": base_url},
        "baseUrl": base_url,
        "apiVersion": 1,
        "authentication": {"type": "jwt"},
        // Atlassian signs install callbacks with its RS256 keys only for apps that opt in.
        "apiMigrations": {"signed-install": true, "context-qsh": true},
        // Read-only: we never write to Jira. Email addresses find the installing admin.
        "scopes": ["READ", "ACCESS_EMAIL_ADDRESSES"],
        "lifecycle": {
            "installed": format!("{LIFECYCLE_PATH}/installed"),
            "uninstalled": format!("{LIFECYCLE_PATH}/uninstalled"),
            "enabled": format!("{LIFECYCLE_PATH}/enabled"),
            "disabled": format!("{LIFECYCLE_PATH}/disabled"),
        },
        "modules": {
            "webhooks": webhooks,
            "adminPages": [{
                "key": "metafrazo-admin",
                "name": {"value": "MetaFrazo"},
                "url": ADMIN_PAGE_PATH,
                // Jira shows the page to site admins only.
                "conditions": [{"condition": "user_is_admin"}],
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_asks_for_no_write_scope_and_subscribes_to_every_family() {
        let descriptor = build("https://metafrazo.example", "io.metafrazo.jira");
        let scopes = descriptor["scopes"].as_array().unwrap();
        assert!(
            scopes
                .iter()
                .all(|scope| scope == "READ" || scope == "ACCESS_EMAIL_ADDRESSES")
        );
        let events: Vec<&str> = descriptor["modules"]["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hook| hook["event"].as_str().unwrap())
            .collect();
        for family in [
            "issue",
            "comment",
            "worklog",
            "issuelink",
            "sprint",
            "board",
            "project",
            "version",
            "user",
        ] {
            assert!(
                events.iter().any(|event| event.contains(family)),
                "no webhook for the {family} family"
            );
        }
        assert_eq!(descriptor["authentication"]["type"], "jwt");
        assert_eq!(descriptor["baseUrl"], "https://metafrazo.example");
    }

    /// The admin page's POSTs trust any context JWT of the installation, so no module may be
    /// visible to anyone but a Jira administrator: Jira opens admin pages to administrators
    /// only, and a context JWT for our app is minted only inside our own iframes. A module for
    /// everyone (a general page, a web panel) would hand every user a token these POSTs accept;
    /// adding one means checking the user's ADMINISTER permission first (as the Forge admin
    /// page does, `JiraUsers::administers_jira`).
    #[test]
    fn every_module_that_shows_a_page_is_an_admin_page_for_administrators_only() {
        let descriptor = build("https://metafrazo.example", "io.metafrazo.jira");
        let modules = descriptor["modules"].as_object().unwrap();
        let kinds: Vec<&str> = modules.keys().map(String::as_str).collect();
        assert_eq!(
            kinds,
            ["adminPages", "webhooks"],
            "a module that shows a page to users"
        );
        for page in modules["adminPages"].as_array().unwrap() {
            assert_eq!(
                page["conditions"],
                serde_json::json!([{"condition": "user_is_admin"}])
            );
        }
    }
}
