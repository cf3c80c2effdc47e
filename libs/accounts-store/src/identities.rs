//! Sign-in with an identity provider: the identities linked to accounts, keyed by (issuer,
//! subject).

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// An identity as the provider vouched for it, once its ID token was verified.
#[derive(Debug, Clone)]
pub struct IdentityKey<'a> {
    pub provider: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
}

/// The account an identity is linked to; marks it used, with the email the provider gave this
/// time and whether it vouched for it.
pub async fn user_of(
    client: &impl GenericClient,
    key: &IdentityKey<'_>,
    email: Option<&str>,
    email_verified: bool,
) -> Result<Option<(Uuid, String)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE identities i SET last_used_at = now(), email = coalesce($3, i.email),
                 email_verified = CASE WHEN $3 IS NULL THEN i.email_verified ELSE $4 END
             FROM users u
             WHERE i.issuer = $1 AND i.subject = $2 AND u.id = i.user_id
             RETURNING u.id, u.email",
            &[&key.issuer, &key.subject, &email, &email_verified],
        )
        .await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// Why an identity could not be linked.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this identity is linked to another account")]
    LinkedElsewhere,
    #[error("the account already has an identity from this provider")]
    ProviderTaken,
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

pub async fn link(
    client: &impl GenericClient,
    user_id: Uuid,
    key: &IdentityKey<'_>,
    email: Option<&str>,
    email_verified: bool,
) -> Result<(), LinkError> {
    let inserted = client
        .execute(
            "INSERT INTO identities (id, user_id, provider, issuer, subject, email, email_verified)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &Uuid::new_v4(),
                &user_id,
                &key.provider,
                &key.issuer,
                &key.subject,
                &email,
                &(email_verified && email.is_some()),
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok(());
    }
    let owner: Option<Uuid> = client
        .query_opt(
            "SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2",
            &[&key.issuer, &key.subject],
        )
        .await?
        .map(|row| row.get(0));
    match owner {
        Some(owner) if owner == user_id => Ok(()),
        Some(_) => Err(LinkError::LinkedElsewhere),
        None => Err(LinkError::ProviderTaken),
    }
}

/// Whether the account's identity from `provider` vouched, at its last sign-in, for `email`.
pub async fn vouches_for(
    client: &impl GenericClient,
    user_id: Uuid,
    provider: &str,
    email: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM identities
             WHERE user_id = $1 AND provider = $2 AND email_verified AND lower(email) = $3",
            &[&user_id, &provider, &email],
        )
        .await?
        .is_some())
}

/// One of an account's linked identities.
#[derive(Debug, Clone)]
pub struct Linked {
    pub provider: String,
    pub email: Option<String>,
    pub created_at: SystemTime,
    pub last_used_at: SystemTime,
}

pub async fn of_user(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<Linked>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT provider, email, created_at, last_used_at FROM identities
             WHERE user_id = $1 ORDER BY provider",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Linked {
            provider: row.get(0),
            email: row.get(1),
            created_at: row.get(2),
            last_used_at: row.get(3),
        })
        .collect())
}

/// Unlinks the account's identity from `provider`, but only while another way to sign in
/// remains (a password or another identity); answers whether it did. Call it in a transaction:
/// the account's row is locked so two unlinks at once cannot remove the last two ways in.
pub async fn unlink(
    client: &impl GenericClient,
    user_id: Uuid,
    provider: &str,
) -> Result<bool, tokio_postgres::Error> {
    client
        .execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
        .await?;
    let deleted = client
        .execute(
            "DELETE FROM identities i WHERE i.user_id = $1 AND i.provider = $2
               AND (EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.password_hash IS NOT NULL)
                    OR EXISTS (SELECT 1 FROM identities o
                               WHERE o.user_id = $1 AND o.provider <> $2))",
            &[&user_id, &provider],
        )
        .await?;
    Ok(deleted == 1)
}

/// Creates an account that signs in only through an identity provider (no password).
pub async fn create_user(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "INSERT INTO users (id, email) VALUES ($1, $2)
             ON CONFLICT (email) DO NOTHING RETURNING id",
            &[&Uuid::new_v4(), &email],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}
