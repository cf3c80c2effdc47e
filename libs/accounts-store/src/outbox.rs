//! Emails waiting to be sent. A sender claims rows by leasing them (moving their next attempt
//! past the lease) in one committed statement with `FOR UPDATE SKIP LOCKED`, so several
//! onboarding instances share the work without sending one email twice, and no row lock is held
//! while talking to Jira or the mail server. A sender that dies mid-send leaves its rows to be
//! retried when the lease runs out.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// One re-sent setup email per installation per minute: an admin's button cannot flood an inbox.
pub const SETUP_RESEND_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Email {
    Setup { installation: Uuid },
    Invite { invite: Uuid },
    PasswordReset { reset: Uuid },
    EmailVerification { verification: Uuid },
    Digest { digest: Uuid },
}

impl Email {
    /// The `kind` column, and the `kind` label of the mail metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Setup { .. } => "setup",
            Self::Invite { .. } => "invite",
            Self::PasswordReset { .. } => "password_reset",
            Self::EmailVerification { .. } => "email_verification",
            Self::Digest { .. } => "digest",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub email: Email,
    pub attempts: i32,
}

pub async fn enqueue(
    client: &impl GenericClient,
    email: &Email,
) -> Result<i64, tokio_postgres::Error> {
    let (mut installation, mut invite, mut reset, mut verification) = (None, None, None, None);
    let mut digest = None;
    match email {
        Email::Setup { installation: id } => installation = Some(*id),
        Email::Invite { invite: id } => invite = Some(*id),
        Email::PasswordReset { reset: id } => reset = Some(*id),
        Email::EmailVerification { verification: id } => verification = Some(*id),
        Email::Digest { digest: id } => digest = Some(*id),
    }
    Ok(client
        .query_one(
            "INSERT INTO outbox
                 (kind, installation_id, invite_id, password_reset_id, email_verification_id,
                  digest_id)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &email.kind(),
                &installation,
                &invite,
                &reset,
                &verification,
                &digest,
            ],
        )
        .await?
        .get(0))
}

/// Longer than one attempt can take (a Jira lookup and an SMTP exchange, each with a timeout of
/// seconds), so a claimed row is not claimed again while it is being sent.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// Claims up to `limit` due emails for [`CLAIM_LEASE`]. Run it outside a transaction: the
/// claim must be committed before the first email goes out.
pub async fn claim_due(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<Due>, tokio_postgres::Error> {
    let rows = client
        .query(
            "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2)
             WHERE id IN (
                 SELECT id FROM outbox
                 WHERE sent_at IS NULL AND cancelled_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, installation_id, invite_id, password_reset_id, attempts,
                       email_verification_id, digest_id",
            &[&limit, &CLAIM_LEASE.as_secs_f64()],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let email = match row.get::<_, &str>(1) {
                "setup" => Email::Setup {
                    installation: row.get(2),
                },
                "invite" => Email::Invite { invite: row.get(3) },
                "email_verification" => Email::EmailVerification {
                    verification: row.get(6),
                },
                "digest" => Email::Digest { digest: row.get(7) },
                _ => Email::PasswordReset { reset: row.get(4) },
            };
            Due {
                id: row.get(0),
                email,
                attempts: row.get(5),
            }
        })
        .collect())
}

pub async fn mark_sent(client: &impl GenericClient, id: i64) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Nothing left to send (the installation was uninstalled, the invite revoked).
pub async fn cancel(
    client: &impl GenericClient,
    id: i64,
    reason: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE outbox SET cancelled_at = now(), last_error = $2 WHERE id = $1",
            &[&id, &reason],
        )
        .await?;
    Ok(())
}

/// Gives up on an email that can never be delivered, keeping why; it is not tried again.
pub async fn fail(
    client: &impl GenericClient,
    id: i64,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                 failed_at = now(), cancelled_at = now()
             WHERE id = $1",
            &[&id, &error],
        )
        .await?;
    Ok(())
}

/// When and why the installation's newest setup email was given up on; `None` when it was
/// sent, is still being tried, or there is none.
pub async fn setup_email_failure(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<Option<(std::time::SystemTime, String)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT failed_at, last_error FROM outbox
             WHERE kind = 'setup' AND installation_id = $1
             ORDER BY created_at DESC, id DESC LIMIT 1",
            &[&installation],
        )
        .await?;
    Ok(row.and_then(|row| {
        let failed_at: Option<std::time::SystemTime> = row.get(0);
        failed_at.map(|at| (at, row.get::<_, Option<String>>(1).unwrap_or_default()))
    }))
}

pub async fn retry_later(
    client: &impl GenericClient,
    id: i64,
    after: Duration,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $3,
                 next_attempt_at = now() + make_interval(secs => $2)
             WHERE id = $1",
            &[&id, &after.as_secs_f64(), &error],
        )
        .await?;
    Ok(())
}

/// Emails not yet sent, for the backlog gauge.
pub async fn backlog(client: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND cancelled_at IS NULL",
            &[],
        )
        .await?
        .get(0))
}

/// When the most recent setup email for the installation was queued, for the re-send limit.
pub async fn seconds_since_last_setup_email(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<Option<f64>, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT extract(epoch FROM now() - max(created_at))::float8 FROM outbox
             WHERE kind = 'setup' AND installation_id = $1",
            &[&installation],
        )
        .await?
        .get(0))
}

/// Queues a re-sent setup email unless one was queued for the installation within
/// [`SETUP_RESEND_INTERVAL`]; false when it was too soon. Call it in a transaction: the
/// installation's row stays locked until it ends, so two clicks at once queue one email.
pub async fn queue_setup_resend(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    client
        .execute(
            "SELECT 1 FROM installations WHERE id = $1 FOR UPDATE",
            &[&installation],
        )
        .await?;
    let since = seconds_since_last_setup_email(client, installation).await?;
    if since.is_some_and(|since| since < SETUP_RESEND_INTERVAL.as_secs_f64()) {
        return Ok(false);
    }
    enqueue(client, &Email::Setup { installation }).await?;
    Ok(true)
}
