//! Organizations and their members. Changes to membership lock the organization's row first, so
//! two owners demoting each other at once cannot leave it without an owner.

use contracts::InstallationId;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{roles::Role, sign_in_policy::SignInPolicy};

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
}

/// A workspace linked to an organization, with what its admins want to know about it.
#[derive(Debug, Clone)]
pub struct LinkedInstallation {
    /// MetaFrazo's id: what the warehouse is keyed and queried by.
    pub id: InstallationId,
    pub client_key: String,
    pub source: String,
    pub base_url: String,
    pub display_name: String,
    pub state: String,
}

/// Whether a workspace's name needs its address beside it: not when there is no name (the
/// address stands in for it) nor when the name already holds it.
pub fn name_lacks_address(display_name: &str, base_url: &str) -> bool {
    let host = base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    !display_name.is_empty() && !display_name.contains(host)
}

impl LinkedInstallation {
    /// What people call the workspace: its name in Jira, else its address.
    pub fn label(&self) -> &str {
        if self.display_name.is_empty() {
            &self.base_url
        } else {
            &self.display_name
        }
    }

    /// Its name and its address, for telling workspaces apart; the address once when the name
    /// already holds it, as Connect's "Atlassian JIRA at https://…" description does.
    pub fn label_with_address(&self) -> String {
        if !name_lacks_address(&self.display_name, &self.base_url) {
            self.label().to_owned()
        } else {
            format!("{} ({})", self.display_name, self.base_url)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("an organization keeps at least one owner")]
    LastOwner,
    #[error("no such member")]
    NoSuchMember,
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

fn role_from(text: &str) -> Role {
    // The column's CHECK constraint admits only these names.
    Role::parse(text).unwrap_or(Role::Viewer)
}

pub async fn create_with_owner(
    client: &impl GenericClient,
    name: &str,
    owner: Uuid,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO organizations (id, name) VALUES ($1, $2)",
            &[&id, &name.trim()],
        )
        .await?;
    add_member(client, id, owner, Role::Owner).await?;
    Ok(id)
}

/// Adds the user, or leaves an existing member's role as it is.
pub async fn add_member(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    role: Role,
) -> Result<bool, tokio_postgres::Error> {
    let added = client
        .execute(
            "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&organization, &user, &role.as_str()],
        )
        .await?;
    Ok(added == 1)
}

pub async fn get(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Option<Organization>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, name FROM organizations WHERE id = $1",
            &[&organization],
        )
        .await?;
    Ok(row.map(|row| Organization {
        id: row.get(0),
        name: row.get(1),
    }))
}

/// The user's role in the organization; `None` for a non-member (or no such organization:
/// callers answer both the same way, so ids of other organizations reveal nothing).
pub async fn role_of(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<Role>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2",
            &[&organization, &user],
        )
        .await?;
    Ok(row.map(|row| role_from(row.get(0))))
}

/// The member's role, their membership row held until the transaction ends (`FOR SHARE` lets
/// other readers through and makes a concurrent change of the role wait): for a decision that
/// the same transaction then acts on.
pub async fn role_of_locked(
    transaction: &deadpool_postgres::Transaction<'_>,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<Role>, tokio_postgres::Error> {
    let row = transaction
        .query_opt(
            "SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2 FOR SHARE",
            &[&organization, &user],
        )
        .await?;
    Ok(row.map(|row| role_from(row.get(0))))
}

/// Every organization the user belongs to, by name.
pub async fn of_user(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<Vec<(Organization, Role)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT o.id, o.name, m.role FROM memberships m
             JOIN organizations o ON o.id = m.organization_id
             WHERE m.user_id = $1 ORDER BY o.name, o.id",
            &[&user],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                Organization {
                    id: row.get(0),
                    name: row.get(1),
                },
                role_from(row.get(2)),
            )
        })
        .collect())
}

pub async fn members(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<Member>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT u.id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = $1 ORDER BY u.email",
            &[&organization],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Member {
            user_id: row.get(0),
            email: row.get(1),
            role: role_from(row.get(2)),
        })
        .collect())
}

/// The addresses of the organization's owners: whom to ask for what only an owner may do.
pub async fn owner_emails(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(members(client, organization)
        .await?
        .into_iter()
        .filter(|member| member.role == Role::Owner)
        .map(|member| member.email)
        .collect())
}

pub async fn installations(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<LinkedInstallation>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, client_key, source, base_url, display_name, state FROM installations
             WHERE organization_id = $1 ORDER BY base_url, id",
            &[&organization],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| LinkedInstallation {
            id: row.get(0),
            client_key: row.get(1),
            source: row.get(2),
            base_url: row.get(3),
            display_name: row.get(4),
            state: row.get(5),
        })
        .collect())
}

/// Connects the workspace Atlassian calls `client_key` to the organization (and so ends a
/// release); false when no installation has that client key.
pub async fn connect_installation(
    client: &impl GenericClient,
    client_key: &str,
    organization: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE installations SET organization_id = $2, linked_at = now(), released_at = NULL
             WHERE client_key = $1",
            &[&client_key, &organization],
        )
        .await?;
    Ok(updated == 1)
}

/// Connects installation `id` to the organization, as a finished setup link does; a workspace
/// released by a deleted organization collects again.
pub async fn connect_installation_by_id(
    client: &impl GenericClient,
    id: Uuid,
    organization: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE installations SET organization_id = $2, linked_at = now(), released_at = NULL
             WHERE id = $1",
            &[&id, &organization],
        )
        .await?;
    Ok(updated == 1)
}

/// Locks the organization for a membership change; false when it does not exist.
async fn lock(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE",
            &[&organization],
        )
        .await?
        .is_some())
}

async fn owners_besides(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM memberships
             WHERE organization_id = $1 AND role = 'owner' AND user_id <> $2",
            &[&organization, &user],
        )
        .await?
        .get(0))
}

/// Changes a member's role; refuses to demote the last owner. Run inside a transaction.
pub async fn set_role(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    role: Role,
) -> Result<(), MembershipError> {
    if !lock(client, organization).await? {
        return Err(MembershipError::NoSuchMember);
    }
    if role != Role::Owner && owners_besides(client, organization, user).await? == 0 {
        let current = role_of(client, organization, user).await?;
        if current == Some(Role::Owner) {
            return Err(MembershipError::LastOwner);
        }
    }
    let updated = client
        .execute(
            "UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2",
            &[&organization, &user, &role.as_str()],
        )
        .await?;
    if updated == 0 {
        return Err(MembershipError::NoSuchMember);
    }
    Ok(())
}

/// Removes a member (or lets one leave); refuses to remove the last owner. Run inside a
/// transaction.
pub async fn remove_member(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<(), MembershipError> {
    if !lock(client, organization).await? {
        return Err(MembershipError::NoSuchMember);
    }
    let current = role_of(client, organization, user)
        .await?
        .ok_or(MembershipError::NoSuchMember)?;
    if current == Role::Owner && owners_besides(client, organization, user).await? == 0 {
        return Err(MembershipError::LastOwner);
    }
    client
        .execute(
            "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2",
            &[&organization, &user],
        )
        .await?;
    Ok(())
}

/// Deletes the organization with its members, invites, links and audit log (by cascade), and
/// answers the installations it held, whose events the caller erases. Those workspaces are
/// released: ingress refuses their events until a new setup link connects them (migration
/// 0014), as nobody is left to read what they would send.
pub async fn delete(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<InstallationId>, tokio_postgres::Error> {
    let installations = client
        .query(
            "SELECT id FROM installations WHERE organization_id = $1",
            &[&organization],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    client
        .execute(
            "UPDATE installations SET organization_id = NULL, linked_at = NULL, released_at = now()
             WHERE organization_id = $1",
            &[&organization],
        )
        .await?;
    client
        .execute("DELETE FROM organizations WHERE id = $1", &[&organization])
        .await?;
    Ok(installations)
}

/// The organization's sign-in policy (the default for no such organization).
pub async fn sign_in_policy(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<SignInPolicy, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT require_sso, allowed_domains FROM organizations WHERE id = $1",
            &[&organization],
        )
        .await?;
    Ok(row
        .map(|row| SignInPolicy {
            require_sso: row.get(0),
            allowed_domains: row.get(1),
        })
        .unwrap_or_default())
}

pub async fn set_sign_in_policy(
    client: &impl GenericClient,
    organization: Uuid,
    policy: &SignInPolicy,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE organizations SET require_sso = $2, allowed_domains = $3 WHERE id = $1",
            &[&organization, &policy.require_sso, &policy.allowed_domains],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(display_name: &str, base_url: &str) -> LinkedInstallation {
        LinkedInstallation {
            id: InstallationId::from_uuid(Uuid::nil()),
            client_key: String::new(),
            source: "connect".into(),
            base_url: base_url.into(),
            display_name: display_name.into(),
            state: "installed".into(),
        }
    }

    #[test]
    fn a_workspace_names_its_address_once() {
        let site = "https://acme.atlassian.net";
        assert_eq!(
            workspace("Atlassian JIRA at https://acme.atlassian.net", site).label_with_address(),
            "Atlassian JIRA at https://acme.atlassian.net"
        );
        assert_eq!(
            workspace("Acme", site).label_with_address(),
            "Acme (https://acme.atlassian.net)"
        );
        assert_eq!(workspace("", site).label_with_address(), site);
    }
}
