//! The context JWT Jira appends when it loads one of our pages inside its UI: HS256 with the
//! installation's shared secret, `iss` the client key, and a `qsh` that is either the request's
//! own hash or the literal "context-qsh" (the `context-qsh` API migration the descriptor opts
//! into). Valid, it proves the page was opened by that Jira site for the user in `sub`.

use std::time::{SystemTime, UNIX_EPOCH};

use atlassian_auth::connect_jwt::{self, ConnectJwtError, Expected};
use axum::http::{HeaderMap, Method, Uri, header::AUTHORIZATION};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::ExposeSecret;

use crate::AppState;
use accounts_store::installations::{self, AdminView};

const CONTEXT_QSH: &str = "context-qsh";

#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextJwtError {
    #[error(transparent)]
    Token(#[from] ConnectJwtError),
    #[error("no Connect installation has this client key")]
    UnknownInstallation,
    #[error("the installation's secret cannot be decrypted")]
    Secret,
    #[error("the store is unavailable")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the store is unavailable")]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// The verified installation and the raw token (to carry into the page's own form).
pub(crate) struct JiraContext {
    pub installation: AdminView,
    pub token: String,
}

pub(crate) async fn verify(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<JiraContext, ContextJwtError> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token =
        connect_jwt::token_from(authorization, uri.query()).ok_or(ConnectJwtError::Missing)?;
    let (header, issuer) = connect_jwt::peek(&token)?;
    if header.alg != Algorithm::HS256 {
        return Err(ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)).into());
    }
    let client = state.postgres.get().await?;
    let installation = installations::admin_view(&client, &issuer)
        .await?
        .ok_or(ContextJwtError::UnknownInstallation)?;
    let secret = installation
        .encrypted_secret
        .as_deref()
        .and_then(|stored| state.cipher.decrypt(stored).ok())
        .ok_or(ContextJwtError::Secret)?;
    let key = DecodingKey::from_secret(secret.expose_secret());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let request_qsh = connect_jwt::query_string_hash(
        method.as_str(),
        uri.path(),
        uri.query(),
        state.atlassian.public_base_url.path(),
    );
    let expected = |qsh| Expected {
        algorithm: Algorithm::HS256,
        qsh,
        audience: None,
        leeway_secs: state.atlassian.jwt_leeway_secs,
        now,
    };
    match connect_jwt::verify(&token, &key, &expected(CONTEXT_QSH)) {
        Err(ConnectJwtError::QshMismatch) => {
            connect_jwt::verify(&token, &key, &expected(&request_qsh))?;
        }
        other => {
            other?;
        }
    }
    Ok(JiraContext {
        installation,
        token,
    })
}
