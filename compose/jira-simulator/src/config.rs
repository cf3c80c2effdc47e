//! What a simulator starts from: where its key server listens, which key it signs with, where it
//! finds installations made by another process, and which Forge app it pretends to host.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Where the key server listens. Port 0 (the default) picks a free port, as tests want; the
    /// CLI's `serve` uses 127.0.0.1:8090.
    pub addr: SocketAddr,
    /// The RSA key as a PEM file, created on first use, so a restarted simulator (and the CLI's
    /// `install`, next to a running `serve`) signs with the same key and kid. `None`: a fresh
    /// key in memory.
    pub key_file: Option<PathBuf>,
    /// Installations written by the CLI's `install`; the user-email endpoint reads it for client
    /// keys this process did not install itself.
    pub installations_file: Option<PathBuf>,
    /// A running `serve` (its base URL) this simulator announces the installations it makes to
    /// before calling the app, so that `serve` answers the app's lookups of their installers:
    /// for a simulator in another process than the `serve` the app calls.
    pub announce_to: Option<url::Url>,
    pub forge: ForgeAppConfig,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            key_file: None,
            installations_file: None,
            announce_to: None,
            forge: ForgeAppConfig::default(),
        }
    }
}

/// The Forge app whose invocations the simulator signs. Defaults are the ids of the shared
/// fixture `forge/fit_claims.json`, so a service configured from the fixtures accepts our FITs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeAppConfig {
    /// The app ARI: FIT `aud` and `app.id`.
    pub app_ari: String,
    /// The environment ARI: `app.environment.id`.
    pub environment_ari: String,
    pub environment_type: String,
    pub app_version: String,
    /// The `core:endpoint` module the events trigger: `app.module.key`.
    pub module_key: String,
}

impl Default for ForgeAppConfig {
    fn default() -> Self {
        Self {
            app_ari: "ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a".into(),
            environment_ari:
                "ari:cloud:ecosystem::environment/406d303d-0393-4ec4-ad7c-1435be94583a/\
                              23863033-1de4-4ebf-b30d-c906264a1e92"
                    .into(),
            environment_type: "PRODUCTION".into(),
            app_version: "1.0.0".into(),
            module_key: "jira-events".into(),
        }
    }
}
