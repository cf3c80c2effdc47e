//! A member's visibility: everything while their organization does not follow Jira's
//! permissions; else what Jira answers for their linked account, kept for a short time and
//! only while no project appeared and no issue was marked to check since. A member with no linked
//! account sees nothing; when Jira cannot be asked and the kept answer is older than the time
//! it may be kept, nothing either (fail closed: never everything).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use accounts_store::{atlassian_accounts, installations, jira_permissions};
use contracts::{InstallationId, Source};
use deadpool_postgres::Pool;
use secrecy::{ExposeSecret, SecretString};
use service_runtime::secret_cipher::SecretCipher;
use url::Url;
use uuid::Uuid;
use warehouse::queries::{
    CandidateCounts, PermissionCandidates, Permitted, Visibility, candidate_counts,
    permission_candidates, record_grants,
};

use crate::{
    bulk_check::{BulkCheck, CheckError, Credentials, Granted},
    metrics::{Settled, VisibilityMetrics},
};

/// Members kept at most; past it, answers older than their time go first, then all.
const KEPT_MEMBERS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum VisibilityError {
    /// The organization follows Jira's permissions and the member has linked no account there.
    #[error("the member has not linked a Jira account in this organization")]
    NotLinked,
    /// Jira could not be asked and no answer young enough is kept.
    #[error("Jira cannot be asked what the member may see: {0}")]
    JiraUnavailable(String),
    #[error("the warehouse cannot list what to ask Jira about: {0}")]
    Warehouse(#[from] warehouse::queries::QueryError),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

struct Kept {
    account_id: String,
    installations: Vec<InstallationId>,
    /// How many projects and issues to check there were when Jira was asked.
    counts: CandidateCounts,
    asked_at: Instant,
    permitted: Permitted,
}

pub struct Resolver {
    postgres: Pool,
    warehouse: clickhouse::Client,
    check: BulkCheck,
    cipher: SecretCipher,
    ttl: Duration,
    kept: Mutex<HashMap<(Uuid, Uuid), Kept>>,
    metrics: VisibilityMetrics,
}

impl Resolver {
    pub fn new(
        postgres: Pool,
        warehouse: clickhouse::Client,
        check: BulkCheck,
        cipher: SecretCipher,
        ttl: Duration,
        metrics: VisibilityMetrics,
    ) -> Self {
        Self {
            postgres,
            warehouse,
            check,
            cipher,
            ttl,
            kept: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// What `user` may see of `installations` (their organization's) in `organization`.
    pub async fn visibility(
        &self,
        organization: Uuid,
        user: Uuid,
        installations: &[InstallationId],
    ) -> Result<Visibility, VisibilityError> {
        let settled = self.settle(organization, user, installations).await;
        match &settled {
            Ok((_, how)) => self.metrics.record(*how),
            Err(VisibilityError::NotLinked) => self.metrics.record(Settled::NotLinked),
            Err(VisibilityError::JiraUnavailable(_)) => {
                self.metrics.record(Settled::JiraUnavailable)
            }
            Err(_) => {}
        }
        settled.map(|(visibility, _)| visibility)
    }

    async fn settle(
        &self,
        organization: Uuid,
        user: Uuid,
        installations: &[InstallationId],
    ) -> Result<(Visibility, Settled), VisibilityError> {
        let client = self.postgres.get().await?;
        if !jira_permissions::jira_permissions_enforced(&client, organization).await? {
            return Ok((Visibility::Everything, Settled::Everything));
        }
        let account_id = atlassian_accounts::of_member(&client, organization, user)
            .await?
            .ok_or(VisibilityError::NotLinked)?;
        let counts = if installations.is_empty() {
            CandidateCounts {
                projects: 0,
                issues: 0,
            }
        } else {
            candidate_counts(&self.warehouse, installations).await?
        };
        let asked = Asked {
            account_id,
            installations: installations.to_vec(),
            counts,
        };
        if let Some(permitted) = self.fresh(organization, user, &asked) {
            return Ok((Visibility::Permitted(permitted), Settled::Kept));
        }
        let mut credentials = Vec::new();
        for installation in installations {
            credentials.push((
                *installation,
                self.credentials(&client, *installation).await?,
            ));
        }
        drop(client);
        let permitted = self
            .ask(&asked.account_id, installations, &credentials)
            .await?;
        self.keep(organization, user, asked, &permitted);
        Ok((Visibility::Permitted(permitted), Settled::Asked))
    }

    /// The kept answer for the member, if it was asked as now (account, installations, projects
    /// and issues to check) and is younger than the time it may be kept.
    fn fresh(&self, organization: Uuid, user: Uuid, asked: &Asked) -> Option<Permitted> {
        let kept = self.kept.lock().expect("the kept answers' lock");
        kept.get(&(organization, user))
            .filter(|kept| {
                kept.account_id == asked.account_id
                    && kept.installations == asked.installations
                    && kept.counts == asked.counts
                    && kept.asked_at.elapsed() < self.ttl
            })
            .map(|kept| kept.permitted.clone())
    }

    fn keep(&self, organization: Uuid, user: Uuid, asked: Asked, permitted: &Permitted) {
        let mut kept = self.kept.lock().expect("the kept answers' lock");
        if kept.len() >= KEPT_MEMBERS {
            kept.retain(|_, kept| kept.asked_at.elapsed() < self.ttl);
            if kept.len() >= KEPT_MEMBERS {
                kept.clear();
            }
        }
        kept.insert(
            (organization, user),
            Kept {
                account_id: asked.account_id,
                installations: asked.installations,
                counts: asked.counts,
                asked_at: Instant::now(),
                permitted: permitted.clone(),
            },
        );
    }

    /// How to ask the installation's Jira; `None` for one we hold no app credentials for (a
    /// Data Center webhook connection, or one whose credentials are gone): nothing of it shows.
    async fn credentials(
        &self,
        client: &deadpool_postgres::Client,
        installation: InstallationId,
    ) -> Result<Option<Credentials>, VisibilityError> {
        let Some(stored) = installations::app_credentials(client, *installation.as_uuid()).await?
        else {
            return Ok(None);
        };
        let decrypt = |encrypted: Option<&Vec<u8>>| {
            encrypted.and_then(|encrypted| self.cipher.decrypt(encrypted).ok())
        };
        Ok(match stored.source {
            Source::Connect => {
                let base_url = Url::parse(&stored.base_url).ok();
                let secret = decrypt(stored.encrypted_secret.as_ref());
                base_url
                    .zip(secret)
                    .map(|(base_url, shared_secret)| Credentials::Connect {
                        base_url,
                        shared_secret,
                    })
            }
            Source::Forge => {
                let api_base_url = stored
                    .api_base_url
                    .as_deref()
                    .and_then(|url| Url::parse(url).ok());
                let token = decrypt(stored.encrypted_system_token.as_ref())
                    .and_then(|token| String::from_utf8(token.expose_secret().to_vec()).ok());
                api_base_url
                    .zip(token)
                    .map(|(api_base_url, token)| Credentials::Forge {
                        api_base_url,
                        system_token: SecretString::from(token),
                    })
            }
            Source::WebhookSecret => None,
        })
    }

    /// Asks each installation's Jira about the projects and issues the warehouse holds of it.
    async fn ask(
        &self,
        account_id: &str,
        installations: &[InstallationId],
        credentials: &[(InstallationId, Option<Credentials>)],
    ) -> Result<Permitted, VisibilityError> {
        if installations.is_empty() {
            return Ok(Permitted::new(account_id, [], [], []));
        }
        let candidates = permission_candidates(&self.warehouse, installations).await?;
        let mut projects = Vec::new();
        let mut marked = Vec::new();
        let mut granted_issues = Vec::new();
        for (installation, credentials) in credentials {
            let asked = Candidates::of(&candidates, *installation);
            marked.extend(
                asked
                    .issues
                    .iter()
                    .map(|(_, id)| (*installation, id.clone())),
            );
            let Some(credentials) = credentials else {
                continue;
            };
            let granted = self
                .check
                .browse(
                    credentials,
                    account_id,
                    &asked.project_ids(),
                    &asked.issue_ids(),
                )
                .await
                .map_err(unavailable)?;
            // The views read the answers about issues from the warehouse, not from their SQL.
            let answers: Vec<(String, bool)> = asked
                .issues
                .iter()
                .map(|(id, text)| (text.clone(), granted.issues.contains(id)))
                .collect();
            record_grants(
                &self.warehouse,
                *installation,
                account_id,
                &answers,
                now_ms(),
            )
            .await?;
            projects.extend(asked.granted_keys(&granted).map(|key| (*installation, key)));
            granted_issues.extend(asked.granted_issues(&granted).map(|id| (*installation, id)));
        }
        Ok(Permitted::new(account_id, projects, marked, granted_issues))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn unavailable(err: CheckError) -> VisibilityError {
    tracing::warn!(error = %err, "Jira's permission check failed: the member sees nothing until it answers");
    VisibilityError::JiraUnavailable(err.to_string())
}

/// Who a kept answer was asked for, and about how many projects and issues.
struct Asked {
    account_id: String,
    installations: Vec<InstallationId>,
    counts: CandidateCounts,
}

/// One installation's candidates, by Jira's numeric ids (anything else cannot be asked about,
/// and so is never shown).
struct Candidates {
    /// Project id → the keys it was seen under.
    projects: BTreeMap<i64, Vec<String>>,
    issues: Vec<(i64, String)>,
}

impl Candidates {
    fn of(candidates: &PermissionCandidates, installation: InstallationId) -> Self {
        let mut projects: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for seen in candidates
            .projects
            .iter()
            .filter(|seen| seen.installation_id == installation)
        {
            if let Ok(id) = seen.project_id.parse() {
                projects
                    .entry(id)
                    .or_default()
                    .push(seen.project_key.clone());
            }
        }
        let issues = candidates
            .issues
            .iter()
            .filter(|issue| issue.installation_id == installation)
            .filter_map(|issue| Some((issue.issue_id.parse().ok()?, issue.issue_id.clone())))
            .collect();
        Self { projects, issues }
    }

    fn project_ids(&self) -> Vec<i64> {
        self.projects.keys().copied().collect()
    }

    fn issue_ids(&self) -> Vec<i64> {
        self.issues.iter().map(|(id, _)| *id).collect()
    }

    /// Every key of every granted project. A key two projects shared over time (one renamed,
    /// another given its old key) is shown only when both are granted: fail closed.
    fn granted_keys<'a>(&'a self, granted: &'a Granted) -> impl Iterator<Item = String> + 'a {
        let denied: Vec<&String> = self
            .projects
            .iter()
            .filter(|(id, _)| !granted.projects.contains(id))
            .flat_map(|(_, keys)| keys)
            .collect();
        self.projects
            .iter()
            .filter(|(id, _)| granted.projects.contains(id))
            .flat_map(|(_, keys)| keys)
            .filter(move |key| !denied.contains(key))
            .cloned()
    }

    fn granted_issues<'a>(&'a self, granted: &'a Granted) -> impl Iterator<Item = String> + 'a {
        self.issues
            .iter()
            .filter(|(id, _)| granted.issues.contains(id))
            .map(|(_, text)| text.clone())
    }
}

#[cfg(test)]
mod tests {
    use warehouse::queries::{IssueToAsk, ProjectSeen};

    use super::*;

    fn installation() -> InstallationId {
        InstallationId::from_uuid(Uuid::from_u128(7))
    }

    fn project(id: &str, key: &str) -> ProjectSeen {
        ProjectSeen {
            installation_id: installation(),
            project_id: id.to_owned(),
            project_key: key.to_owned(),
        }
    }

    #[test]
    fn granted_projects_show_under_every_key_and_only_granted_issues_are_kept() {
        let other = InstallationId::from_uuid(Uuid::from_u128(8));
        let candidates = PermissionCandidates {
            projects: vec![
                project("10001", "SEC"),
                project("10001", "SECURITY"),
                project("10002", "OPS"),
                project("10003", "WEB"),
                // Renamed away from OPS? A key a denied project also had stays hidden.
                project("10003", "OLD"),
                project("10002", "OLD"),
                project("not-a-number", "ODD"),
                ProjectSeen {
                    installation_id: other,
                    ..project("10009", "ELSE")
                },
            ],
            issues: vec![
                IssueToAsk {
                    installation_id: installation(),
                    issue_id: "20001".to_owned(),
                },
                IssueToAsk {
                    installation_id: installation(),
                    issue_id: "20002".to_owned(),
                },
            ],
        };
        let asked = Candidates::of(&candidates, installation());
        assert_eq!(asked.project_ids(), vec![10001, 10002, 10003]);
        assert_eq!(asked.issue_ids(), vec![20001, 20002]);
        let granted = Granted {
            projects: [10001, 10003].into(),
            issues: [20002].into(),
        };
        let mut keys: Vec<String> = asked.granted_keys(&granted).collect();
        keys.sort();
        assert_eq!(keys, ["SEC", "SECURITY", "WEB"]);
        assert_eq!(
            asked.granted_issues(&granted).collect::<Vec<_>>(),
            ["20002"]
        );
    }
}
