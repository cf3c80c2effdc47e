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

/// Whether an invitation still stands on its inviter's rights: it lapses once the inviter
/// could no longer give that role (demoted, removed, left, or their account deleted), so an
/// invitation never grants more than its sender holds now.
fn inviter_may_grant(inviter_role: Option<Role>, role: Role) -> bool {
    inviter_role.is_some_and(|inviter| inviter.can_manage(role))
}

/// The inviter's role now. With `lock`, their membership row is held until the transaction ends,
/// so a demotion racing an acceptance waits for it rather than slipping in between.
async fn inviter_role(
    client: &impl GenericClient,
    organization: Uuid,
    inviter: Option<Uuid>,
    lock: bool,
) -> Result<Option<Role>, tokio_postgres::Error> {
    let Some(inviter) = inviter else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2 {}",
        if lock { "FOR SHARE" } else { "" }
    );
    let row = client.query_opt(&sql, &[&organization, &inviter]).await?;
    Ok(row.and_then(|row| Role::parse(row.get(0))))
}

/// What the token is. An invitation whose inviter can no longer give its role answers as
/// revoked; see `inviter_may_grant`.
pub async fn check(
    client: &impl GenericClient,
    token: &str,
    lock: bool,
) -> Result<InviteCheck, tokio_postgres::Error> {
    let sql = format!(
        "SELECT i.id, i.organization_id, o.name, i.email, i.role, i.expires_at,
                i.expires_at <= now(), i.accepted_at IS NOT NULL, i.revoked_at IS NOT NULL, u.email,
                i.invited_by
         FROM invites i JOIN organizations o ON o.id = i.organization_id
         LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.token_sha256 = $1 {}",
        if lock { "FOR UPDATE OF i" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&tokens::hash(token)]).await? else {
        return Ok(InviteCheck::Unknown);
    };
    let organization_id: Uuid = row.get(1);
    let role = Role::parse(row.get(4)).unwrap_or(Role::Viewer);
    let inviter = inviter_role(client, organization_id, row.get(10), lock).await?;
    let revoked = row.get::<_, bool>(8) || !inviter_may_grant(inviter, role);
    Ok(Redeemable::of(row.get(7), revoked, row.get(6), || Invite {
        id: row.get(0),
        organization_id,
        organization_name: row.get(2),
        email: row.get(3),
        role,
        expires_at: row.get(5),
        invited_by: row.get(9),
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
            "SELECT i.id, i.email, i.role, i.expires_at, m.role FROM invites i
             LEFT JOIN memberships m
                    ON m.organization_id = i.organization_id AND m.user_id = i.invited_by
             WHERE i.organization_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL
               AND i.expires_at > now()
             ORDER BY i.created_at DESC",
            &[&organization],
        )
        .await?;
    // The list shows what `check` would accept: a lapsed invitation is not pending.
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let role = Role::parse(row.get(2)).unwrap_or(Role::Viewer);
            let inviter = row.get::<_, Option<&str>>(4).and_then(Role::parse);
            inviter_may_grant(inviter, role).then(|| PendingInvite {
                id: row.get(0),
                email: row.get(1),
                role,
                expires_at: row.get(3),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_stands_only_while_its_inviter_could_still_give_its_role() {
        assert!(inviter_may_grant(Some(Role::Owner), Role::Owner));
        assert!(inviter_may_grant(Some(Role::Admin), Role::Admin));
        assert!(!inviter_may_grant(Some(Role::Admin), Role::Owner));
        assert!(!inviter_may_grant(Some(Role::Analyst), Role::Viewer));
        assert!(!inviter_may_grant(None, Role::Viewer), "no longer a member");
    }
}
