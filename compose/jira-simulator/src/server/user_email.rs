//! `GET /rest/api/3/user/email?accountId=…`: Jira's email lookup for Connect apps, which onboarding
//! calls to mail the installing admin. Like Jira, it wants a Connect JWT whose `iss` is the app
//! key, signed with the installation's shared secret and bound to this request by its qsh. A
//! Forge app sends `Authorization: Bearer <app system token>` instead, the token Forge handed it.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::ServerState;
use crate::qsh::connect_qsh;

/// Atlassian's libraries allow this much clock skew on `exp` and `nbf`.
pub(super) const LEEWAY_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub(super) enum UserEmailError {
    #[error("no Connect JWT in the Authorization header or the jwt parameter")]
    MissingToken,
    #[error("the JWT is not readable")]
    Malformed,
    #[error("the JWT's issuer is not the app installed on this site")]
    UnknownIssuer,
    #[error("the JWT signature, algorithm or lifetime is wrong")]
    BadToken,
    #[error("the JWT's qsh does not match this request")]
    QshMismatch,
    #[error("the accountId parameter is missing")]
    MissingAccountId,
    #[error("the user does not exist or is not the installer")]
    UnknownAccount,
    #[error("the app has not been granted access to user emails yet")]
    NotPermittedYet,
}

impl IntoResponse for UserEmailError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::MissingToken
            | Self::Malformed
            | Self::UnknownIssuer
            | Self::BadToken
            | Self::QshMismatch
            | Self::NotPermittedYet => StatusCode::UNAUTHORIZED,
            Self::MissingAccountId => StatusCode::BAD_REQUEST,
            Self::UnknownAccount => StatusCode::NOT_FOUND,
        };
        // Jira's error body shape.
        (
            status,
            Json(json!({ "errorMessages": [self.to_string()], "errors": {} })),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    qsh: String,
}

pub(super) async fn user_email(
    State(state): State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, UserEmailError> {
    let query = uri.query().unwrap_or_default();
    let account_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "accountId")
        .map(|(_, value)| value.into_owned())
        .ok_or(UserEmailError::MissingAccountId)?;
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        // The lookup may read the installations file: keep that off the async workers.
        let registry = state.registry.clone();
        let token = bearer.trim().to_owned();
        let user = tokio::task::spawn_blocking(move || registry.forge_user(&token))
            .await
            .ok()
            .flatten()
            .ok_or(UserEmailError::BadToken)?;
        if state.registry.forge_lookup_refused() {
            return Err(UserEmailError::NotPermittedYet);
        }
        if user.account_id != account_id {
            return Err(UserEmailError::UnknownAccount);
        }
        tracing::debug!(installation = %user.installation_id, "forge user email");
        return Ok(Json(json!({ "accountId": account_id, "email": user.email })).into_response());
    }
    let token = token(&headers, query).ok_or(UserEmailError::MissingToken)?;
    jsonwebtoken::dangerous::insecure_decode::<Claims>(&token)
        .map_err(|_| UserEmailError::Malformed)?;
    // The lookup may read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    let wanted = account_id.clone();
    let installation = tokio::task::spawn_blocking(move || registry.installed_by(&wanted))
        .await
        .ok()
        .flatten()
        .ok_or(UserEmailError::UnknownAccount)?;

    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let claims: Claims = jsonwebtoken::decode(
        &token,
        &DecodingKey::from_secret(installation.shared_secret.as_bytes()),
        &validation,
    )
    .map_err(|_| UserEmailError::BadToken)?
    .claims;
    if claims.iss != installation.app_key {
        return Err(UserEmailError::UnknownIssuer);
    }
    // The site's REST API lives at the root of its base URL.
    let site_path = url::Url::parse(&installation.site_base_url)
        .map(|url| url.path().to_owned())
        .unwrap_or_default();
    if claims.qsh != connect_qsh("GET", uri.path(), query, &site_path) {
        return Err(UserEmailError::QshMismatch);
    }
    Ok(
        Json(json!({ "accountId": account_id, "email": installation.installer_email }))
            .into_response(),
    )
}

/// `Authorization: JWT <token>`, or the `jwt` query parameter Connect also allows.
pub(super) fn token(headers: &HeaderMap, query: &str) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("JWT "))
        .map(|token| token.trim().to_owned());
    from_header.or_else(|| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "jwt")
            .map(|(_, value)| value.into_owned())
    })
}
