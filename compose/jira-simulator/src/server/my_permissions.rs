//! `GET /rest/api/3/mypermissions?permissions=…`: which permissions the calling user has, as Jira
//! answers a Forge app calling with `Authorization: Bearer <user token>`. Onboarding asks it for
//! `ADMINISTER` before the Forge admin page's calls show or mint anything.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, json};

use super::ServerState;

#[derive(Deserialize)]
pub(super) struct Params {
    #[serde(default)]
    permissions: Option<String>,
}

fn jira_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message], "errors": {} })),
    )
        .into_response()
}

pub(super) async fn my_permissions(
    State(state): State<ServerState>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned());
    // The lookup may read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    let user = match token {
        Some(token) => tokio::task::spawn_blocking(move || registry.forge_ui_user(&token))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let Some(user) = user else {
        return jira_error(StatusCode::UNAUTHORIZED, "the user token is not valid");
    };
    // Jira insists on naming the permissions wanted.
    let Some(wanted) = params.permissions.filter(|wanted| !wanted.is_empty()) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            "the permissions query parameter is required",
        );
    };
    let permissions: Map<_, _> = wanted
        .split(',')
        .map(|key| {
            // A simulated user holds the global ADMINISTER permission or nothing.
            let have = key == "ADMINISTER" && user.jira_admin;
            (
                key.to_owned(),
                json!({ "key": key, "type": "GLOBAL", "havePermission": have }),
            )
        })
        .collect();
    tracing::debug!(installation = %user.installation_id, account = %user.account_id, "my permissions");
    Json(json!({ "permissions": permissions })).into_response()
}
