//! The weekly digest: members' subscriptions (per organization, in their time zone) and each
//! week's digest as queued. The digest job locks a due subscription, records the week's numbers
//! and queues the email in one transaction, so a week is mailed once however many instances
//! run. Dates travel as text (`YYYY-MM-DD`) between Postgres and `NaiveDate`.

use chrono::NaiveDate;
use deadpool_postgres::{GenericClient, Transaction};
use uuid::Uuid;

use crate::tokens::{self, MintedToken};

/// A member's subscription to an organization's digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub organization: Uuid,
    pub user: Uuid,
    /// An IANA zone name, checked before it was stored.
    pub time_zone: String,
    /// The Monday of the last week a digest was queued for.
    pub last_week_sent: Option<NaiveDate>,
    /// False once unsubscribed (the row stays, with the week last sent).
    pub active: bool,
}

/// A week's headline numbers, as the warehouse answered them.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbers {
    pub created: i64,
    pub resolved: i64,
    /// `None`: no completion with a known cycle time that week.
    pub cycle_time_p85_hours: Option<f64>,
    /// Keys of the issues in progress longer than their project's p85, at the week's end.
    pub at_risk: Vec<String>,
}

/// What the email of a queued digest says, and to whom.
#[derive(Debug, Clone)]
pub struct Mailing {
    pub to: String,
    pub organization: Uuid,
    pub organization_name: String,
    /// The Monday the week starts on, in `time_zone`.
    pub week_start: NaiveDate,
    pub time_zone: String,
    pub numbers: Numbers,
}

/// Whom an unsubscribe link is for.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    pub organization_name: String,
    pub email: String,
    pub active: bool,
}

fn date(text: &str) -> Option<NaiveDate> {
    text.parse().ok()
}

fn subscription(row: &tokio_postgres::Row) -> Subscription {
    Subscription {
        organization: row.get(0),
        user: row.get(1),
        time_zone: row.get(2),
        last_week_sent: row.get::<_, Option<&str>>(3).and_then(date),
        active: row.get(4),
    }
}

const COLUMNS: &str =
    "organization_id, user_id, time_zone, last_week_sent::text, unsubscribed_at IS NULL";

/// The member's subscription, active or not; `None` if they never subscribed.
pub async fn of_member(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<Subscription>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM digest_subscriptions
                 WHERE organization_id = $1 AND user_id = $2"
            ),
            &[&organization, &user],
        )
        .await?;
    Ok(row.as_ref().map(subscription))
}

/// Subscribes the member (again), in `time_zone`; the week last sent is kept, so subscribing
/// again in a week already mailed does not mail it twice. The membership must exist (foreign
/// key): only members subscribe.
pub async fn subscribe(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    time_zone: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO digest_subscriptions (organization_id, user_id, time_zone)
             VALUES ($1, $2, $3)
             ON CONFLICT (organization_id, user_id)
             DO UPDATE SET time_zone = EXCLUDED.time_zone, unsubscribed_at = NULL",
            &[&organization, &user, &time_zone],
        )
        .await?;
    Ok(())
}

/// Ends the member's subscription; false when there was none active.
pub async fn unsubscribe(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE digest_subscriptions SET unsubscribed_at = now()
             WHERE organization_id = $1 AND user_id = $2 AND unsubscribed_at IS NULL",
            &[&organization, &user],
        )
        .await?
        == 1)
}

/// Active subscriptions whose last week sent is before `before` (or none): every one that may
/// be due, for the job to check in its member's zone.
pub async fn pending(
    client: &impl GenericClient,
    before: NaiveDate,
) -> Result<Vec<Subscription>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM digest_subscriptions
                 WHERE unsubscribed_at IS NULL
                   AND (last_week_sent IS NULL OR last_week_sent < $1::text::date)
                 ORDER BY organization_id, user_id"
            ),
            &[&before.to_string()],
        )
        .await?;
    Ok(rows.iter().map(subscription).collect())
}

/// The subscription, if still active, locked until `transaction` ends; `None` as well when
/// another transaction holds it (another instance is queueing its digest). The caller checks
/// again, on this row, that the week is still due.
pub async fn lock_active(
    transaction: &Transaction<'_>,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<Subscription>, tokio_postgres::Error> {
    let row = transaction
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM digest_subscriptions
                 WHERE organization_id = $1 AND user_id = $2 AND unsubscribed_at IS NULL
                 FOR NO KEY UPDATE SKIP LOCKED"
            ),
            &[&organization, &user],
        )
        .await?;
    Ok(row.as_ref().map(subscription))
}

/// Records the week's digest and marks the week sent, in the transaction that locked the
/// subscription ([`lock_active`]) and queues the email; answers the digest's id.
pub async fn record(
    transaction: &Transaction<'_>,
    subscription: &Subscription,
    week_start: NaiveDate,
    numbers: &Numbers,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    let week = week_start.to_string();
    transaction
        .execute(
            "INSERT INTO digests (id, organization_id, user_id, week_start, time_zone, created,
                                  resolved, cycle_time_p85_hours, at_risk)
             VALUES ($1, $2, $3, $4::text::date, $5, $6, $7, $8, $9)",
            &[
                &id,
                &subscription.organization,
                &subscription.user,
                &week,
                &subscription.time_zone,
                &numbers.created,
                &numbers.resolved,
                &numbers.cycle_time_p85_hours,
                &numbers.at_risk,
            ],
        )
        .await?;
    transaction
        .execute(
            "UPDATE digest_subscriptions SET last_week_sent = $3::text::date
             WHERE organization_id = $1 AND user_id = $2",
            &[&subscription.organization, &subscription.user, &week],
        )
        .await?;
    Ok(id)
}

/// Mints the digest's unsubscribe token (replacing one a failed send minted) and answers what
/// its email says; `None` when the member unsubscribed since it was queued (a subscription
/// that ended with its membership took the digest with it).
pub async fn mint_token(
    client: &impl GenericClient,
    digest: Uuid,
) -> Result<Option<(MintedToken, Mailing)>, tokio_postgres::Error> {
    let token = tokens::mint();
    let row = client
        .query_opt(
            "UPDATE digests d SET unsubscribe_token_sha256 = $2
             FROM digest_subscriptions s, users u, organizations o
             WHERE d.id = $1
               AND s.organization_id = d.organization_id AND s.user_id = d.user_id
               AND s.unsubscribed_at IS NULL
               AND u.id = d.user_id AND o.id = d.organization_id
             RETURNING u.email, o.id, o.name, d.week_start::text, d.time_zone, d.created,
                       d.resolved, d.cycle_time_p85_hours, d.at_risk",
            &[&digest, &token.sha256],
        )
        .await?;
    Ok(row.and_then(|row| {
        let week_start = date(row.get(3))?;
        let mailing = Mailing {
            to: row.get(0),
            organization: row.get(1),
            organization_name: row.get(2),
            week_start,
            time_zone: row.get(4),
            numbers: Numbers {
                created: row.get(5),
                resolved: row.get(6),
                cycle_time_p85_hours: row.get(7),
                at_risk: row.get(8),
            },
        };
        Some((token, mailing))
    }))
}

/// Whom the unsubscribe link with `token` is for; `None` for a token that is not one of ours
/// (or whose subscription ended with its membership).
pub async fn link_target(
    client: &impl GenericClient,
    token: &str,
) -> Result<Option<LinkTarget>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT o.name, u.email, s.unsubscribed_at IS NULL
             FROM digests d
             JOIN digest_subscriptions s
               ON s.organization_id = d.organization_id AND s.user_id = d.user_id
             JOIN organizations o ON o.id = d.organization_id
             JOIN users u ON u.id = d.user_id
             WHERE d.unsubscribe_token_sha256 = $1",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(row.map(|row| LinkTarget {
        organization_name: row.get(0),
        email: row.get(1),
        active: row.get(2),
    }))
}

/// Ends the subscription the unsubscribe link with `token` is for (whichever of its digests
/// carried it); unsubscribing twice is no error. `None` for a token that is not one of ours.
pub async fn unsubscribe_by_token(
    client: &impl GenericClient,
    token: &str,
) -> Result<Option<LinkTarget>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE digest_subscriptions s
             SET unsubscribed_at = coalesce(s.unsubscribed_at, now())
             FROM digests d, organizations o, users u
             WHERE d.unsubscribe_token_sha256 = $1
               AND s.organization_id = d.organization_id AND s.user_id = d.user_id
               AND o.id = d.organization_id AND u.id = d.user_id
             RETURNING o.name, u.email",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(row.map(|row| LinkTarget {
        organization_name: row.get(0),
        email: row.get(1),
        active: false,
    }))
}
