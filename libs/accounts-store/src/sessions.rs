//! Browser sessions: a random token in an HttpOnly cookie, its hash here with an expiry.
//! Dashboards read the same table, so one sign-in serves both services.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{sign_in_policy::PASSWORD, tokens};

/// The cookie that carries a session's token; onboarding sets it, the dashboards read it.
pub const SESSION_COOKIE: &str = "mf_session";

/// Who a valid session belongs to.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: Uuid,
    pub email: String,
    /// How the session was started: `password`, or the identity provider's name.
    pub method: String,
}

/// Starts a session signed in with a password; returns the token for the cookie.
pub async fn start(
    client: &impl GenericClient,
    user_id: Uuid,
    lifetime: Duration,
) -> Result<String, tokio_postgres::Error> {
    start_via(client, user_id, lifetime, PASSWORD).await
}

/// Starts a session signed in with `method` (`password`, or a provider's name), which an
/// organization requiring single sign-on looks at.
pub async fn start_via(
    client: &impl GenericClient,
    user_id: Uuid,
    lifetime: Duration,
    method: &str,
) -> Result<String, tokio_postgres::Error> {
    let token = tokens::mint();
    client
        .execute(
            "INSERT INTO sessions (token_sha256, user_id, expires_at, method)
             VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
            &[&token.sha256, &user_id, &lifetime.as_secs_f64(), &method],
        )
        .await?;
    Ok(token.text)
}

/// The user of a session that exists, has not expired and was not revoked.
pub async fn authenticate(
    client: &impl GenericClient,
    token: &str,
) -> Result<Option<SignedIn>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT u.id, u.email, s.method FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(row.map(|row| SignedIn {
        user_id: row.get(0),
        email: row.get(1),
        method: row.get(2),
    }))
}

pub async fn revoke(client: &impl GenericClient, token: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE sessions SET revoked_at = now() WHERE token_sha256 = $1 AND revoked_at IS NULL",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(())
}

/// Signs the user out everywhere: on removal from an organization, so a removed member's open
/// tabs stop working at once rather than at expiry.
pub async fn revoke_all_of(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user_id],
        )
        .await
}
