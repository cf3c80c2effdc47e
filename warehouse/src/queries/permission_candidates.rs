//! What to ask Jira about before showing a member only what their account may browse: every
//! project the installations' events name (`projects_seen`: by id, with each key it was seen
//! under), and the issues whose own answer may differ from their project's (`issues_to_check`).
//! Both small tables are filled as events are stored (migration 16). And what Jira answered
//! about those issues, per account (`jira_grants`), which the views read.

use clickhouse::{Client, Row};
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::scope::QueryError;

#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct ProjectSeen {
    pub installation_id: InstallationId,
    pub project_id: String,
    pub project_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct IssueToAsk {
    pub installation_id: InstallationId,
    pub issue_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionCandidates {
    pub projects: Vec<ProjectSeen>,
    pub issues: Vec<IssueToAsk>,
}

pub async fn permission_candidates(
    client: &Client,
    installations: &[InstallationId],
) -> Result<PermissionCandidates, QueryError> {
    if installations.is_empty() {
        return Err(QueryError::NoInstallations);
    }
    let projects = client
        .query(
            "SELECT DISTINCT installation_id, project_id, project_key FROM projects_seen
             WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
             ORDER BY installation_id, project_id, project_key",
        )
        .bind(installations)
        .fetch_all::<ProjectSeen>()
        .await?;
    let issues = client
        .query(
            "SELECT DISTINCT installation_id, issue_id FROM issues_to_check
             WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
             ORDER BY installation_id, issue_id",
        )
        .bind(installations)
        .fetch_all::<IssueToAsk>()
        .await?;
    Ok(PermissionCandidates { projects, issues })
}

/// How many projects (by id and key) and issues to check the installations have: a member's
/// kept answer is for those known when Jira was asked, so a change here means asking again (a
/// new project shows, a newly secured or moved issue is settled, at once rather than after the
/// answer's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct CandidateCounts {
    pub projects: u64,
    pub issues: u64,
}

pub async fn candidate_counts(
    client: &Client,
    installations: &[InstallationId],
) -> Result<CandidateCounts, QueryError> {
    Ok(client
        .query(
            "SELECT
                 (SELECT toUInt64(uniqExact(installation_id, project_id, project_key))
                  FROM projects_seen
                  WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))),
                 (SELECT toUInt64(uniqExact(installation_id, issue_id)) FROM issues_to_check
                  WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String)))))",
        )
        .bind(installations)
        .bind(installations)
        .fetch_one()
        .await?)
}

/// One answer of Jira about an issue to check, for one account.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
struct GrantRow {
    installation_id: InstallationId,
    account_id: String,
    issue_id: String,
    granted: u8,
    answered_at_ms: i64,
}

#[derive(Row, Deserialize)]
struct CurrentGrant {
    issue_id: String,
    granted: u8,
}

/// Records Jira's answer for `account_id` about the installation's issues to check (`answers`:
/// issue id, granted), writing only the answers that changed; answers how many were written.
/// Views read the newest answer of each issue.
pub async fn record_grants(
    client: &Client,
    installation: InstallationId,
    account_id: &str,
    answers: &[(String, bool)],
    answered_at_ms: i64,
) -> Result<usize, QueryError> {
    let current: std::collections::HashMap<String, u8> = client
        .query(
            "SELECT issue_id, argMax(granted, answered_at_ms) AS granted FROM jira_grants
             WHERE installation_id = ? AND account_id = ?
             GROUP BY issue_id",
        )
        .bind(installation.to_string())
        .bind(account_id)
        .fetch_all::<CurrentGrant>()
        .await?
        .into_iter()
        .map(|grant| (grant.issue_id, grant.granted))
        .collect();
    let changed: Vec<GrantRow> = answers
        .iter()
        .filter(|(issue, granted)| current.get(issue) != Some(&u8::from(*granted)))
        .map(|(issue, granted)| GrantRow {
            installation_id: installation,
            account_id: account_id.to_owned(),
            issue_id: issue.clone(),
            granted: u8::from(*granted),
            answered_at_ms,
        })
        .collect();
    if changed.is_empty() {
        return Ok(0);
    }
    let mut insert = client.insert::<GrantRow>("jira_grants").await?;
    for row in &changed {
        insert.write(row).await?;
    }
    insert.end().await?;
    Ok(changed.len())
}
