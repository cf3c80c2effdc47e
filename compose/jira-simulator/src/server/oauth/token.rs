//! `POST /oauth/token`: the app exchanges a code for an access token, authenticating with its
//! client secret and proving with the PKCE verifier that it started the login. Atlassian
//! documents a JSON body; a form body (RFC 6749's) is taken too.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::FormFields;
use crate::{
    oauth::{RedeemError, client_secret_matches},
    server::ServerState,
    time::now_secs,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenRequest {
    grant_type: String,
    client_id: String,
    client_secret: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

impl TokenRequest {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, TokenError> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if is_json {
            return serde_json::from_slice(body).map_err(|_| TokenError::Malformed);
        }
        let form = FormFields::parse(body);
        let field = |name| form.first(name).to_owned();
        Ok(Self {
            grant_type: field("grant_type"),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
            code: field("code"),
            redirect_uri: field("redirect_uri"),
            code_verifier: field("code_verifier"),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub(in crate::server) enum TokenError {
    #[error("the authorization server is unavailable; try again later")]
    Unavailable,
    #[error("the body is not a JSON object of strings")]
    Malformed,
    #[error("the client is unknown or its secret is wrong")]
    BadClient,
    #[error("grant_type must be \"authorization_code\"")]
    UnsupportedGrantType,
    #[error("code is required")]
    MissingCode,
    #[error(transparent)]
    Grant(#[from] RedeemError),
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        // RFC 6749's error codes, which Atlassian answers with.
        let (status, error) = match self {
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
            Self::Malformed | Self::MissingCode => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::BadClient => (StatusCode::UNAUTHORIZED, "access_denied"),
            Self::UnsupportedGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            Self::Grant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        };
        (
            status,
            Json(json!({ "error": error, "error_description": self.to_string() })),
        )
            .into_response()
    }
}

pub(in crate::server) async fn exchange_code(
    State(state): State<ServerState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TokenError> {
    // Down before anything is read: the code is not used up by a request Atlassian never took.
    if state.oauth.is_failing() {
        return Err(TokenError::Unavailable);
    }
    let request = TokenRequest::parse(&headers, &body)?;
    // An unauthenticated request is no use of the code either: whoever saw a code in a URL cannot
    // burn it without the secret.
    if !client_secret_matches(&request.client_id, &request.client_secret) {
        return Err(TokenError::BadClient);
    }
    if request.grant_type != "authorization_code" {
        return Err(TokenError::UnsupportedGrantType);
    }
    if request.code.is_empty() {
        return Err(TokenError::MissingCode);
    }
    let token = state.oauth.redeem(
        &request.code,
        &request.client_id,
        &request.redirect_uri,
        &request.code_verifier,
        now_secs(),
    )?;
    tracing::debug!("3LO code exchanged for an access token");
    Ok((
        // Tokens must not be cached by anything in between (RFC 6749, 5.1).
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "access_token": token.access_token,
            "expires_in": token.expires_in,
            "token_type": "Bearer",
            "scope": token.scope,
        })),
    )
        .into_response())
}
