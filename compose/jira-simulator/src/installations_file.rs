//! The JSON file `install` writes and `stream`, `uninstall` and `serve` read: the Connect and Forge
//! installations made against the local stack, with what a third tool needs to sign as Jira or
//! Forge, and what a restarted `serve` needs to answer the app's calls for them.

use std::{fs, path::Path};

use serde::{Deserialize, Serialize};

use crate::{
    connect::ConnectInstallation,
    error::{Result, SimulatorError},
    forge::ForgeInstall,
};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationsFile {
    /// The kid the installs were signed with.
    #[serde(default)]
    pub kid: String,
    /// Where its public key is served, for tools that verify install tokens themselves.
    #[serde(default)]
    pub install_keys_url: String,
    /// The same key as Forge's JWKS, which verifies the FITs of the Forge installations.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub forge_jwks_url: String,
    /// The Forge app's ARI: the `aud` of its FITs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub forge_app_id: String,
    /// The Connect installations (the name predates Forge; tools read it as is).
    #[serde(default)]
    pub installations: Vec<ConnectInstallation>,
    /// The Forge installations, with the app system token and the installer's user token the
    /// simulator handed out: `serve` answers the email and permissions lookups made with them.
    #[serde(default)]
    pub forge_installations: Vec<ForgeInstall>,
}

impl InstallationsFile {
    /// How many installations, of both kinds.
    pub fn len(&self) -> usize {
        self.installations.len() + self.forge_installations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text =
            fs::read_to_string(path).map_err(|source| SimulatorError::ReadInstallations {
                path: path.to_owned(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|source| SimulatorError::ParseInstallations {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the file whole (parent folders created), replacing it in one rename so a reader
    /// never sees half of it.
    pub fn write(&self, path: &Path) -> Result<()> {
        let write_err = |source| SimulatorError::WriteInstallations {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(write_err)?;
        }
        let mut text = serde_json::to_string_pretty(self).map_err(|err| write_err(err.into()))?;
        text.push('\n');
        let staging = path.with_extension(format!("json.{}.tmp", std::process::id()));
        fs::write(&staging, text).map_err(write_err)?;
        fs::rename(&staging, path).map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::ForgeInstallation;

    #[test]
    fn a_file_written_before_forge_still_reads() {
        let file: InstallationsFile =
            serde_json::from_str(r#"{"kid": "k", "install_keys_url": "u", "installations": []}"#)
                .expect("an older file parses");
        assert!(file.forge_installations.is_empty());
        assert!(file.is_empty());
    }

    #[test]
    fn forge_installs_are_written_flat_and_read_back() {
        let install = ForgeInstall {
            installation: ForgeInstallation {
                installation_id: "ari:cloud:ecosystem::installation/i".into(),
                cloud_id: "c".into(),
                site_url: "https://forge-x.atlassian.net".into(),
                api_base_url: "https://api.atlassian.com/ex/jira/c".into(),
            },
            installer_account_id: "712020:a".into(),
            installer_email: "admin.forge-x@example.test".into(),
            system_token: "forge-system-s".into(),
            installer_user_token: "forge-user-u".into(),
        };
        let file = InstallationsFile {
            forge_installations: vec![install],
            ..InstallationsFile::default()
        };
        let json = serde_json::to_value(&file).expect("serializes");
        // Flat: a tool finds every field of an installation at its top level.
        assert_eq!(json["forge_installations"][0]["cloud_id"], "c");
        assert_eq!(
            json["forge_installations"][0]["system_token"],
            "forge-system-s"
        );
        let back: InstallationsFile = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, file);
        assert_eq!(back.len(), 1);
    }
}
