//! An organization's "Members see only what their Jira account can see" setting (migration 20):
//! its owners turn it on on the organization page; the dashboards read it on every request.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// Whether the organization limits each member's views to what their linked Atlassian account
/// may browse. One lookup by primary key, as the dashboards ask on every page and API call.
/// False for no such organization, as for one that never turned it on: callers have already
/// refused non-members, and no organization has members.
pub async fn jira_permissions_enforced(
    client: &impl GenericClient,
    organization_id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT jira_permissions_enforced FROM organizations WHERE id = $1",
            &[&organization_id],
        )
        .await?;
    Ok(row.is_some_and(|row| row.get(0)))
}

/// Turns the setting on or off; answers whether that changed it (false when it already was,
/// or there is no such organization), so a repeated form leaves no audit entry.
pub async fn set_jira_permissions_enforced(
    client: &impl GenericClient,
    organization_id: Uuid,
    enforced: bool,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE organizations SET jira_permissions_enforced = $2
             WHERE id = $1 AND jira_permissions_enforced <> $2",
            &[&organization_id, &enforced],
        )
        .await?;
    Ok(updated == 1)
}
