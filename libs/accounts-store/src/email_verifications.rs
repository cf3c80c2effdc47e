//! "Confirm your email address" links. A password sign-up proves nothing about its address, and a
//! provider may give one it does not vouch for (Microsoft's `email`); until someone shows they
//! read that address's mail, no account is confirmed (or, for a provider, created) on it.

use std::time::{Duration, SystemTime};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::tokens::{self, MintedToken, Redeemable};

/// Links per address within [`REQUEST_WINDOW`]: enough for a lost email and a re-send, too few
/// for our forms (or anyone's Microsoft sign-in) to flood an inbox.
pub const MAX_REQUESTS: i64 = 5;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(3600);

/// A sign-in through a provider that did not vouch for its address, waiting for the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
}

/// Whose address a link confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirms {
    /// An existing account's.
    Account(Uuid),
    /// The address a provider gave; confirming it creates (or claims) the account for it.
    Identity(PendingIdentity),
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub id: Uuid,
    pub email: String,
    pub confirms: Confirms,
    pub next: String,
    pub expires_at: SystemTime,
}

pub type VerificationCheck = Redeemable<Verification>;

/// Opens a link for `email` unless the address had [`MAX_REQUESTS`] within the window (then
/// `None`). An account's newer link revokes its open ones, as a provider sign-in's does for the
/// same identity, so only the newest email works.
pub async fn request(
    client: &impl GenericClient,
    email: &str,
    confirms: &Confirms,
    next: &str,
    lifetime: Duration,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    // One at a time per address, so parallel requests cannot all pass the count.
    client
        .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&email])
        .await?;
    let recent: i64 = client
        .query_one(
            "SELECT count(*) FROM email_verifications
             WHERE email = $1 AND created_at > now() - make_interval(secs => $2)",
            &[&email, &REQUEST_WINDOW.as_secs_f64()],
        )
        .await?
        .get(0);
    if recent >= MAX_REQUESTS {
        return Ok(None);
    }
    let (user, identity) = match confirms {
        Confirms::Account(user) => (Some(*user), None),
        Confirms::Identity(identity) => (None, Some(identity)),
    };
    client
        .execute(
            "UPDATE email_verifications SET revoked_at = now()
             WHERE used_at IS NULL AND revoked_at IS NULL
               AND (user_id = $1 OR (issuer = $2 AND subject = $3))",
            &[
                &user,
                &identity.map(|i| i.issuer.as_str()),
                &identity.map(|i| i.subject.as_str()),
            ],
        )
        .await?;
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO email_verifications
                 (id, email, user_id, provider, issuer, subject, next, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
            &[
                &id,
                &email,
                &user,
                &identity.map(|i| i.provider.as_str()),
                &identity.map(|i| i.issuer.as_str()),
                &identity.map(|i| i.subject.as_str()),
                &next,
                &lifetime.as_secs_f64(),
            ],
        )
        .await?;
    Ok(Some(id))
}

/// Mints the link's token for its email; `None` when the link is no longer open.
pub async fn mint_token(
    client: &impl GenericClient,
    verification: Uuid,
) -> Result<Option<(MintedToken, Verification)>, tokio_postgres::Error> {
    let token = tokens::mint();
    let updated = client
        .execute(
            "UPDATE email_verifications SET token_sha256 = $2
             WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
            &[&verification, &token.sha256],
        )
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    Ok(match check(client, &token.text, false).await? {
        VerificationCheck::Valid(verification) => Some((token, verification)),
        _ => None,
    })
}

/// What the presented token opens; `lock` holds the row for the transaction that uses it.
pub async fn check(
    client: &impl GenericClient,
    token: &str,
    lock: bool,
) -> Result<VerificationCheck, tokio_postgres::Error> {
    let sql = format!(
        "SELECT id, email, user_id, provider, issuer, subject, next, expires_at,
                expires_at <= now(), used_at IS NOT NULL, revoked_at IS NOT NULL
         FROM email_verifications WHERE token_sha256 = $1 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&tokens::hash(token)]).await? else {
        return Ok(VerificationCheck::Unknown);
    };
    Ok(Redeemable::of(row.get(9), row.get(10), row.get(8), || {
        let confirms = match row.get::<_, Option<Uuid>>(2) {
            Some(user) => Confirms::Account(user),
            None => Confirms::Identity(PendingIdentity {
                provider: row.get(3),
                issuer: row.get(4),
                subject: row.get(5),
            }),
        };
        Verification {
            id: row.get(0),
            email: row.get(1),
            confirms,
            next: row.get(6),
            expires_at: row.get(7),
        }
    }))
}

/// Uses the link up. Run it in the transaction that checked it with `lock`.
pub async fn mark_used(
    client: &impl GenericClient,
    verification: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE email_verifications SET used_at = now() WHERE id = $1",
            &[&verification],
        )
        .await?;
    Ok(())
}

/// Revokes the account's open links and those waiting for its address: once the address is
/// confirmed, or its account taken back, none of them may do anything more.
pub async fn revoke_open(
    client: &impl GenericClient,
    user_id: Uuid,
    email: &str,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "UPDATE email_verifications SET revoked_at = now()
             WHERE (user_id = $1 OR email = $2) AND used_at IS NULL AND revoked_at IS NULL",
            &[&user_id, &email],
        )
        .await
}
