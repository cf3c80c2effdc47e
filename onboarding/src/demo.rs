//! The local stack's demo organization: an account, an organization it owns, and a workspace
//! (installed through the simulator like any other) connected to it, so a newcomer sees a
//! populated product in one step. Only `onboarding demo-organization` calls it; the real way in
//! is the setup link. Idempotent: a second run finds what the first made.

use anyhow::Context;
use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::accounts::passwords;
use accounts_store::{organizations, roles::Role, users};

pub struct DemoOrganization<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
    /// Atlassian's name for the workspace to connect, as its install recorded it.
    pub client_key: &'a str,
}

/// Makes (or finds) the account, its organization and the workspace's link; answers the
/// organization's id.
pub async fn create(pool: &Pool, demo: &DemoOrganization<'_>) -> anyhow::Result<Uuid> {
    passwords::check_policy(demo.password).context("the demo password")?;
    let mut client = pool.get().await.context("connecting to Postgres")?;
    let transaction = client.transaction().await?;
    let user = match users::by_email(&transaction, demo.email).await? {
        Some(user) => user.id,
        None => users::create(&transaction, demo.email, &passwords::hash(demo.password))
            .await?
            .context("the demo account appeared meanwhile")?,
    };
    // Made by whoever runs the stack, for an address of their choosing: nobody to mail.
    users::confirm(&transaction, user).await?;
    let existing = organizations::of_user(&transaction, user)
        .await?
        .into_iter()
        .find(|(organization, role)| organization.name == demo.name && *role == Role::Owner);
    let organization = match existing {
        Some((organization, _)) => organization.id,
        None => organizations::create_with_owner(&transaction, demo.name, user).await?,
    };
    let linked =
        organizations::connect_installation(&transaction, demo.client_key, organization).await?;
    anyhow::ensure!(
        linked,
        "no installation with client key {}: install it first",
        demo.client_key
    );
    transaction.commit().await?;
    Ok(organization)
}
