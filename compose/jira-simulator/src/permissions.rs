//! What each account may see on each site, as Jira's permission schemes and issue security levels
//! decide it: the model the bulk permission check answers from, changeable while a test runs.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use serde::{Deserialize, Serialize};

/// One site's permissions. Empty (the default) is a site where every account browses every
/// project and no issue has a security level: what a fresh Jira site with the default
/// permission scheme grants its users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePermissions {
    /// Projects only some accounts may browse: project id → those account ids. A project not
    /// listed is browsable by every account.
    #[serde(default)]
    pub projects: BTreeMap<String, BTreeSet<String>>,
    /// Issue id → the id of the security level it is under. An issue not listed has none.
    #[serde(default)]
    pub issue_levels: BTreeMap<String, String>,
    /// Security level id → its members' account ids. A level an issue is under but not listed
    /// here has no members, so nobody sees that issue.
    #[serde(default)]
    pub levels: BTreeMap<String, BTreeSet<String>>,
    /// Issue id → the id of its project. Real Jira knows every issue's project; the simulator
    /// knows only what a test said, and takes an issue not listed to be in a browsable project,
    /// so only its level decides.
    #[serde(default)]
    pub issue_projects: BTreeMap<String, String>,
}

impl SitePermissions {
    /// Only `accounts` may browse project `project_id`.
    pub fn restrict_project<A: Into<String>>(
        mut self,
        project_id: impl Into<String>,
        accounts: impl IntoIterator<Item = A>,
    ) -> Self {
        self.projects.insert(
            project_id.into(),
            accounts.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Security level `level_id` has `members`.
    pub fn level<A: Into<String>>(
        mut self,
        level_id: impl Into<String>,
        members: impl IntoIterator<Item = A>,
    ) -> Self {
        self.levels.insert(
            level_id.into(),
            members.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Issue `issue_id` is under security level `level_id`.
    pub fn secure_issue(
        mut self,
        issue_id: impl Into<String>,
        level_id: impl Into<String>,
    ) -> Self {
        self.issue_levels.insert(issue_id.into(), level_id.into());
        self
    }

    /// Issue `issue_id` is in project `project_id`.
    pub fn issue_in_project(
        mut self,
        issue_id: impl Into<String>,
        project_id: impl Into<String>,
    ) -> Self {
        self.issue_projects
            .insert(issue_id.into(), project_id.into());
        self
    }

    /// Whether `account_id` holds Browse Projects in `project_id`.
    pub fn may_browse(&self, account_id: &str, project_id: &str) -> bool {
        self.projects
            .get(project_id)
            .is_none_or(|allowed| allowed.contains(account_id))
    }

    /// Whether `account_id` may see issue `issue_id`: its project is browsable to them, and it
    /// has no security level or they are a member of its level.
    pub fn may_see_issue(&self, account_id: &str, issue_id: &str) -> bool {
        let project_browsable = self
            .issue_projects
            .get(issue_id)
            .is_none_or(|project_id| self.may_browse(account_id, project_id));
        let level_allows = self.issue_levels.get(issue_id).is_none_or(|level_id| {
            self.levels
                .get(level_id)
                .is_some_and(|members| members.contains(account_id))
        });
        project_browsable && level_allows
    }
}

/// Every site's permissions, by site base URL, and how the bulk permission check behaves.
#[derive(Debug, Default)]
pub(crate) struct PermissionStore {
    by_site: RwLock<HashMap<String, SitePermissions>>,
    /// Whether the bulk permission check answers 503, as Jira does in an incident.
    failing: AtomicBool,
    /// How many checks were answered (any status): tests learn that Jira was asked.
    answered: AtomicU32,
}

impl PermissionStore {
    /// Replaces `site_base_url`'s permissions wholesale.
    pub(crate) fn set(&self, site_base_url: &str, permissions: SitePermissions) {
        self.by_site
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(site_key(site_base_url), permissions);
    }

    /// `site_base_url`'s permissions; the default (everyone sees everything) if none were set.
    pub(crate) fn of(&self, site_base_url: &str) -> SitePermissions {
        self.by_site
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&site_key(site_base_url))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Counts a check, and answers whether it is to fail.
    pub(crate) fn check_fails(&self) -> bool {
        self.answered.fetch_add(1, Ordering::SeqCst);
        self.failing.load(Ordering::SeqCst)
    }

    pub(crate) fn answered(&self) -> u32 {
        self.answered.load(Ordering::SeqCst)
    }
}

/// A site by its base URL, whether or not the caller wrote a trailing slash.
fn site_key(site_base_url: &str) -> String {
    site_base_url.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "712020:ada";
    const BEN: &str = "712020:ben";

    #[test]
    fn an_empty_model_lets_everyone_see_everything() {
        let open = SitePermissions::default();
        assert!(open.may_browse(ADA, "10001"));
        assert!(open.may_see_issue(ADA, "10042"));
    }

    #[test]
    fn a_restricted_project_and_a_level_hide_what_they_should() {
        let model = SitePermissions::default()
            .restrict_project("10001", [ADA])
            .level("900", [BEN])
            .secure_issue("1", "900")
            .secure_issue("2", "901")
            .issue_in_project("3", "10001");
        let cases = [
            (ADA, "1", false, "ada is not in level 900"),
            (BEN, "1", true, "ben is in level 900"),
            (BEN, "2", false, "level 901 has no members"),
            (ADA, "3", true, "ada browses the restricted project"),
            (
                BEN,
                "3",
                false,
                "ben does not browse the restricted project",
            ),
            (BEN, "4", true, "an issue of no known project and no level"),
        ];
        for (account, issue, visible, why) in cases {
            assert_eq!(model.may_see_issue(account, issue), visible, "{why}");
        }
        assert!(model.may_browse(ADA, "10001"));
        assert!(!model.may_browse(BEN, "10001"));
        assert!(model.may_browse(BEN, "10002"));
    }

    #[test]
    fn a_site_is_the_same_with_or_without_a_trailing_slash() {
        let store = PermissionStore::default();
        let restricted = SitePermissions::default().restrict_project("1", [ADA]);
        store.set("https://acme.atlassian.net/", restricted.clone());
        assert_eq!(store.of("https://acme.atlassian.net"), restricted);
        assert_eq!(
            store.of("https://other.atlassian.net"),
            SitePermissions::default()
        );
    }
}
