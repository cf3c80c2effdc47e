//! Public keys as Atlassian publishes them: one PEM per kid for Connect install callbacks
//! (connect-install-keys.atlassian.com/{kid}) and a JWKS for Forge Invocation Tokens.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::ServerState;

pub(super) async fn install_key(
    State(state): State<ServerState>,
    Path(kid): Path<String>,
) -> Response {
    if kid != state.key.kid() {
        return (StatusCode::NOT_FOUND, "unknown kid\n").into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.key.public_key_pem().to_owned(),
    )
        .into_response()
}

pub(super) async fn jwks(State(state): State<ServerState>) -> Response {
    Json(json!({ "keys": [state.key.jwk()] })).into_response()
}
