//! The audit log: who did what, read by an organization's owners and admins.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// Who acted: a signed-in user, or Atlassian / the system (`None`).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: Uuid,
    pub email: &'a str,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at: SystemTime,
    pub actor_email: Option<String>,
    pub action: String,
    pub detail: String,
}

pub async fn record(
    client: &impl GenericClient,
    organization: Option<Uuid>,
    actor: Option<Actor<'_>>,
    action: &str,
    detail: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit_log (organization_id, actor_user_id, actor_email, action, detail)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &organization,
                &actor.map(|actor| actor.user_id),
                &actor.map(|actor| actor.email),
                &action,
                &detail,
            ],
        )
        .await?;
    Ok(())
}

/// What a user did to their own account (signed in, reset a password, linked a provider): it
/// belongs to no organization, and shows in the log of each one the user is a member of.
pub async fn record_for_account(
    client: &impl GenericClient,
    user_id: Uuid,
    email: &str,
    action: &str,
    detail: &str,
) -> Result<(), tokio_postgres::Error> {
    record(client, None, Some(Actor { user_id, email }), action, detail).await
}

/// The organization's own entries and the sign-ins of its current members, newest first.
pub async fn of_organization(
    client: &impl GenericClient,
    organization: Uuid,
    limit: i64,
) -> Result<Vec<Entry>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT at, actor_email, action, detail FROM audit_log
             WHERE organization_id = $1
                OR (organization_id IS NULL AND actor_user_id IN
                    (SELECT user_id FROM memberships WHERE organization_id = $1))
             ORDER BY at DESC, id DESC LIMIT $2",
            &[&organization, &limit],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Entry {
            at: row.get(0),
            actor_email: row.get(1),
            action: row.get(2),
            detail: row.get(3),
        })
        .collect())
}
