//! Plays Atlassian against our services: serves the Connect install keys and the Forge JWKS,
//! installs the app with signed lifecycle callbacks, and delivers Connect, Forge and admin
//! webhooks signed as Jira signs them, with Jira's retries.
//!
//! It is the independent peer our verification is tested against, so it shares no code with the
//! ingress or onboarding: a misreading of Atlassian's spec copied into both sides would let both
//! agree and both be wrong.

mod admin_webhook;
mod announce;
pub mod cli;
mod commands;
mod config;
mod connect;
mod delivery;
mod error;
pub mod events;
mod forge;
#[cfg(feature = "in-process")]
pub mod in_process;
mod installations_file;
mod issue_security;
mod keys;
pub mod lifecycle;
mod oauth;
mod permissions;
pub mod qsh;
mod registry;
mod server;
mod simulator;
mod target;
mod time;

pub use admin_webhook::{SIGNATURE_HEADER, admin_webhook_signature};
pub use announce::{announce_failing_permission_checks, announce_permissions};
pub use config::{ForgeAppConfig, SimulatorConfig};
pub use connect::{ConnectInstallation, DEFAULT_WEBHOOK_PATH, WorkspaceSpec, sign_connect_token};
pub use delivery::{
    Attempt, AttemptResult, Delivery, DeliveryOptions, IDENTIFIER_HEADER, Outcome, RETRY_HEADER,
    is_retryable,
};
pub use error::{Result, SimulatorError};
pub use events::EventFixtures;
pub use forge::{
    AdminPageUser, FORGE_EVENTS_PATH, FORGE_LIFECYCLE_PATH, ForgeInstall, ForgeInstallation,
    INSTALLED_EVENT, LifecycleAnswer, SYSTEM_TOKEN_HEADER, UNINSTALLED_EVENT, UPGRADED_EVENT,
    USER_TOKEN_HEADER, UiAnswer,
};
pub use installations_file::InstallationsFile;
pub use issue_security::SecuredIssues;
pub use keys::{Jwk, KeyError, SigningKey};
pub use permissions::SitePermissions;
pub use qsh::connect_qsh;
pub use simulator::Simulator;
pub use target::Target;
