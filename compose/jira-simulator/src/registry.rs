//! The installations the key server knows, so it can check what apps send when they call Jira's
//! REST API (a Connect JWT, a Forge token): those this process installed, then those in the
//! installations file, which another process (the CLI's `install`) writes.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use crate::{
    announce::Announcement, connect::ConnectInstallation, forge::ForgeInstall,
    installations_file::InstallationsFile, oauth::Site,
};

#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_client_key: RwLock<HashMap<String, ConnectInstallation>>,
    /// Connect installations uninstalled since: Jira still knows the site and the app's key, so
    /// it answers "not installed" (404) to the app asking about itself there.
    uninstalled: RwLock<HashMap<String, ConnectInstallation>>,
    /// Forge installations this process made, by the app system token it handed the app.
    forge_by_token: RwLock<HashMap<String, ForgeUser>>,
    /// How many more Forge lookups answer 401, as Jira does while a fresh install's permissions
    /// propagate.
    forge_refusals: AtomicU32,
    /// Users of Forge installations, by the user token Forge hands the app with their calls.
    forge_user_tokens: RwLock<HashMap<String, ForgeUiUser>>,
    /// Whether Jira answers the app's "am I installed?" calls with 503, as Jira does in an
    /// incident.
    installation_checks_failing: AtomicBool,
    /// How many of those calls were answered (any status): tests learn that Jira was asked.
    installation_checks: AtomicU32,
    /// Accounts Jira no longer knows (deleted since they installed the app): looking one up
    /// answers 404, as Jira does.
    deleted_users: RwLock<std::collections::HashSet<String>>,
    file: Option<PathBuf>,
}

/// A Jira user calling the app's admin page: the permissions endpoint answers for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeUiUser {
    pub(crate) installation_id: String,
    pub(crate) account_id: String,
    pub(crate) jira_admin: bool,
}

impl ForgeUiUser {
    /// The installer at the admin page: installing an app takes a Jira administrator.
    pub(crate) fn installer_of(install: &ForgeInstall) -> Self {
        Self {
            installation_id: install.installation.installation_id.clone(),
            account_id: install.installer_account_id.clone(),
            jira_admin: true,
        }
    }
}

/// The installer of a Forge installation, as the user-email endpoint answers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeUser {
    pub(crate) installation_id: String,
    pub(crate) account_id: String,
    pub(crate) email: String,
    /// The site the app is installed on: the OAuth consent page offers it.
    pub(crate) site: Site,
}

impl ForgeUser {
    pub(crate) fn installer_of(install: &ForgeInstall) -> Self {
        Self {
            installation_id: install.installation.installation_id.clone(),
            account_id: install.installer_account_id.clone(),
            email: install.installer_email.clone(),
            site: forge_site(install),
        }
    }
}

fn forge_site(install: &ForgeInstall) -> Site {
    Site {
        cloud_id: install.installation.cloud_id.clone(),
        url: install.installation.site_url.clone(),
    }
}

fn connect_site(installation: &ConnectInstallation) -> Site {
    Site {
        cloud_id: installation.cloud_id.clone(),
        url: installation.site_base_url.clone(),
    }
}

impl Registry {
    pub(crate) fn new(file: Option<PathBuf>) -> Self {
        Self {
            by_client_key: RwLock::default(),
            uninstalled: RwLock::default(),
            forge_by_token: RwLock::default(),
            forge_refusals: AtomicU32::new(0),
            forge_user_tokens: RwLock::default(),
            installation_checks_failing: AtomicBool::new(false),
            installation_checks: AtomicU32::new(0),
            deleted_users: RwLock::default(),
            file,
        }
    }

    /// What another process announced it installed: from now on known as if installed here.
    pub(crate) fn remember(&self, announcement: &Announcement) {
        match announcement {
            Announcement::Connect(installation) => self.upsert(installation),
            Announcement::Forge(install) => {
                self.upsert_forge(&install.system_token, ForgeUser::installer_of(install));
                self.upsert_forge_user_token(
                    &install.installer_user_token,
                    ForgeUiUser::installer_of(install),
                );
            }
        }
    }

    /// What another process announced it uninstalled: its tokens stop working.
    pub(crate) fn forget(&self, announcement: &Announcement) {
        match announcement {
            Announcement::Connect(installation) => self.remove(&installation.client_key),
            Announcement::Forge(install) => self.remove_forge(install),
        }
    }

    pub(crate) fn upsert(&self, installation: &ConnectInstallation) {
        self.uninstalled
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&installation.client_key);
        self.by_client_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(installation.client_key.clone(), installation.clone());
    }

    /// Jira no longer has the app on this site: its JWTs stop being answered as installed.
    pub(crate) fn remove(&self, client_key: &str) {
        let removed = self
            .by_client_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_key);
        if let Some(installation) = removed {
            self.uninstalled
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(installation.client_key.clone(), installation);
        }
    }

    /// The Connect installation whose shared secret `verifies`, and whether it is still
    /// installed. Jira goes by the site's host name; the simulator serves every site on one
    /// address and the app's JWT names only the app, so the secret that signed it tells the
    /// sites apart. Memory first, then the file (read afresh), so call it off the async workers.
    pub(crate) fn connect_signed(
        &self,
        verifies: impl Fn(&ConnectInstallation) -> bool,
    ) -> Option<(ConnectInstallation, bool)> {
        if let Some(installed) = self.find(&verifies) {
            return Some((installed, true));
        }
        self.uninstalled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|installation| verifies(installation))
            .cloned()
            .map(|gone| (gone, false))
    }

    pub(crate) fn fail_installation_checks(&self, failing: bool) {
        self.installation_checks_failing
            .store(failing, Ordering::SeqCst);
    }

    /// Counts an installation check, and answers whether it is to fail.
    pub(crate) fn installation_check_fails(&self) -> bool {
        self.installation_checks.fetch_add(1, Ordering::SeqCst);
        self.installation_checks_failing.load(Ordering::SeqCst)
    }

    pub(crate) fn installation_checks(&self) -> u32 {
        self.installation_checks.load(Ordering::SeqCst)
    }

    pub(crate) fn upsert_forge(&self, system_token: &str, user: ForgeUser) {
        self.forge_by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(system_token.to_owned(), user);
    }

    pub(crate) fn forget_forge_system_token(&self, system_token: &str) {
        self.forge_by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(system_token);
    }

    /// Forgets the tokens handed out with `install`: Jira revokes them at uninstall.
    pub(crate) fn remove_forge(&self, install: &ForgeInstall) {
        self.forge_by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&install.system_token);
        self.forge_user_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&install.installer_user_token);
    }

    pub(crate) fn refuse_forge_lookups(&self, times: u32) {
        self.forge_refusals.store(times, Ordering::SeqCst);
    }

    /// Whether this lookup is one of those still refused (and counts it).
    pub(crate) fn forge_lookup_refused(&self) -> bool {
        self.forge_refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// Whom a Forge app system token was handed for: memory first, then the file. May read the
    /// file, so call it off the async workers.
    pub(crate) fn forge_user(&self, system_token: &str) -> Option<ForgeUser> {
        let known = self
            .forge_by_token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(system_token)
            .cloned();
        known.or_else(|| {
            self.forge_install_in_file(|install| install.system_token == system_token)
                .map(|install| ForgeUser::installer_of(&install))
        })
    }

    pub(crate) fn upsert_forge_user_token(&self, user_token: &str, user: ForgeUiUser) {
        self.forge_user_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user_token.to_owned(), user);
    }

    /// Whom a Forge user token was handed for: memory first, then the installers of the file's
    /// Forge installations. May read the file, so call it off the async workers.
    pub(crate) fn forge_ui_user(&self, user_token: &str) -> Option<ForgeUiUser> {
        let known = self
            .forge_user_tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_token)
            .cloned();
        known.or_else(|| {
            self.forge_install_in_file(|install| install.installer_user_token == user_token)
                .map(|install| ForgeUiUser::installer_of(&install))
        })
    }

    /// The installation a Jira user installed: how the email endpoint, which serves every
    /// simulated site on one address, tells the sites apart (real Jira goes by the host name).
    pub(crate) fn installed_by(&self, account_id: &str) -> Option<ConnectInstallation> {
        if self.user_deleted(account_id) {
            return None;
        }
        self.find(|installation| installation.installer_account_id == account_id)
    }

    /// Whether Jira deleted `account_id`: it answers as for an account it never had.
    pub(crate) fn user_deleted(&self, account_id: &str) -> bool {
        self.deleted_users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(account_id)
    }

    pub(crate) fn delete_user(&self, account_id: &str) {
        self.deleted_users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account_id.to_owned());
    }

    /// The sites the app is installed on now, Connect or Forge, here or in the file (read
    /// afresh, so call it off the async workers): the sites a member linking their Atlassian
    /// account can grant. Ordered by URL, so the consent page lists them the same way each time.
    pub(crate) fn sites(&self) -> Vec<Site> {
        let mut sites: Vec<Site> = self
            .by_client_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(connect_site)
            .collect();
        sites.extend(
            self.forge_by_token
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .map(|user| user.site.clone()),
        );
        if let Some(file) = self.read_file() {
            sites.extend(file.installations.iter().map(connect_site));
            sites.extend(file.forge_installations.iter().map(forge_site));
        }
        sites.sort_by(|a, b| (&a.url, &a.cloud_id).cmp(&(&b.url, &b.cloud_id)));
        // An installation both here and in the file is one site.
        let mut seen = std::collections::HashSet::new();
        sites.retain(|site| seen.insert(site.cloud_id.clone()));
        sites
    }

    /// Memory first, then the file, read afresh: `install` runs in another process and may have
    /// rewritten it since.
    fn find(&self, wanted: impl Fn(&ConnectInstallation) -> bool) -> Option<ConnectInstallation> {
        let known = self
            .by_client_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .find(|installation| wanted(installation))
            .cloned();
        known.or_else(|| {
            self.read_file()?
                .installations
                .into_iter()
                .find(|installation| wanted(installation))
        })
    }

    fn forge_install_in_file(
        &self,
        wanted: impl Fn(&ForgeInstall) -> bool,
    ) -> Option<ForgeInstall> {
        self.read_file()?
            .forge_installations
            .into_iter()
            .find(|install| wanted(install))
    }

    /// The file as it is now: `install` and `uninstall` run in other processes and rewrite it
    /// (in one rename, so it is never read half-written).
    fn read_file(&self) -> Option<InstallationsFile> {
        let path = self.file.as_ref()?;
        match InstallationsFile::read(path) {
            Ok(file) => Some(file),
            Err(err) => {
                tracing::debug!(error = %err, "no installations file to look the installation up in");
                None
            }
        }
    }
}
