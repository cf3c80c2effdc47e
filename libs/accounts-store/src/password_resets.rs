//! "Forgot your password?" links. A request makes a row (revoking the user's open ones); the
//! token is minted when the email is sent, as for invites; setting a new password uses it up.

use std::time::{Duration, SystemTime};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::tokens::{self, Redeemable};

/// Requests per address within [`REQUEST_WINDOW`]: enough for a lost first email, too few to
/// flood someone's inbox from our form.
pub const MAX_REQUESTS: i64 = 3;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub expires_at: SystemTime,
}

pub type ResetCheck = Redeemable<PasswordReset>;

/// Opens a reset for `user_id` unless the address had [`MAX_REQUESTS`] within the window;
/// answers its id, or `None` when refused for the rate.
pub async fn request(
    client: &impl GenericClient,
    user_id: Uuid,
    lifetime: Duration,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let recent: i64 = client
        .query_one(
            "SELECT count(*) FROM password_resets
             WHERE user_id = $1 AND created_at > now() - make_interval(secs => $2)",
            &[&user_id, &REQUEST_WINDOW.as_secs_f64()],
        )
        .await?
        .get(0);
    if recent >= MAX_REQUESTS {
        return Ok(None);
    }
    client
        .execute(
            "UPDATE password_resets SET revoked_at = now()
             WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
            &[&user_id],
        )
        .await?;
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO password_resets (id, user_id, expires_at)
             VALUES ($1, $2, now() + make_interval(secs => $3))",
            &[&id, &user_id, &lifetime.as_secs_f64()],
        )
        .await?;
    Ok(Some(id))
}

/// Mints the reset's token for its email; `None` when the reset is no longer open.
pub async fn mint_token(
    client: &impl GenericClient,
    reset: Uuid,
) -> Result<Option<(tokens::MintedToken, PasswordReset)>, tokio_postgres::Error> {
    let token = tokens::mint();
    let updated = client
        .execute(
            "UPDATE password_resets SET token_sha256 = $2
             WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
            &[&reset, &token.sha256],
        )
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    Ok(match check(client, &token.text, false).await? {
        ResetCheck::Valid(reset) => Some((token, reset)),
        _ => None,
    })
}

/// What the presented token opens; `lock` holds the row for the transaction that uses it.
pub async fn check(
    client: &impl GenericClient,
    token: &str,
    lock: bool,
) -> Result<ResetCheck, tokio_postgres::Error> {
    let sql = format!(
        "SELECT r.id, r.user_id, u.email, r.expires_at,
                r.expires_at <= now(), r.used_at IS NOT NULL, r.revoked_at IS NOT NULL
         FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_sha256 = $1 {}",
        if lock { "FOR UPDATE OF r" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&tokens::hash(token)]).await? else {
        return Ok(ResetCheck::Unknown);
    };
    Ok(Redeemable::of(row.get(5), row.get(6), row.get(4), || {
        PasswordReset {
            id: row.get(0),
            user_id: row.get(1),
            email: row.get(2),
            expires_at: row.get(3),
        }
    }))
}

/// Sets the user's password and uses the reset up. Run it in the transaction that checked the
/// reset with `lock`, so two tabs cannot both use one link.
pub async fn complete(
    client: &impl GenericClient,
    reset: &PasswordReset,
    password_hash: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE password_resets SET used_at = now() WHERE id = $1",
            &[&reset.id],
        )
        .await?;
    client
        .execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&reset.user_id, &password_hash],
        )
        .await?;
    Ok(())
}
