//! The platform API a 3LO access token opens: `GET /oauth/token/accessible-resources` (the
//! sites the member granted, which the app calls through `api.atlassian.com/ex/jira/{cloudId}`)
//! and `GET /me` (the Atlassian account that linked). Both take `Authorization: Bearer <token>`.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{oauth::AccessGrant, server::ServerState, time::now_secs};

#[derive(Debug, thiserror::Error)]
pub(in crate::server) enum PlatformError {
    #[error("Service Unavailable")]
    Unavailable,
    /// No bearer token, or one that was not handed out or has expired.
    #[error("Unauthorized")]
    Unauthorized,
}

impl IntoResponse for PlatformError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        // The platform API's error body, which is not Jira's REST API's.
        (
            status,
            Json(json!({ "code": status.as_u16(), "message": self.to_string() })),
        )
            .into_response()
    }
}

pub(in crate::server) async fn accessible_resources(
    State(state): State<ServerState>,
    headers: HeaderMap,
) -> Result<Json<Value>, PlatformError> {
    let grant = authorized(&state, &headers)?;
    let scopes: Vec<&str> = grant.scope.split_whitespace().collect();
    let resources: Vec<Value> = grant
        .sites
        .iter()
        .map(|site| {
            json!({
                "id": site.cloud_id,
                "url": site.url,
                "name": site.name(),
                "scopes": scopes,
                "avatarUrl": "",
            })
        })
        .collect();
    Ok(Json(Value::Array(resources)))
}

pub(in crate::server) async fn me(
    State(state): State<ServerState>,
    headers: HeaderMap,
) -> Result<Json<Value>, PlatformError> {
    let grant = authorized(&state, &headers)?;
    Ok(Json(json!({
        "account_id": grant.account.account_id,
        "email": grant.account.email,
        "name": "Jira user",
        "account_status": "active",
        "account_type": "atlassian",
    })))
}

/// What the caller's live bearer token grants.
fn authorized(state: &ServerState, headers: &HeaderMap) -> Result<AccessGrant, PlatformError> {
    if state.oauth.is_failing() {
        return Err(PlatformError::Unavailable);
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| state.oauth.access_grant(token.trim(), now_secs()))
        .ok_or(PlatformError::Unauthorized)
}
