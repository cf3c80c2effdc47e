//! One-time setup links, bound to an installation. A link that reaches its user supersedes the
//! older ones, so only the newest email works. Opening a link checks it; only completing the setup uses it.

use std::time::{Duration, SystemTime};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{
    installations::PREVIOUS_ORGANIZATION,
    tokens::{self, MintedToken, Redeemable},
};

/// The installation a link would connect, as the setup pages show it.
#[derive(Debug, Clone)]
pub struct SetupTarget {
    pub installation_id: Uuid,
    pub display_name: String,
    pub base_url: String,
    pub installed: bool,
    /// The organization the workspace was linked to before (a reinstall).
    pub previous_organization: Option<(Uuid, String)>,
    /// The organization this installation itself is connected to, which holds its history
    /// (`previous_organization` may instead be another installation's of the same site).
    pub connected_organization: Option<Uuid>,
}

/// A usable link: what it connects, and until when. `Revoked` means a newer link was sent.
#[derive(Debug, Clone)]
pub struct SetupLink {
    pub target: SetupTarget,
    pub expires_at: SystemTime,
    /// The address the link was mailed to, as Jira gave it for the installing admin; `None`
    /// for a link handed over on an admin page or made for a webhook connection.
    pub mailed_to: Option<String>,
}

pub type LinkCheck = Redeemable<SetupLink>;

/// Mints a link for the installation, live at once but not yet superseding the older ones:
/// commit it before mailing it, then [`supersede_older`] once the email is out, or [`discard`]
/// it when sending failed (so an earlier email that did arrive keeps working). `mailed_to` is
/// the address it is about to be mailed to, if any.
pub async fn mint(
    client: &impl GenericClient,
    installation: Uuid,
    lifetime: Duration,
    mailed_to: Option<&str>,
) -> Result<(MintedToken, SystemTime), tokio_postgres::Error> {
    let token = tokens::mint();
    let row = client
        .query_one(
            "INSERT INTO setup_links (token_sha256, installation_id, expires_at, mailed_to)
             VALUES ($1, $2, now() + make_interval(secs => $3), $4) RETURNING expires_at",
            &[
                &token.sha256,
                &installation,
                &lifetime.as_secs_f64(),
                &mailed_to,
            ],
        )
        .await?;
    Ok((token, row.get(0)))
}

/// Mints a link handed straight to a Jira admin on an admin page (not mailed): it replaces the
/// older links at once. Run it in a transaction, so both happen or neither.
pub async fn hand_over(
    transaction: &impl GenericClient,
    installation: Uuid,
    lifetime: Duration,
) -> Result<MintedToken, tokio_postgres::Error> {
    // Not mailed: whoever opened the admin page holds it, so no address is offered to them.
    let (token, _) = mint(transaction, installation, lifetime, None).await?;
    supersede_older(transaction, &token).await?;
    Ok(token)
}

/// Revokes the installation's unused links minted before `mailed`, so only the newest email
/// works.
pub async fn supersede_older(
    client: &impl GenericClient,
    mailed: &MintedToken,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE setup_links older SET revoked_at = now()
             FROM setup_links mailed
             WHERE mailed.token_sha256 = $1
               AND older.installation_id = mailed.installation_id
               AND older.token_sha256 <> mailed.token_sha256
               AND older.created_at <= mailed.created_at
               AND older.used_at IS NULL AND older.revoked_at IS NULL",
            &[&mailed.sha256],
        )
        .await?;
    Ok(())
}

/// Forgets a link whose email could not be sent.
pub async fn discard(
    client: &impl GenericClient,
    unsent: &MintedToken,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM setup_links WHERE token_sha256 = $1 AND used_at IS NULL",
            &[&unsent.sha256],
        )
        .await?;
    Ok(())
}

/// Checks a presented link. With `lock`, the link's row stays locked until the caller's
/// transaction ends: two tabs completing the same link are served one after the other, and the
/// second finds it used.
pub async fn check(
    client: &impl GenericClient,
    token: &str,
    lock: bool,
) -> Result<LinkCheck, tokio_postgres::Error> {
    let sql = format!(
        "SELECT l.installation_id, l.expires_at, l.expires_at <= now(), l.used_at IS NOT NULL,
                l.revoked_at IS NOT NULL, i.display_name, i.base_url, i.state = 'installed',
                o.id, o.name, l.mailed_to, i.organization_id
         FROM setup_links l
         JOIN installations i ON i.id = l.installation_id
         LEFT JOIN organizations o ON o.id = {PREVIOUS_ORGANIZATION}
         WHERE l.token_sha256 = $1 {}",
        if lock { "FOR UPDATE OF l, i" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&tokens::hash(token)]).await? else {
        return Ok(LinkCheck::Unknown);
    };
    Ok(Redeemable::of(row.get(3), row.get(4), row.get(2), || {
        SetupLink {
            target: SetupTarget {
                installation_id: row.get(0),
                display_name: row.get(5),
                base_url: row.get(6),
                installed: row.get(7),
                previous_organization: row
                    .get::<_, Option<Uuid>>(8)
                    .map(|id| (id, row.get::<_, String>(9))),
                connected_organization: row.get(11),
            },
            expires_at: row.get(1),
            mailed_to: row.get(10),
        }
    }))
}

pub async fn mark_used(
    client: &impl GenericClient,
    token: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE setup_links SET used_at = now() WHERE token_sha256 = $1",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(())
}
