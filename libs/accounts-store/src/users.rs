//! Accounts: one per email address, lower-cased.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    /// Whether its owner showed they read the address's mail (or a provider vouched for it).
    pub email_confirmed: bool,
}

/// The form every address is stored and compared in.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@`, something on each side, a dot in the domain, no spaces. The
/// real check is that mail arrives; this only catches typos early.
pub fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace)
}

/// Creates the account; `None` when the address already has one.
pub async fn create(
    client: &impl GenericClient,
    email: &str,
    password_hash: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (email) DO NOTHING RETURNING id",
            &[&Uuid::new_v4(), &normalize_email(email), &password_hash],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// The address of user `id`; `None` when there is no such user.
pub async fn email_of(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT email FROM users WHERE id = $1", &[&id])
        .await?
        .map(|row| row.get(0)))
}

pub async fn by_email(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, email, password_hash, email_confirmed_at IS NOT NULL
             FROM users WHERE email = $1",
            &[&normalize_email(email)],
        )
        .await?;
    Ok(row.map(|row| User {
        id: row.get(0),
        email: row.get(1),
        password_hash: row.get(2),
        email_confirmed: row.get(3),
    }))
}

/// Marks the account's address confirmed; answers whether it was not already. Lock the account
/// with [`lock_confirmed`] first where the answer decides something.
pub async fn confirm(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE users SET email_confirmed_at = now()
             WHERE id = $1 AND email_confirmed_at IS NULL",
            &[&id],
        )
        .await?
        == 1)
}

/// Whether the account's address is confirmed, holding its row until the transaction ends, so
/// that a claim of the account racing the caller is seen.
pub async fn lock_confirmed(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT email_confirmed_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .is_some_and(|row| row.get(0)))
}

/// How many failed sign-ins a window allows, per address and per client.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    pub window_secs: i64,
    pub max_per_address: i64,
    pub max_per_client: i64,
}

/// Why an attempt was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Too many failures for this address: guesses at one account.
    Address,
    /// Too many failures from this client, whatever the addresses: one client trying many.
    Client,
}

/// Takes one password attempt for `email` from `client` if both have fewer failures in the
/// window than allowed: the attempt counts as a failure from now on (the caller clears the
/// address's failures when the password matches). Counting and taking happen under a lock per
/// address and one per client, before any hashing, so parallel guesses cannot all pass a check
/// that none of them has yet failed. The address's lock is always taken first, so two attempts
/// never wait on each other's second lock.
pub async fn take_sign_in_attempt(
    client: &mut deadpool_postgres::Client,
    email: &str,
    from: &str,
    limits: SignInLimits,
) -> Result<Result<(), SignInRefusal>, tokio_postgres::Error> {
    // Two classes of advisory lock, so an address and a client hashing alike never share one.
    const ADDRESS_LOCKS: i32 = 1;
    const CLIENT_LOCKS: i32 = 2;
    let email = normalize_email(email);
    let window = limits.window_secs as f64;
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_advisory_xact_lock($3, hashtext($4))",
            &[&ADDRESS_LOCKS, &email, &CLIENT_LOCKS, &from],
        )
        .await?;
    let counts = transaction
        .query_one(
            "SELECT count(*) FILTER (WHERE email = $1), count(*) FILTER (WHERE client = $2)
             FROM sign_in_failures
             WHERE (email = $1 OR client = $2) AND at >= now() - make_interval(secs => $3)",
            &[&email, &from, &window],
        )
        .await?;
    let (by_address, by_client): (i64, i64) = (counts.get(0), counts.get(1));
    if by_address >= limits.max_per_address {
        return Ok(Err(SignInRefusal::Address));
    }
    if by_client >= limits.max_per_client {
        return Ok(Err(SignInRefusal::Client));
    }
    transaction
        .execute(
            "DELETE FROM sign_in_failures WHERE at < now() - make_interval(secs => $1)",
            &[&window],
        )
        .await?;
    transaction
        .execute(
            "INSERT INTO sign_in_failures (email, client) VALUES ($1, $2)",
            &[&email, &from],
        )
        .await?;
    transaction.commit().await?;
    Ok(Ok(()))
}

/// Gives back one attempt [`take_sign_in_attempt`] took for `email` from `from` that checked
/// nothing (the service was too busy to hash the password): a busy service must not count
/// toward anyone's lockout.
pub async fn give_back_sign_in_attempt(
    client: &impl GenericClient,
    email: &str,
    from: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM sign_in_failures WHERE ctid = (
                 SELECT ctid FROM sign_in_failures WHERE email = $1 AND client = $2
                 ORDER BY at DESC LIMIT 1)",
            &[&normalize_email(email), &from],
        )
        .await?;
    Ok(())
}

pub async fn clear_sign_in_failures(
    client: &impl GenericClient,
    email: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM sign_in_failures WHERE email = $1",
            &[&normalize_email(email)],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_compared_lower_cased_and_trimmed() {
        assert_eq!(normalize_email("  Ada@Example.TEST "), "ada@example.test");
    }

    #[test]
    fn only_plausible_addresses_pass() {
        assert!(plausible_email("ada@example.test"));
        for bad in [
            "ada",
            "@example.test",
            "ada@",
            "ada@example",
            "a da@example.test",
            "ada@.test",
            "ada@x@y.test",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
