//! The Connect installations the key server knows, so it can check the JWTs apps sign when they
//! call Jira's REST API: those this process installed, then those in the installations file.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU32, Ordering},
    },
};

use crate::{connect::ConnectInstallation, installations_file::InstallationsFile};

#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_client_key: RwLock<HashMap<String, ConnectInstallation>>,
    /// Forge installations this process made, by the app system token it handed the app.
    forge_by_token: RwLock<HashMap<String, ForgeUser>>,
    /// How many more Forge lookups answer 401, as Jira does while a fresh install's permissions
    /// propagate.
    forge_refusals: AtomicU32,
    /// Users of Forge installations, by the user token Forge hands the app with their calls.
    forge_user_tokens: RwLock<HashMap<String, ForgeUiUser>>,
    file: Option<PathBuf>,
}

/// A Jira user calling the app's admin page: the permissions endpoint answers for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeUiUser {
    pub(crate) installation_id: String,
    pub(crate) account_id: String,
    pub(crate) jira_admin: bool,
}

/// The installer of a Forge installation, as the user-email endpoint answers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForgeUser {
    pub(crate) installation_id: String,
    pub(crate) account_id: String,
    pub(crate) email: String,
}

impl Registry {
    pub(crate) fn new(file: Option<PathBuf>) -> Self {
        Self {
            by_client_key: RwLock::default(),
            forge_by_token: RwLock::default(),
            forge_refusals: AtomicU32::new(0),
            forge_user_tokens: RwLock::default(),
            file,
        }
    }

    pub(crate) fn upsert(&self, installation: &ConnectInstallation) {
        self.by_client_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(installation.client_key.clone(), installation.clone());
    }

    pub(crate) fn remove(&self, client_key: &str) {
        self.by_client_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_key);
    }

    pub(crate) fn upsert_forge(&self, system_token: &str, user: ForgeUser) {
        self.forge_by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(system_token.to_owned(), user);
    }

    pub(crate) fn remove_forge(&self, system_token: &str) {
        self.forge_by_token
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(system_token);
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

    /// Whom a Forge app system token was handed for.
    pub(crate) fn forge_user(&self, system_token: &str) -> Option<ForgeUser> {
        self.forge_by_token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(system_token)
            .cloned()
    }

    pub(crate) fn upsert_forge_user_token(&self, user_token: &str, user: ForgeUiUser) {
        self.forge_user_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user_token.to_owned(), user);
    }

    /// Whom a Forge user token was handed for.
    pub(crate) fn forge_ui_user(&self, user_token: &str) -> Option<ForgeUiUser> {
        self.forge_user_tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_token)
            .cloned()
    }

    /// The installation a Jira user installed: how the email endpoint, which serves every
    /// simulated site on one address, tells the sites apart (real Jira goes by the host name).
    pub(crate) fn installed_by(&self, account_id: &str) -> Option<ConnectInstallation> {
        self.find(|installation| installation.installer_account_id == account_id)
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
            let path = self.file.as_ref()?;
            match InstallationsFile::read(path) {
                Ok(file) => file.installations.into_iter().find(|installation| wanted(installation)),
                Err(err) => {
                    tracing::debug!(error = %err, "no installations file to look the installation up in");
                    None
                }
            }
        })
    }
}
