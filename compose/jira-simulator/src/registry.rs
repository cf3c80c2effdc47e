//! The Connect installations the key server knows, so it can check the JWTs apps sign when they
//! call Jira's REST API: those this process installed, then those in the installations file.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{PoisonError, RwLock},
};

use crate::{connect::ConnectInstallation, installations_file::InstallationsFile};

#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_client_key: RwLock<HashMap<String, ConnectInstallation>>,
    file: Option<PathBuf>,
}

impl Registry {
    pub(crate) fn new(file: Option<PathBuf>) -> Self {
        Self {
            by_client_key: RwLock::default(),
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

    /// Memory first, then the file, read afresh: `install` runs in another process and may have
    /// rewritten it since.
    pub(crate) fn get(&self, client_key: &str) -> Option<ConnectInstallation> {
        let known = self
            .by_client_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(client_key)
            .cloned();
        known.or_else(|| {
            let path = self.file.as_ref()?;
            match InstallationsFile::read(path) {
                Ok(file) => file.installations.into_iter().find(|installation| installation.client_key == client_key),
                Err(err) => {
                    tracing::debug!(error = %err, "no installations file to look the client key up in");
                    None
                }
            }
        })
    }
}
