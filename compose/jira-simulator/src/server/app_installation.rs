//! What Jira answers an app asking whether it is still installed, which onboarding does before a
//! setup link connects a workspace. A Connect app asks `GET
//! /rest/atlassian-connect/1/addons/{addonKey}` with a Connect JWT (HS256 with the shared secret,
//! `iss` the app key, qsh), checked as the email lookup checks it; a Forge app calls `GET
//! /rest/api/3/myself` with its app system token, which Jira revokes at uninstall.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    ServerState,
    app_auth::{site_path, verified},
    user_email::token,
};
use crate::qsh::connect_qsh;

fn jira_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message], "errors": {} })),
    )
        .into_response()
}

fn unavailable() -> Response {
    jira_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Jira is unavailable; try again later",
    )
}

pub(super) async fn connect_addon(
    State(state): State<ServerState>,
    Path(addon_key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if state.registry.installation_check_fails() {
        return unavailable();
    }
    let query = uri.query().unwrap_or_default().to_owned();
    let Some(token) = token(&headers, &query) else {
        return jira_error(StatusCode::UNAUTHORIZED, "no Connect JWT");
    };
    // The lookup may read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    let signed_with = token.clone();
    let found = tokio::task::spawn_blocking(move || {
        registry.connect_signed(|installation| verified(&signed_with, installation).is_some())
    })
    .await
    .ok()
    .flatten();
    // No installation's secret verifies it: Jira cannot tell who is asking.
    let Some((installation, installed)) = found else {
        return jira_error(
            StatusCode::UNAUTHORIZED,
            "the JWT is not signed by an app installed here, or has expired",
        );
    };
    let Some(claims) = verified(&token, &installation) else {
        return jira_error(StatusCode::UNAUTHORIZED, "the JWT is not valid");
    };
    if claims.qsh != connect_qsh("GET", uri.path(), &query, &site_path(&installation)) {
        return jira_error(
            StatusCode::UNAUTHORIZED,
            "the JWT's qsh does not match this request",
        );
    }
    if !installed || addon_key != installation.app_key {
        return jira_error(
            StatusCode::NOT_FOUND,
            &format!("no app with key {addon_key} is installed"),
        );
    }
    tracing::debug!(client_key = %installation.client_key, "connect addon status");
    // The fields of Jira's answer an app reads; the licence is left out (the app is free).
    Json(json!({
        "key": installation.app_key,
        "version": "1",
        "state": "ENABLED",
        "host": {
            "product": "Jira",
            "baseUrl": installation.site_base_url,
            "clientKey": installation.client_key,
        },
        "links": {
            "self": [{
                "href": format!(
                    "{}/rest/atlassian-connect/1/addons/{}",
                    installation.site_base_url.trim_end_matches('/'),
                    installation.app_key
                ),
            }],
        },
    }))
    .into_response()
}

/// `GET /rest/api/3/myself`: the calling account. With an app system token that is the app's
/// own account; with a user token, that user. Anything else gets 401, as a token Jira revoked
/// at uninstall does.
pub(super) async fn myself(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if state.registry.installation_check_fails() {
        return unavailable();
    }
    let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned())
    else {
        return jira_error(StatusCode::UNAUTHORIZED, "no bearer token");
    };
    // The lookups may read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    let account = tokio::task::spawn_blocking(move || {
        if let Some(app) = registry.forge_user(&bearer) {
            return Some(json!({
                "accountId": format!("app:{}", app.installation_id),
                "accountType": "app",
                "active": true,
                "displayName": "MetaFrazo",
            }));
        }
        registry.forge_ui_user(&bearer).map(|user| {
            json!({
                "accountId": user.account_id,
                "accountType": "atlassian",
                "active": true,
            })
        })
    })
    .await
    .ok()
    .flatten();
    match account {
        Some(account) => Json(account).into_response(),
        None => jira_error(StatusCode::UNAUTHORIZED, "the token is not valid"),
    }
}
