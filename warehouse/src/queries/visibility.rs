//! Whose permissions a view follows: everything of its installations, or only what one Jira
//! account may browse (`jira-permissions` settles which, per member and request). The tests
//! every query path applies: the project test on raw rows and rollups alike, the issue test on
//! raw rows and flow facts, and [`Permitted::shows`] for the views that filter rows in Rust.

use contracts::InstallationId;

use super::scope::Scope;

/// What a view may show of its installations' rows.
#[derive(Debug, Clone, Default)]
pub enum Visibility {
    /// Every row (the organization does not follow Jira's permissions).
    #[default]
    Everything,
    /// Only what one Jira account may browse, as Jira answered for it.
    Permitted(Permitted),
}

/// What one Jira account may see, as Jira answered for it: the projects it may browse, and of
/// the issues Jira decides one by one (`issues_to_check`: under a security level, or moved
/// between projects), those it was granted. A row counts when its (installation, project) is
/// browsable and its issue is not one to check that Jira did not grant: a row without a project
/// (a user or board event) never does, and an issue marked after Jira was asked stays hidden
/// until Jira is asked again. Kept as `installation/key` texts, the form the SQL tests them in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permitted {
    projects: Vec<String>,
    /// The Jira account whose answers (`jira_grants`) the SQL reads.
    account_id: String,
    /// The issues to check when Jira was asked, and of them those Jira granted (for the views
    /// that filter rows they already read; the SQL reads the answers from `jira_grants`).
    marked: Vec<String>,
    granted: Vec<String>,
}

impl Permitted {
    /// What `account_id` may see: `projects` as (installation, project key); `marked` (the
    /// issues to check Jira was asked about) and `granted` (those of them it granted) as
    /// (installation, issue id), the latter recorded with [`super::record_grants`].
    pub fn new(
        account_id: &str,
        projects: impl IntoIterator<Item = (InstallationId, String)>,
        marked: impl IntoIterator<Item = (InstallationId, String)>,
        granted: impl IntoIterator<Item = (InstallationId, String)>,
    ) -> Self {
        let keyed = |pairs: Vec<(InstallationId, String)>| {
            let mut keys: Vec<String> = pairs
                .into_iter()
                .map(|(installation, key)| pair_key(installation, &key))
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        Self {
            projects: keyed(projects.into_iter().collect()),
            account_id: account_id.to_owned(),
            marked: keyed(marked.into_iter().collect()),
            granted: keyed(granted.into_iter().collect()),
        }
    }

    /// Whether a row of `project_key` about `issue_id` counts; for the views that filter rows
    /// they already read (sprints, time logged, one event).
    pub fn shows(&self, installation: InstallationId, project_key: &str, issue_id: &str) -> bool {
        let issue = pair_key(installation, issue_id);
        self.projects
            .binary_search(&pair_key(installation, project_key))
            .is_ok()
            && (self.marked.binary_search(&issue).is_err()
                || self.granted.binary_search(&issue).is_ok())
    }

    /// How many browsable projects, issues to check and granted ones: what a log line may say.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.projects.len(), self.marked.len(), self.granted.len())
    }
}

/// How the SQL writes an (installation, key) pair: `concat(installation_id, '/', key)`.
fn pair_key(installation: InstallationId, key: &str) -> String {
    format!("{installation}/{key}")
}

impl Visibility {
    /// Whether the view must read raw rows: the rollups keep projects, not issues, so issues to
    /// check cannot be taken out of them.
    pub(crate) fn hides_issues(&self) -> bool {
        matches!(self, Self::Permitted(permitted) if !permitted.marked.is_empty())
    }

    /// 1 when rows are tested against [`Permitted`], for the SQL's `? = 0 OR …`.
    fn enforced(&self) -> u8 {
        u8::from(matches!(self, Self::Permitted(_)))
    }

    /// The browsable projects as the SQL tests them for `installations`: bare keys when the
    /// scope has one installation (its rows need no installation in their key), else
    /// `installation/key`.
    fn projects(&self, installations: &[InstallationId]) -> Vec<String> {
        let Self::Permitted(permitted) = self else {
            return Vec::new();
        };
        match installations {
            [one] => {
                let prefix = pair_key(*one, "");
                permitted
                    .projects
                    .iter()
                    .filter_map(|key| key.strip_prefix(&prefix).map(str::to_owned))
                    .collect()
            }
            _ => permitted.projects.clone(),
        }
    }

    fn account_id(&self) -> &str {
        match self {
            Self::Everything => "",
            Self::Permitted(permitted) => &permitted.account_id,
        }
    }

    /// See [`Permitted::shows`]; everything shows when nothing is enforced.
    pub fn shows(&self, installation: InstallationId, project_key: &str, issue_id: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Permitted(permitted) => permitted.shows(installation, project_key, issue_id),
        }
    }
}

/// The visibility's project test, for any table with `installation_id` and `project_key`
/// (rollups included); a macro so [`super::scope::SCOPE_FILTER`] can `concat!` it. A row's key is its bare
/// project key when the scope has one installation, else `installation/key`: the `if` on a
/// bound constant is folded, and building the pair for every row read doubled a view's cost.
/// Bind with [`bind_visible_projects`].
macro_rules! visible_project {
    () => {
        "(? = 0 OR has(CAST(? AS Array(String)),
                       if(? = 1, project_key, concat(installation_id, '/', project_key))))"
    };
}
pub(crate) use visible_project;

/// The visibility's issue test, for tables with `installation_id` and `issue_id`: not an issue
/// to check (`issues_to_check`) unless Jira's newest answer for the account granted it
/// (`jira_grants`), both read as the query runs: an issue marked since Jira was asked is hidden
/// too, and the answers never travel in the SQL (thousands of them would pass ClickHouse's
/// query size). The newest answer by `argMax` over key columns, not FINAL: 18.16 may test a
/// FINAL query's other columns before it merges. Keys as in [`visible_project!`]. Bind with
/// [`bind_visible_issues`].
macro_rules! visible_issue {
    () => {
        "(? = 0 OR if(? = 1, issue_id, concat(installation_id, '/', issue_id)) NOT IN (
            SELECT if(? = 1, issue_id, concat(installation_id, '/', issue_id))
            FROM issues_to_check
            WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
              AND if(? = 1, issue_id, concat(installation_id, '/', issue_id)) NOT IN (
                  SELECT if(? = 1, issue_id, concat(installation_id, '/', issue_id))
                  FROM jira_grants
                  WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                    AND account_id = ?
                  GROUP BY installation_id, issue_id
                  HAVING argMax(granted, answered_at_ms) = 1)))"
    };
}
pub(crate) use visible_issue;

pub(crate) const VISIBLE_PROJECT: &str = visible_project!();
pub(crate) const VISIBLE_ISSUE: &str = visible_issue!();

pub(crate) fn bind_visible_projects(
    query: clickhouse::query::Query,
    scope: &Scope,
) -> clickhouse::query::Query {
    query
        .bind(scope.visibility.enforced())
        .bind(scope.visibility.projects(&scope.installations))
        .bind(scope.one_installation())
}

pub(crate) fn bind_visible_issues(
    query: clickhouse::query::Query,
    scope: &Scope,
) -> clickhouse::query::Query {
    let one = scope.one_installation();
    query
        .bind(scope.visibility.enforced())
        .bind(one)
        .bind(one)
        .bind(&scope.installations)
        .bind(one)
        .bind(one)
        .bind(&scope.installations)
        .bind(scope.visibility.account_id())
}
