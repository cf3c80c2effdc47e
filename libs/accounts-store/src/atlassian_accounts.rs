//! Members' own Atlassian accounts, linked per organization (migration 19): the account id
//! only, which the permission-respecting views ask Jira about. Linking checks nothing about
//! Atlassian itself; onboarding links only an account whose consent reached one of the
//! organization's workspaces, or the installing admin's own account.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// How a link came about, as stored in `linked_via`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedVia {
    /// The member consented at Atlassian.
    OAuth,
    /// The installing admin finished the setup link mailed to them.
    Setup,
}

impl LinkedVia {
    fn as_str(self) -> &'static str {
        match self {
            Self::OAuth => "oauth",
            Self::Setup => "setup",
        }
    }
}

/// Why an account could not be linked.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this Atlassian account is linked to another member of the organization")]
    TakenByAnother,
    #[error("the member has another Atlassian account linked in this organization")]
    MemberHasAnother,
    #[error("not a member of the organization")]
    NotAMember,
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// Links `account_id` to the member; answers whether it is new (linking the account already
/// linked is no change).
pub async fn link(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    account_id: &str,
    via: LinkedVia,
) -> Result<bool, LinkError> {
    let inserted = client
        .execute(
            "INSERT INTO atlassian_accounts (organization_id, user_id, account_id, linked_via)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2)
             ON CONFLICT DO NOTHING",
            &[&organization, &user, &account_id, &via.as_str()],
        )
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    let holders = client
        .query(
            "SELECT user_id, account_id FROM atlassian_accounts
             WHERE organization_id = $1 AND (user_id = $2 OR account_id = $3)",
            &[&organization, &user, &account_id],
        )
        .await?;
    let holders: Vec<(Uuid, String)> = holders
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    if holders
        .iter()
        .any(|(holder, account)| *holder == user && account == account_id)
    {
        Ok(false)
    } else if holders.iter().any(|(holder, _)| *holder != user) {
        Err(LinkError::TakenByAnother)
    } else if holders.is_empty() {
        Err(LinkError::NotAMember)
    } else {
        Err(LinkError::MemberHasAnother)
    }
}

/// Unlinks the member's account; answers whether one was linked.
pub async fn unlink(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "DELETE FROM atlassian_accounts WHERE organization_id = $1 AND user_id = $2
             RETURNING account_id",
            &[&organization, &user],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// A site of an organization that an Atlassian account can be matched against: a cloud
/// workspace, installed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudSite {
    pub cloud_id: String,
    pub base_url: String,
}

/// The organization's installed cloud workspaces (Data Center webhook connections have no
/// cloud id, and cannot be matched).
pub async fn cloud_sites(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<Vec<CloudSite>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT cloud_id, base_url FROM installations
             WHERE organization_id = $1 AND state = 'installed' AND cloud_id IS NOT NULL
             ORDER BY base_url",
            &[&organization],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| CloudSite {
            cloud_id: row.get(0),
            base_url: row.get(1),
        })
        .collect())
}

/// One of a user's organizations, with its cloud sites and the user's link there.
#[derive(Debug, Clone)]
pub struct MemberLink {
    pub organization: Uuid,
    pub organization_name: String,
    pub sites: Vec<String>,
    pub linked: Option<Linked>,
}

#[derive(Debug, Clone)]
pub struct Linked {
    pub account_id: String,
    pub via: String,
    pub at: SystemTime,
}

/// Every organization the user belongs to, by name, with its link.
pub async fn of_user(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<Vec<MemberLink>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT o.id, o.name, a.account_id, a.linked_via, a.linked_at,
                    coalesce((SELECT array_agg(i.base_url ORDER BY i.base_url) FROM installations i
                              WHERE i.organization_id = o.id AND i.state = 'installed'
                                AND i.cloud_id IS NOT NULL), '{}')
             FROM memberships m
             JOIN organizations o ON o.id = m.organization_id
             LEFT JOIN atlassian_accounts a
               ON a.organization_id = m.organization_id AND a.user_id = m.user_id
             WHERE m.user_id = $1
             ORDER BY o.name, o.id",
            &[&user],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| MemberLink {
            organization: row.get(0),
            organization_name: row.get(1),
            linked: row.get::<_, Option<String>>(2).map(|account_id| Linked {
                account_id,
                via: row.get(3),
                at: row.get(4),
            }),
            sites: row.get(5),
        })
        .collect())
}

/// The member's linked account in the organization, if any.
pub async fn of_member(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT account_id FROM atlassian_accounts WHERE organization_id = $1 AND user_id = $2",
            &[&organization, &user],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// The account id of the admin who installed the app in `installation`, as the install gave it
/// (Connect's install JWT `sub`, Forge's `installerAccountId`).
pub async fn installer_of(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT installer_account_id FROM installations WHERE id = $1",
            &[&installation],
        )
        .await?;
    Ok(row.and_then(|row| row.get(0)))
}

/// How many members of the organization have no Atlassian account linked there: those who see
/// only a request to link one while the organization shows members only what Jira lets them.
pub async fn unlinked_members(
    client: &impl GenericClient,
    organization: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM memberships m
             WHERE m.organization_id = $1
               AND NOT EXISTS (SELECT 1 FROM atlassian_accounts a
                               WHERE a.organization_id = m.organization_id
                                 AND a.user_id = m.user_id)",
            &[&organization],
        )
        .await?
        .get(0))
}
