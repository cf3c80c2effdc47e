//! Invitations to join an organization with a role. The token is minted when the email is sent
//! (a re-send replaces it); accepting uses it up.

use std::time::{Duration, SystemTime};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{
    roles::Role,
    tokens::{self, Redeemable},
};

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub email: String,
    pub role: Role,
    pub expires_at: SystemTime,
    pub invited_by: Option<String>,
}

pub type InviteCheck = Redeemable<Invite>;

/// An open invite, for the members page.
#[derive(Debug, Clone)]
pub struct PendingInvite {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub expires_at: SystemTime,
}

pub async fn create(
    client: &impl GenericClient,
    organization: Uuid,
    email: &str,
    role: Role,
    invited_by: Uuid,
    lifetime: Duration,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    // A new invite for the same address replaces the open one.
    client
        .execute(
            "UPDATE invites SET revoked_at = now()
             WHERE organization_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
            &[&organization, &email],
        )
        .await?;
    client
        .execute(
            "INSERT INTO invites (id, organization_id, email, role, invited_by, expires_at)
             VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
            &[
                &id,
                &organization,
                &email,
                &role.as_str(),
                &invited_by,
                &lifetime.as_secs_f64(),
            ],
        )
        .await?;
    Ok(id)
}

/// Mints the invite's token for its email; `None` when the invite is no longer open.
pub async fn mint_token(
    client: &impl GenericClient,
    invite: Uuid,
) -> Result<Option<(tokens::MintedToken, Invite)>, tokio_postgres::Error> {
    let token = tokens::mint();
    let updated = client
        .execute(
            "UPDATE invites SET token_sha256 = $2
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()",
            &[&invite, &token.sha256],
        )
        .await?;
    if updated == 0 {
        return Ok(None);
    }
    Ok(match check(client, &token.text, false).await? {
        InviteCheck::Valid(invite) => Some((token, invite)),
        _ => None,
    })
}

pub async fn check(
    client: &impl GenericClient,
    token: &str,
    lock: bool,
) -> Result<InviteCheck, tokio_postgres::Error> {
    let sql = format!(
        "SELECT i.id, i.organization_id, o.name, i.email, i.role, i.expires_at,
                i.expires_at <= now(), i.accepted_at IS NOT NULL, i.revoked_at IS NOT NULL, u.email
         FROM invites i JOIN organizations o ON o.id = i.organization_id
         LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.token_sha256 = $1 {}",
        if lock { "FOR UPDATE OF i" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&tokens::hash(token)]).await? else {
        return Ok(InviteCheck::Unknown);
    };
    Ok(Redeemable::of(row.get(7), row.get(8), row.get(6), || {
        Invite {
            id: row.get(0),
            organization_id: row.get(1),
            organization_name: row.get(2),
            email: row.get(3),
            role: Role::parse(row.get(4)).unwrap_or(Role::Viewer),
            expires_at: row.get(5),
            invited_by: row.get(9),
        }
    }))
}

pub async fn mark_accepted(
    client: &impl GenericClient,
    invite: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE invites SET accepted_at = now() WHERE id = $1",
            &[&invite],
        )
        .await?;
    Ok(())
}

pub async fn revoke(
    client: &impl GenericClient,
    organization: Uuid,
    invite: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE invites SET revoked_at = now()
             WHERE id = $1 AND organization_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
            &[&invite, &organization],
        )
        .await?
        == 1)
}

pub async fn pending(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<PendingInvite>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, email, role, expires_at FROM invites
             WHERE organization_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
               AND expires_at > now()
             ORDER BY created_at DESC",
            &[&organization],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| PendingInvite {
            id: row.get(0),
            email: row.get(1),
            role: Role::parse(row.get(2)).unwrap_or(Role::Viewer),
            expires_at: row.get(3),
        })
        .collect())
}
